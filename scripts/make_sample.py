"""Write the embedded sample (data/sample/) from the full national data.

Usage: .venv/bin/python scripts/make_sample.py [--from DIR] [--to DIR]
(defaults: ../shared/data, and data/sample/ in the repository). tests/test_sample.py re-derives
the sample and checks it against the committed copy.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from planning.data import SAMPLE_DIR, shared_data_dir
from planning.sample import write_sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--from", dest="source", type=Path, default=shared_data_dir())
    parser.add_argument("--to", dest="dest", type=Path, default=SAMPLE_DIR)
    args = parser.parse_args()
    for path in write_sample(args.source, args.dest):
        print(f"{path.stat().st_size:>9,} {path.relative_to(args.dest)}")


if __name__ == "__main__":
    main()
