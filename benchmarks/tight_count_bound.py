"""How strong can a bound be that ignores contiguity? One council, the count that holds its gap.

    .venv/bin/python benchmarks/tight_count_bound.py CODE [--seconds S] [--steps K]

Runs the council's `planning init` default scenario (one group: a unitary or a London borough),
takes the team count whose bound holds the overall bound, and prints for it, against the best
plan found at any count:
- the planner's bound for that count (LP by column generation or Lagrangian);
- the LP bound of Hess's model by column generation (what a small block's look computes);
- the Lagrangian bound with LP knapsacks (what the planner computes up front), K steps;
- the Lagrangian bound with *integer* knapsacks, solved exactly by dynamic programming over
  whole people, K steps: towards the bound of set partitioning over every team in the band,
  contiguous or not (the strongest bound that ignores contiguity).
Both Lagrangians start from the LP's assignment duals, where the LP-knapsack one equals the LP
bound, so the integer one starts at least as high and what it adds is measured, not hidden by a
cold start. One integer step takes seconds (Sefton: 20 s, Camden: 6 s).
When the last is no higher than the others, what separates the plans from the bound is
contiguity of whole teams (or plans far from the best), not the band. Slow: minutes per council.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from planning.allocate import allocate_teams  # noqa: E402
from planning.allocate.blocks import band_for_count, block_instance, feasible_blocks  # noqa: E402
from planning.allocate.bounds import lagrangian_bounds, lp_bound  # noqa: E402
from planning.allocate.graph import allowed_columns  # noqa: E402
from planning.config import load_scenario  # noqa: E402
from planning.data import load_areas  # noqa: E402
from planning.errors import PlanningError  # noqa: E402
from planning.geography import build_geography  # noqa: E402
from planning.starter import starter_scenario  # noqa: E402


def integer_knapsacks(r: np.ndarray, inst, usable_t: np.ndarray):
    """The knapsack oracle of ``lagrangian_bounds``, solved exactly as 0-1 knapsacks over whole
    people: per centre j, min over sets S containing j with the band met of sum_{i in S} r_ij,
    and the areas of one best S (other than j) with share 1 each."""
    w = np.round(inst.weights).astype(int)
    n = len(w)
    cap = int(inst.max_pop) + 1
    dp = np.full((n, cap), np.inf)
    own = w < cap
    dp[np.arange(n)[own], w[own]] = np.diagonal(r)[own]
    took = []
    for i in range(n):  # item i joins the centres that may take it
        cols = np.flatnonzero(usable_t[:, i])
        if len(cols) == 0 or w[i] >= cap:
            took.append(None)
            continue
        cand = dp[cols, : cap - w[i]] + r[i, cols][:, None]
        better = cand < dp[cols, w[i] :]
        dp[cols, w[i] :] = np.where(better, cand, dp[cols, w[i] :])
        took.append((cols, better))
    lo = math.ceil(inst.min_pop - 1e-9)
    at = dp[:, lo:].argmin(axis=1) + lo
    values = dp[np.arange(n), at]
    members: list[list[int]] = []
    for j in range(n):  # walk back through the items taken
        team, c = [], int(at[j])
        for i in range(n - 1, -1, -1):
            if took[i] is None or not np.isfinite(values[j]):
                continue
            cols, better = took[i]
            k = np.searchsorted(cols, j)
            if k < len(cols) and cols[k] == j and c >= w[i] and better[k, c - w[i]]:
                team.append(i)
                c -= int(w[i])
        members.append(team)
    width = max(1, max(len(t) for t in members))
    order = np.zeros((n, width), dtype=int)
    share = np.zeros((n, width))
    for j, team in enumerate(members):
        order[j, : len(team)], share[j, : len(team)] = team, 1.0
    return values, order, share


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("code")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--steps", type=int, default=40)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bound-"))
    path = folder / "scenario.yaml"
    path.write_text(starter_scenario([args.code]).text)
    scenario = load_scenario(path)
    solver = scenario.solver.model_copy(update={"time_limit_seconds": args.seconds})
    areas = load_areas(scenario.councils).areas
    geo = build_geography(areas, scenario.geography)
    plan = allocate_teams(areas, geo, scenario.teams, solver)
    blocks = feasible_blocks(areas, scenario.teams)
    if len(blocks) != 1:
        sys.exit(f"{args.code}: {len(blocks)} groups; this benchmark takes one-group councils")
    pairs = [p for p in plan.pairs if p["bound"] is not None]
    held = min(pairs, key=lambda p: p["bound"])
    count = held["teams"]
    weights = areas[scenario.teams.population_basis].to_numpy(float)
    inst = band_for_count(block_instance(geo, weights, blocks[0], scenario.teams), count)
    allowed = allowed_columns(inst)
    aim = held["objective"] or plan.objective
    start = time.monotonic()
    lp = lp_bound(inst, allowed, count)
    lp_s = time.monotonic() - start
    if lp is None:
        sys.exit(f"{args.code}: the LP at {count} teams has no solution: no plan exists there")
    duals = lp.assignment_dual
    start = time.monotonic()
    found, _ = lagrangian_bounds(inst, allowed, (count,), aim, args.steps, start=duals)
    lp_knap, lag_s = found[count], time.monotonic() - start
    start = time.monotonic()
    found, _ = lagrangian_bounds(
        inst, allowed, (count,), aim, args.steps, None, integer_knapsacks, start=duals
    )
    int_knap, int_s = found[count], time.monotonic() - start

    def gap(b: float) -> str:
        return f"{100 * (plan.objective - b) / plan.objective:.2f}%"

    print(
        f"{args.code}: {len(inst.weights)} areas; best plan {plan.objective:,.0f} "
        f"({len(plan.teams)} teams), overall gap {100 * plan.gap:.2f}%"
    )
    print(f"count holding the bound: {count} teams (its plan: {held['objective'] or 'none'})")
    print(f"  planner's bound            {held['bound']:>14,.0f}  gap {gap(held['bound'])}")
    print(f"  LP of Hess's model         {lp.value:>14,.0f}  gap {gap(lp.value)}  ({lp_s:.1f} s)")
    print(f"  Lagrangian, LP knapsacks   {lp_knap:>14,.0f}  gap {gap(lp_knap)}  ({lag_s:.1f} s)")
    print(f"  Lagrangian, integer knaps. {int_knap:>14,.0f}  gap {gap(int_knap)}  ({int_s:.1f} s)")


if __name__ == "__main__":
    try:
        main()
    except PlanningError as exc:  # a council code or data the planner cannot use: say so
        sys.exit(f"tight_count_bound: {exc}")
