"""Allocation benchmark: each Hampshire scenario run end to end by the command line, alone.

Prints areas, teams, objective, bound, gap, the allocation's solve seconds, the whole run's wall
seconds and peak memory (largest process). Run it on an otherwise idle machine:

    .venv/bin/python benchmarks/allocate.py [scenario.yaml ...]
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT = ["scenarios/hampshire.yaml", "scenarios/hampshire_children_band.yaml"]


def run(scenario: str) -> dict:
    out = Path(tempfile.mkdtemp(prefix="bench-")) / "out"
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "planning", "run", scenario, "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    wall = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if proc.returncode != 0:
        return {"scenario": scenario, "error": proc.stderr.strip().splitlines()[-1:]}
    manifest = json.loads((out / "manifest.json").read_text())
    return {
        "scenario": scenario,
        "areas": manifest["areas"],
        "teams": manifest["teams"],
        "status": manifest["status"],
        "objective": manifest["objective"],
        "bound": manifest["bound"],
        "gap_pct": 100 * manifest["gap"],
        "solve_s": manifest["seconds"],
        "wall_s": wall,
        "peak_mb": peak_mb,
    }


def main() -> None:
    scenarios = sys.argv[1:] or DEFAULT
    print(
        f"{'scenario':42} {'areas':>5} {'teams':>5} {'status':>10} {'objective':>12} "
        f"{'bound':>12} {'gap%':>6} {'solve s':>8} {'wall s':>7} {'peak MB':>8}"
    )
    for scenario in scenarios:
        row = run(scenario)
        if "error" in row:
            print(f"{scenario:42} failed: {row['error']}")
            continue
        print(
            f"{row['scenario']:42} {row['areas']:5d} {row['teams']:5d} {row['status']:>10} "
            f"{row['objective']:12,.0f} {row['bound']:12,.0f} {row['gap_pct']:6.2f} "
            f"{row['solve_s']:8.1f} {row['wall_s']:7.1f} {row['peak_mb']:8.0f}"
        )


if __name__ == "__main__":
    main()
