"""Large blocks: a plan from star models over the capacitated assignment's centres, a bound from
Lagrangian relaxation that holds for every plan (every centre, every area, contiguity aside)."""

from __future__ import annotations

import math
import time

import numpy as np

from planning.allocate.blocks import BlockInstance, BlockResult
from planning.allocate.bounds import LpBound, lagrangian_bound
from planning.allocate.deadline import Deadline
from planning.allocate.graph import allowed_columns, plan_cost
from planning.allocate.hess import build_model
from planning.allocate.local_search import (
    grow_plan,
    improve,
    plan_with_count,
    recount,
    spread_seeds,
)
from planning.allocate.small_block import resplit_pairs
from planning.allocate.star import star_search
from planning.allocate.tree_split import tree_first_plan
from planning.allocate.tuning import TUNING
from planning.config import SolverSettings
from planning.geography import neighbour_lists
from planning.solve import relative_gap


def solve_large_block(
    inst: BlockInstance,
    count: int,
    solver: SolverSettings,
    deadline: Deadline,
    gap_target: float,
    incumbent: np.ndarray | None = None,
    lp: LpBound | None = None,
    exact: bool = True,
    hint: np.ndarray | None = None,
) -> BlockResult:
    """A large block: a plan from star models over the capacitated assignment's centres
    (falling back to a grown plan, then to the restricted MIP with cuts), with a Lagrangian
    bound that holds for the whole model (every centre, every area, contiguity aside).

    Same signature as ``solve_small_block`` (the search picks one by block size); ``lp``
    and ``exact`` are not used here."""
    start = time.monotonic()
    n = len(inst.weights)
    allowed = allowed_columns(inst)
    adj = neighbour_lists(n, inst.edges)
    first = None
    if incumbent is None and hint is not None:  # a plan at another count, split or merged
        incumbent = plan_with_count(hint, inst, count, adj)
        rough = recount(hint, inst, count, adj) if incumbent is None else None
        first = None if rough is None else np.unique(rough)
    if incumbent is None:  # a first plan in well under a second, for the star models to improve
        incumbent = tree_first_plan(inst, count, adj, solver.seed)
    best = star_search(
        inst,
        count,
        allowed,
        adj,
        solver,
        deadline.share(TUNING.star_search_share),
        incumbent,
        first,
    )
    if best is not None and count >= 3:  # exact re-splits of touching team pairs
        best = resplit_pairs(best, inst, adj, solver, deadline.share(TUNING.resplit_share_large))
    rounds = cuts = 0
    if best is None:  # no star plan: a grown plan, then the restricted MIP with cuts
        bound, values = lagrangian_bound(
            inst,
            allowed,
            count,
            math.inf,
            TUNING.lagrangian_block_steps,
            deadline.share(TUNING.fallback_bound_share),
        )
        preferred = np.argsort(values, kind="stable")
        grown = grow_plan(spread_seeds(count, inst, preferred), inst, adj)
        best = improve(grown, inst, adj) if grown is not None else None
        for width in TUNING.fallback_widths if np.isfinite(bound) else ():
            if best is not None:
                break
            centres = np.zeros(n, dtype=bool)
            centres[preferred[: width * count]] = True
            columns = allowed & centres[None, :]
            columns[np.arange(n), np.arange(n)] = centres
            model = build_model(inst, columns, count, solver, deadline)
            if model is None:  # no time to solve what it would build: narrower
                continue
            _, best, _, r = model.solve(
                deadline.share(TUNING.fallback_mip_share), gap_target, None, math.inf
            )
            rounds, cuts = rounds + r, cuts + model.cuts
    objective = plan_cost(best, inst) if best is not None else None
    bound, _ = lagrangian_bound(
        inst,
        allowed,
        count,
        math.inf if objective is None else objective,
        TUNING.lagrangian_block_steps,
        deadline,
    )
    seconds = time.monotonic() - start
    if objective is None:
        status = "time_limit" if np.isfinite(bound) else "infeasible"
        bound = bound if np.isfinite(bound) else None
        return BlockResult(inst.name, count, status, None, bound, None, seconds, rounds, cuts)
    bound = min(bound, objective)
    status = "optimal" if relative_gap(objective, bound) <= gap_target + 1e-12 else "time_limit"
    return BlockResult(inst.name, count, status, objective, bound, best, seconds, rounds, cuts)
