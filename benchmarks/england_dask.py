"""`planning england` on Dask: the speed-up from 1 to 2 workers, and the full England run.

    .venv/bin/python benchmarks/england_dask.py subset [--time-limit S]  # 20 councils, 1, 2 workers
    .venv/bin/python benchmarks/england_dask.py full --out DIR           # all 153, 2 workers

``subset`` runs the same 20 councils (the largest 10 by areas and the 10 around the median) from
scenarios/england.yaml on a LocalCluster of 1 worker, then of 2, each into a fresh folder, and
prints each wall time and the speed-up; ``--time-limit`` shortens every council's allocation
stage (the speed-up measures the distribution, not the plans). ``full`` runs every council and
prints the wall time, councils per minute, and each worker's peak memory (from the records).
Run it alone on the machine: every figure is wall-clock.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import dask
import numpy
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from planning.data import resolve_data_dir  # noqa: E402
from planning.england import run_england  # noqa: E402
from planning.england.councils import upper_tier_councils  # noqa: E402
from planning.england.national import write_national  # noqa: E402
from planning.solve import solver_versions  # noqa: E402

TEMPLATE = ROOT / "scenarios" / "england.yaml"


def versions() -> str:
    """Python, the planner's solvers and Dask, as one line."""
    found = {"python": platform.python_version(), **solver_versions()}
    found |= {"numpy": numpy.__version__, "dask": dask.__version__}
    return ", ".join(f"{k} {v}" for k, v in found.items())


def subset_codes() -> list[str]:
    """The largest 10 councils by areas and the 10 around the median."""
    every = sorted(upper_tier_councils(), key=lambda c: (-c.areas, c.code))
    mid = len(every) // 2
    return [c.code for c in every[:10] + every[mid - 5 : mid + 5]]


def template_with(time_limit: float | None, folder: Path) -> Path:
    if time_limit is None:
        return TEMPLATE
    raw = yaml.safe_load(TEMPLATE.read_text())
    raw.setdefault("solver", {})["time_limit_seconds"] = time_limit
    path = folder / "england_benchmark.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def timed_run(template: Path, out: Path, codes: list[str] | None, workers: int):
    start = time.monotonic()
    run = run_england(template, out, codes, workers=workers)
    write_national(run, resolve_data_dir(None))
    return run, time.monotonic() - start


def worker_peaks(run) -> dict[int, float]:
    peaks: dict[int, float] = defaultdict(float)
    for record in run.records.values():
        if "worker_pid" in record:
            peaks[record["worker_pid"]] = max(peaks[record["worker_pid"]], record["peak_mb"])
    return dict(peaks)


def report(label: str, run, wall: float) -> None:
    done = [r for r in run.records.values() if r.get("status") == "done"]
    gaps = sorted(r["row"]["gap"] for r in done)
    within = sum(g <= 0.01 + 1e-12 for g in gaps)
    peaks = worker_peaks(run)
    print(
        f"{label}: {len(run.records)} councils ({len(done)} done, "
        f"{len(run.records) - len(done)} failed) in {wall:.1f} s wall on {run.workers} workers; "
        f"{60 * len(run.records) / wall:.1f} councils/min; gap <= 1% in {within}, "
        f"<= 2% in {sum(g <= 0.02 + 1e-12 for g in gaps)}, "
        f"worst {100 * max(gaps, default=0):.2f}%; "
        f"median task {sorted(r['seconds'] for r in done)[len(done) // 2] if done else 0:.1f} s; "
        f"worker peak memory (MB): {', '.join(f'{v:.0f}' for v in sorted(peaks.values()))}"
    )
    for r in run.records.values():
        if r.get("status") != "done":
            print(f"  failed {r['code']} {r['name']}: {r.get('message', '')[:200]}")


def markdown(run, wall: float) -> str:
    """docs/england.md: the summary and one row per council."""
    import pandas as pd

    rows = []
    for c in run.councils:
        r = run.records[c.code]
        row = r.get("row", {})
        rows.append(
            {
                "code": c.code,
                "council": c.name,
                "areas": c.areas,
                "nesting": row.get("nesting", ""),
                "teams": row.get("teams", ""),
                "status": row.get("status", r["status"]),
                "gap": f"{100 * row['gap']:.2f}%" if "gap" in row else "",
                "gap at plan counts": (
                    f"{100 * row['gap_at_plan_counts']:.2f}%"
                    if row.get("gap_at_plan_counts") is not None
                    else ""
                ),
                "allocation s": row.get("allocation_seconds", ""),
                "task s": r.get("seconds", ""),
                "peak MB": r.get("peak_mb", ""),
            }
        )
    table = pd.DataFrame(rows)
    done = [r["row"] for r in run.records.values() if r.get("status") == "done"]
    gaps = pd.Series([d["gap"] for d in done])
    own = pd.Series([d.get("gap_at_plan_counts") for d in done], dtype=float).dropna()
    secs = pd.Series([d["allocation_seconds"] for d in done])
    lines = [
        "# England: every upper-tier council, `planning england scenarios/england.yaml`",
        "",
        f"Written by `benchmarks/england_dask.py full --write docs/england.md` on "
        f"{os.cpu_count()} cores, {run.workers} Dask workers (one core each, so each council's "
        "allocation runs on one process), run alone.",
        "",
        f"- versions: {versions()}",
        f"- councils: {len(run.records)}; with a checked plan: {len(done)}; failed: "
        f"{len(run.records) - len(done)}",
        f"- proven within 1%: {int((gaps <= 0.01 + 1e-12).sum())}; within 2%: "
        f"{int((gaps <= 0.02 + 1e-12).sum())}; within 5%: {int((gaps <= 0.05 + 1e-12).sum())}; "
        f"worst {100 * gaps.max():.2f}%; median {100 * gaps.median():.2f}%",
        f"- at each plan's own team counts (the gap left once the other counts are set aside): "
        f"within 1%: {int((own <= 0.01 + 1e-12).sum())}; within 2%: "
        f"{int((own <= 0.02 + 1e-12).sum())}; worst {100 * own.max():.2f}%",
        f"- allocation seconds: median {secs.median():.1f}, 90th percentile "
        f"{secs.quantile(0.9):.1f}, max {secs.max():.1f}",
        f"- whole run: {wall / 60:.1f} min wall, {60 * len(run.records) / wall:.1f} councils/min",
        "",
        "| " + " | ".join(table.columns) + " |",
        "| " + " | ".join("---" for _ in table.columns) + " |",
        *("| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)),
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=["subset", "full"])
    parser.add_argument("--time-limit", type=float, help="seconds per council's allocation")
    parser.add_argument("--out", type=Path, help="full: the national output folder")
    parser.add_argument("--write", type=Path, help="full: write the Markdown report here")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        template = template_with(args.time_limit, folder)
        if args.mode == "subset":
            codes = subset_codes()
            print(f"subset: {' '.join(codes)}; time limit {args.time_limit or 'template'}")
            walls = {}
            for workers in (1, 2):
                run, walls[workers] = timed_run(template, folder / f"w{workers}", codes, workers)
                report(f"{workers} worker(s)", run, walls[workers])
            print(f"speed-up 1 -> 2 workers: {walls[1] / walls[2]:.2f}x")
        else:
            out = args.out or folder / "england"
            run, wall = timed_run(template, out, None, 2)
            report("England", run, wall)
            if args.write:
                args.write.write_text(markdown(run, wall), encoding="utf-8")
                print(f"wrote {args.write}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
