"""How strong can a bound be that ignores contiguity? One council, the count that holds its gap.

    .venv/bin/python benchmarks/tight_count_bound.py CODE [--seconds S] [--steps K]

Runs the council's `planning init` default scenario (one group: a unitary or a London borough),
takes the team count whose bound holds the overall bound, and prints for it, against the best
plan found at any count:
- the planner's bound for that count (LP by column generation or Lagrangian);
- the Lagrangian bound with LP knapsacks (what the planner computes up front), K steps;
- the Lagrangian bound with *integer* knapsacks, solved exactly by dynamic programming over
  whole people, K steps: the bound of set partitioning over every team in the band, contiguous
  or not (the strongest bound that ignores contiguity).
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
from planning.allocate.bounds import lagrangian_bound  # noqa: E402
from planning.allocate.graph import allowed_columns  # noqa: E402
from planning.allocate.tuning import TUNING  # noqa: E402
from planning.config import load_scenario  # noqa: E402
from planning.data import load_areas  # noqa: E402
from planning.geography import build_geography  # noqa: E402
from planning.starter import starter_scenario  # noqa: E402


def integer_knapsacks(r: np.ndarray, w: np.ndarray, usable: np.ndarray, low: float, high: float):
    """Per centre j: min over sets S containing j with low <= w(S) <= high of sum_{i in S} r_ij,
    exactly (0-1 knapsack over whole people), and one best set per centre."""
    n = len(w)
    cap = int(high) + 1
    dp = np.full((n, cap), np.inf)
    dp[np.arange(n), np.minimum(w, cap - 1)] = np.where(w < cap, np.diagonal(r), np.inf)
    took = []
    for i in range(n):
        cols = np.flatnonzero(usable[i])
        if len(cols) == 0 or w[i] >= cap:
            took.append(None)
            continue
        cand = dp[cols, : cap - w[i]] + r[i, cols][:, None]
        better = cand < dp[cols, w[i] :]
        dp[cols, w[i] :] = np.where(better, cand, dp[cols, w[i] :])
        took.append((cols, better))
    lo = math.ceil(low - 1e-9)
    at = dp[:, lo:].argmin(axis=1) + lo
    values = dp[np.arange(n), at]
    sets = []
    for j in range(n):  # walk back through the items taken
        members, c = [j], int(at[j])
        for i in range(n - 1, -1, -1):
            if took[i] is None or not np.isfinite(values[j]):
                continue
            cols, better = took[i]
            k = np.searchsorted(cols, j)
            if k < len(cols) and cols[k] == j and c >= w[i] and better[k, c - w[i]]:
                members.append(i)
                c -= int(w[i])
        sets.append(members)
    return values, sets


def integer_lagrangian(inst, allowed: np.ndarray, count: int, aim: float, steps: int) -> float:
    """Subgradient on 'each area in one team' with exact integer knapsacks (Polyak towards aim)."""
    n = len(inst.weights)
    w = np.round(inst.weights).astype(int)
    usable = allowed & ~np.eye(n, dtype=bool)
    cost = inst.cost
    lam = np.sort(np.where(allowed, cost, np.inf), axis=1)[:, min(n - 1, max(1, n // count))]
    lam = np.where(np.isfinite(lam), lam, 0.0)
    best, step, stall = -math.inf, 1.0, 0
    for _ in range(steps):
        values, sets = integer_knapsacks(cost - lam[:, None], w, usable, inst.min_pop, inst.max_pop)
        values = np.where(np.diagonal(allowed), values, np.inf)
        ranked = np.argsort(values, kind="stable")[:count]
        bound = float(lam.sum() + values[ranked].sum())
        if bound > best + 1e-9 * abs(bound):
            best, stall = bound, 0
        else:
            stall += 1
            if stall >= TUNING.lagrangian_stall_steps:
                step, stall = step / 2, 0
        covered = np.zeros(n)
        for j in ranked:
            covered[sets[j]] += 1.0
        g = 1.0 - covered
        if float(g @ g) < 1e-12 or step < TUNING.lagrangian_min_step:
            break
        lam = lam + step * max(aim - bound, 1e-6 * abs(bound)) / float(g @ g) * g
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("code")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--steps", type=int, default=150)
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
    lp_knap, _ = lagrangian_bound(inst, allowed, count, aim, args.steps)
    lp_s = time.monotonic() - start
    start = time.monotonic()
    int_knap = integer_lagrangian(inst, allowed, count, aim, args.steps)
    int_s = time.monotonic() - start

    def gap(b: float) -> str:
        return f"{100 * (plan.objective - b) / plan.objective:.2f}%"

    print(
        f"{args.code}: {len(inst.weights)} areas; best plan {plan.objective:,.0f} "
        f"({len(plan.teams)} teams), overall gap {100 * plan.gap:.2f}%"
    )
    print(f"count holding the bound: {count} teams (its plan: {held['objective'] or 'none'})")
    print(f"  planner's bound            {held['bound']:>14,.0f}  gap {gap(held['bound'])}")
    print(f"  Lagrangian, LP knapsacks   {lp_knap:>14,.0f}  gap {gap(lp_knap)}  ({lp_s:.1f} s)")
    print(f"  Lagrangian, integer knaps. {int_knap:>14,.0f}  gap {gap(int_knap)}  ({int_s:.1f} s)")


if __name__ == "__main__":
    main()
