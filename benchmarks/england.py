"""Every upper-tier council in England with `planning init` defaults: the allocation engine's test.

For each of the 153 upper-tier councils in the data's district-to-county lookup it writes the
default scenario (`planning init`: 30,000-50,000 residents, count free, district nesting for
two-tier counties, 60 s, 1% gap), runs the allocation stage in a fresh process (areas, geography,
allocation and the independent plan check), and prints areas, teams, status, gap, seconds and
peak memory; then totals and the distribution of gaps. Councils run one at a time, each with the
scenario's two solver processes. Run it alone: it takes most of an hour.

    .venv/bin/python benchmarks/england.py                     # all 153, table to stdout
    .venv/bin/python benchmarks/england.py --write docs/england-allocation.md
    .venv/bin/python benchmarks/england.py --councils E09000017 E08000025
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def upper_tier_councils(data_dir: Path | None) -> list[tuple[str, str, int]]:
    """(code, name, LSOA count) of every English upper-tier council, by code."""
    from planning.england.councils import upper_tier_councils as councils

    return [(c.code, c.name, c.areas) for c in councils(data_dir)]


def run_one(code: str, folder: Path, data_dir: Path | None) -> dict:
    """Worker: write the starter scenario, then allocate; one JSON line on stdout."""
    import logging

    from planning.allocate import allocate_teams
    from planning.config import load_scenario
    from planning.data import load_areas
    from planning.errors import PlanningError
    from planning.geography import build_geography
    from planning.starter import starter_scenario

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    path = folder / f"{code}.yaml"
    row: dict = {"code": code}
    try:
        starter = starter_scenario([code], data_dir)
        path.write_text(starter.text, encoding="utf-8")
        scenario = load_scenario(path)
        area_data = load_areas(scenario.councils, data_dir)
        geo = build_geography(area_data.areas, scenario.geography)
        start = time.monotonic()
        plan = allocate_teams(area_data.areas, geo, scenario.teams, scenario.solver)
        row.update(
            areas=len(area_data.areas),
            nesting=starter.nesting,
            teams=len(plan.teams),
            status=plan.status,
            gap=plan.gap,
            gap_at_plan_counts=plan.count_gap,
            holders=len(plan.bound_holders),
            objective=plan.objective,
            bound=plan.bound,
            seconds=round(time.monotonic() - start, 2),
            below_band=len(plan.below_band_teams),
            groups=len(plan.blocks),
        )
    except PlanningError as exc:
        row.update(status=f"error (exit {exc.exit_code})", message=str(exc)[:400])
    return row


def measure(code: str, folder: Path, data_dir: Path | None) -> dict:
    """Run one council in a child process; its row plus wall seconds and peak memory."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--one", code, "--folder", str(folder)]
    if data_dir is not None:
        cmd += ["--data-dir", str(data_dir)]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - start
    lines = [line for line in out.splitlines() if line.startswith("{")]
    row = json.loads(lines[-1]) if lines else {"code": code, "status": f"crash ({status})"}
    row["wall_seconds"] = round(wall, 1)
    row["peak_mb"] = round(usage.ru_maxrss / 1024)
    return row


def versions() -> dict[str, str]:
    import numpy

    from planning.solve import solver_versions

    return {"python": platform.python_version(), **solver_versions(), "numpy": numpy.__version__}


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}"


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(rows: list[dict], wall: float) -> list[str]:
    done = [r for r in rows if "gap" in r]
    gaps = [r["gap"] for r in done]
    secs = [r["seconds"] for r in done]
    within = sum(g <= 0.01 + 1e-12 for g in gaps)
    at_counts = [r["gap_at_plan_counts"] for r in done if r.get("gap_at_plan_counts") is not None]
    held = sum(r.get("holders", 0) > 0 for r in done)
    lines = [
        f"councils: {len(rows)}; with a checked plan: {len(done)}; "
        f"without: {len(rows) - len(done)}",
        f"proven within 1%: {within} ({100 * within / max(1, len(rows)):.1f}%); within 2%: "
        f"{sum(g <= 0.02 + 1e-12 for g in gaps)}; worst gap {100 * max(gaps, default=0):.2f}%",
        "gap distribution: "
        + ", ".join(
            f"{label} {sum(lo <= 100 * g < hi for g in gaps)}"
            for label, lo, hi in (
                ("<0.5%", 0, 0.5),
                ("0.5-1%", 0.5, 1.0000001),
                ("1-2%", 1.0000001, 2.0000001),
                ("2-5%", 2.0000001, 5),
                (">=5%", 5, 1e9),
            )
        ),
        "at each plan's own team counts (the other counts' bounds aside): within 1%: "
        f"{sum(c <= 0.01 + 1e-12 for c in at_counts)}; within 2%: "
        f"{sum(c <= 0.02 + 1e-12 for c in at_counts)}; "
        f"worst {100 * max(at_counts, default=0):.2f}%; councils whose overall bound is held "
        f"by another count: {held}",
        f"allocation seconds: median {quantile(secs, 0.5):.1f}, 90th percentile "
        f"{quantile(secs, 0.9):.1f}, max {max(secs, default=0):.1f}; "
        f"below-band teams: {sum(r.get('below_band', 0) for r in done)}",
        f"peak memory: median {quantile([r['peak_mb'] for r in rows], 0.5):.0f} MB, max "
        f"{max((r['peak_mb'] for r in rows), default=0)} MB; whole run {wall / 60:.1f} min",
    ]
    return lines


def table(rows: list[dict], names: dict[str, str]) -> list[str]:
    out = [
        "| code | council | areas | nesting | teams | status | gap | gap at plan counts | seconds "
        "| wall s | peak MB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        gap = f"{100 * r['gap']:.2f}%" if "gap" in r else ""
        at = r.get("gap_at_plan_counts")
        at_counts = "" if at is None else f"{100 * at:.2f}%"
        out.append(
            f"| {r['code']} | {names.get(r['code'], '')} | {r.get('areas', '')} | "
            f"{r.get('nesting', '')} | {r.get('teams', '')} | {r['status']} | {gap} | "
            f"{at_counts} | "
            f"{r.get('seconds', '')} | {r['wall_seconds']} | {r['peak_mb']} |"
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--councils", nargs="*", help="only these upper-tier codes")
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--write", type=Path, help="write the Markdown report here")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.folder, args.data_dir)))
        return 0
    councils = upper_tier_councils(args.data_dir)
    if args.councils:
        councils = [c for c in councils if c[0] in set(args.councils)]
    names = {c: n for c, n, _ in councils}
    rows = []
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        for k, (code, name, n) in enumerate(councils, 1):
            row = measure(code, Path(folder), args.data_dir)
            rows.append(row)
            gap = f"{100 * row['gap']:.2f}%" if "gap" in row else "-"
            print(
                f"[{k}/{len(councils)}] {code} {name}: {row.get('areas', n)} areas, "
                f"{row.get('teams', '-')} teams, {row['status']}, gap {gap}, "
                f"{row.get('seconds', '-')} s (wall {row['wall_seconds']} s, "
                f"{row['peak_mb']} MB)" + (f" {row['message']}" if "message" in row else ""),
                flush=True,
            )
    wall = time.monotonic() - start
    lines = summary(rows, wall)
    print("\n".join(lines))
    if args.write:
        text = [
            "# England: every upper-tier council with `planning init` defaults",
            "",
            f"Generated by `benchmarks/england.py --write {args.write}`, run alone.",
            "",
            f"- machine: {machine()}",
            f"- versions: {', '.join(f'{k} {v}' for k, v in versions().items())}",
            f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
            "- settings: 30,000-50,000 residents, team count free, district nesting for two-tier "
            "counties (districts that cannot meet the band alone grouped with a neighbour), none "
            "for unitary councils, 60 s, 1% gap, 2 solver processes; councils below the band on "
            "their own planned as one team below the band (`undersized: one_team`).",
            "- seconds: the allocation stage; wall: the whole child process (reading data, "
            "geography, allocation, plan check); peak MB: the child's maximum resident memory.",
            "",
            "## Summary",
            "",
            *[f"- {line}" for line in lines],
            "",
            "## Every council",
            "",
            *table(rows, names),
            "",
        ]
        args.write.write_text("\n".join(text), encoding="utf-8")
        print(f"wrote {args.write}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
