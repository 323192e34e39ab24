"""Allocation benchmark: each Hampshire scenario run end to end by the command line, alone.

Prints areas, the model's nodes (areas, or wards with building_block: ward), teams, objective,
bound, gap, the allocation's solve seconds, the whole run's wall seconds, peak memory (largest
process) and the largest over the smallest team in case-holding FTE. Run it on an otherwise idle
machine:

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
DEFAULT = [
    "scenarios/hampshire.yaml",
    "scenarios/hampshire_children_band.yaml",
    "scenarios/hampshire_balanced.yaml",
    "scenarios/hampshire_wards.yaml",
]


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
        "nodes": manifest.get("model_nodes") or manifest["areas"],
        "fte_ratio": manifest["team_fte_spread"]["case_holding_fte"]["ratio"],
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
        f"{'scenario':42} {'areas':>5} {'nodes':>5} {'teams':>5} {'status':>10} "
        f"{'objective':>12} {'bound':>12} {'gap%':>6} {'solve s':>8} {'wall s':>7} "
        f"{'peak MB':>8} {'FTE max/min':>11}"
    )
    for scenario in scenarios:
        row = run(scenario)
        if "error" in row:
            print(f"{scenario:42} failed: {row['error']}")
            continue
        print(
            f"{row['scenario']:42} {row['areas']:5d} {row['nodes']:5d} {row['teams']:5d} "
            f"{row['status']:>10} {row['objective']:12,.0f} {row['bound']:12,.0f} "
            f"{row['gap_pct']:6.2f} {row['solve_s']:8.1f} {row['wall_s']:7.1f} "
            f"{row['peak_mb']:8.0f} {row['fte_ratio']:11.2f}"
        )


if __name__ == "__main__":
    main()
