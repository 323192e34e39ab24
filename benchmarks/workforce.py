"""Budget-programme solve times: Hampshire's 34 teams and a synthetic 150-team instance.

Run from the repository root:  .venv/bin/python benchmarks/workforce.py [--plan areas.csv]

Hampshire's teams are the real 34-team plan when ``--plan`` names a run's areas.csv (default
``out/hampshire/areas.csv``, written by ``bash scripts/setup.sh --run``); without one, a stand-in:
each district's areas, sorted by code, cut into runs of about equal residents.
The synthetic instance has 150 teams of 20 areas with seeded random children and deprivation.
Each instance is solved at 95%, 85% and 70% of its full plan's cost with default settings.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from planning.config import CostSettings, SolverSettings, WorkforceSettings
from planning.costing import budget_curve, cost_plan, fit_to_budget
from planning.data import load_areas, resolve_data_dir
from planning.workforce import Rates, published_rates, size_workforce

SHARES = (0.95, 0.85, 0.70)


def stand_in_teams(areas: pd.DataFrame, total: int) -> pd.Series:
    """Teams per district in proportion to residents (largest remainders), each district's areas
    cut by sorted code into runs of about equal residents."""
    by_district = areas.groupby("district_code")["residents"].sum().sort_index()
    quota = by_district / by_district.sum() * total
    counts = np.maximum(1, np.floor(quota).astype(int))
    for code in (quota - np.floor(quota)).sort_values(ascending=False).index:
        if counts.sum() >= total:
            break
        counts[code] += 1
    teams = {}
    for code, group in areas.sort_values("area_code").groupby("district_code"):
        cumulative = group["residents"].cumsum() / group["residents"].sum()
        k = np.minimum((cumulative.to_numpy() * counts[code] - 1e-9).astype(int), counts[code] - 1)
        teams.update({a: f"{code}-{j + 1:02d}" for a, j in zip(group["area_code"], k, strict=True)})
    return pd.Series(teams).sort_index()


def synthetic(teams: int = 150, areas_per_team: int = 20, seed: int = 0):
    rng = np.random.default_rng(seed)
    n = teams * areas_per_team
    areas = pd.DataFrame(
        {
            "area_code": [f"X{k:06d}" for k in range(n)],
            "council_code": "E10000000",
            "residents": rng.integers(1200, 2500, n),
            "children_0_17": rng.integers(200, 600, n).astype(float),
            "imd_decile": rng.integers(1, 11, n),
        }
    )
    assignment = pd.Series(
        [f"T{k // areas_per_team:03d}" for k in range(n)], index=areas["area_code"]
    )
    rates = Rates.fixed({"E10000000": {"children_in_need": 332.9, "child_protection_plans": 41.4}})
    return areas, assignment, rates


def run(label: str, posts, solver: SolverSettings) -> None:
    full = cost_plan(posts, CostSettings(budget_sweep_points=0), solver).total_gbp
    teams = posts.teams.shape[0]
    print(f"\n{label}: {teams} teams, {posts.total_fte:,.1f} FTE, full plan £{full:,.0f} a year")
    print(
        f"{'budget':>8} {'status':>10} {'worst pressure':>15} {'bound':>8} {'gap':>8} "
        f"{'seconds':>8}"
    )
    for share in SHARES:
        start = time.perf_counter()
        fit = fit_to_budget(posts, CostSettings(), share * full, solver)
        wall = time.perf_counter() - start
        bound = f"{fit.pressure_bound:.3f}" if fit.pressure_bound else "-"
        gap = f"{fit.gap:.4f}" if fit.gap is not None else "-"
        print(
            f"{share:>7.0%} {fit.status:>10} {fit.worst_caseload_pressure:>15.3f} {bound:>8} "
            f"{gap:>8} {wall:>8.2f}"
        )
    start = time.perf_counter()
    curve = budget_curve(posts, CostSettings(), solver, points=7)
    print(
        f"budget curve, 7 points: {time.perf_counter() - start:.2f} s "
        f"(worst pressure {curve.worst_caseload_pressure.iloc[0]:.2f} at "
        f"£{curve.budget_gbp.iloc[0]:,.0f} -> {curve.worst_caseload_pressure.iloc[-1]:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--gap", type=float, default=0.01)
    parser.add_argument(
        "--plan",
        default="out/hampshire/areas.csv",
        help="areas.csv of a Hampshire run (area_code, team_id)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    solver = SolverSettings(time_limit_seconds=args.time_limit, relative_gap=args.gap)
    settings = WorkforceSettings()

    areas = load_areas(["E10000014"]).areas
    plan = Path(args.plan)
    if plan.is_file():
        assignment = pd.read_csv(plan).set_index("area_code").team_id.reindex(areas.area_code)
        label = f"Hampshire (34-team plan from {plan})"
    else:
        assignment, label = stand_in_teams(areas, 34), "Hampshire (stand-in teams: no --plan)"
    rates = published_rates(["E10000014"], resolve_data_dir())
    run(label, size_workforce(areas, assignment, rates, settings), solver)

    areas, assignment, rates = synthetic()
    run("Synthetic", size_workforce(areas, assignment, rates, settings), solver)


if __name__ == "__main__":
    main()
