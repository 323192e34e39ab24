"""Write the sample (data/sample/) from the national data in the data directory.

Usage: .venv/bin/python scripts/make_sample.py [--from DIR] [--to DIR]
(defaults: PLANNING_DATA_DIR, else ../shared/data; and data/sample/ in the repository).
Every file of the sample is plain text and committed (gzipped tables without their gzip, the
boundaries as base64 WKB in a CSV); tests/test_sample.py re-derives the sample and checks it
against data/sample/.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from planning.data import SAMPLE_DIR, planner_files, shared_data_dir
from planning.sample import write_sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    default = Path(os.environ.get("PLANNING_DATA_DIR") or shared_data_dir())
    parser.add_argument("--from", dest="source", type=Path, default=default)
    parser.add_argument("--to", dest="dest", type=Path, default=SAMPLE_DIR)
    args = parser.parse_args()
    missing = [rel for rel in planner_files() if not (args.source / rel).is_file()]
    if missing:
        print(
            f"make_sample: no national data in {args.source} (missing {', '.join(missing[:3])}"
            f"{' ...' if len(missing) > 3 else ''}); the sample is not written. Give --from DIR "
            "or run `planning data fetch` first.",
            file=sys.stderr,
        )
        sys.exit(2)
    for path in write_sample(args.source, args.dest):
        print(f"{path.stat().st_size:>9,} {path.relative_to(args.dest)}")


if __name__ == "__main__":
    main()
