"""Small blocks (up to ``TUNING.large_block_areas`` areas): the LP bound with reduced costs, quick
plans, then Hess's exact model over the columns that could still beat the plan."""

from __future__ import annotations

import logging
import math
import time

import numpy as np

from planning.allocate.blocks import BlockInstance, BlockResult, sub_instance
from planning.allocate.bounds import LpBound, lp_bound
from planning.allocate.deadline import Deadline, DeadlinePassed
from planning.allocate.graph import allowed_columns, plan_cost
from planning.allocate.hess import build_model
from planning.allocate.local_search import (
    grow_plan,
    improve,
    plan_with_count,
    spread_seeds,
)
from planning.allocate.star import star_search
from planning.allocate.tree_split import tree_first_plan
from planning.allocate.tuning import TUNING
from planning.config import SolverSettings
from planning.geography import neighbour_lists
from planning.solve import relative_gap

log = logging.getLogger(__name__)


def solve_small_block(
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
    """Best contiguous plan with ``count`` teams and a bound valid for the whole model.

    1. LP bound and reduced costs over every column (column generation).
    2. Without an incumbent, a quick plan: the MIP restricted to the centres the LP opens (then
       to more centres); else star models over capacitated centres; else a grown plan. Then
       local search, a star-model plan when it costs less, and exact re-splits of team pairs.
    3. With ``exact`` (or no plan yet), the MIP over every column whose reduced cost could still
       beat the plan (all others provably cannot), warm-started from it.
    """
    start = time.monotonic()
    n = len(inst.weights)
    allowed = allowed_columns(inst)
    adj = neighbour_lists(n, inst.edges)
    lp = lp if lp is not None else lp_bound(inst, allowed, count, solver.threads)
    if lp is None:
        return _result(inst, count, "infeasible", None, None, None, start)
    extra = extra_costs(lp)
    best = incumbent
    rounds = cuts = 0
    bound = lp.value
    status = "time_limit"

    def run(
        columns: np.ndarray, stop: Deadline, gap: float, proof: bool = False
    ) -> tuple[str, float | None]:
        nonlocal best, rounds, cuts
        outside = outside_bound(lp, extra, allowed, columns)
        model = build_model(inst, columns, count, solver, stop, proof)
        if model is None:  # too little time left to build and solve it
            return "time_limit", None
        st, plan, mip_bound, r = model.solve(stop, gap, best, outside)
        rounds, cuts = rounds + r, cuts + model.cuts
        if plan is not None and (best is None or plan_cost(plan, inst) < plan_cost(best, inst)):
            best = plan
        return st, mip_bound

    first_look = incumbent is None
    enough = lp.value / (1.0 - gap_target) if gap_target < 1.0 else math.inf  # within the target

    def good_enough(plan: np.ndarray | None) -> bool:
        return plan is not None and plan_cost(plan, inst) <= enough

    if first_look and hint is not None:  # a plan at another count, split or merged to this one
        best = plan_with_count(hint, inst, count, adj)
    star_first = first_look and best is None and (is_tight(inst, count) or inst.work is not None)
    if star_first:  # tight counts and workload bands: star models find plans where quick MIPs stall
        seconds = min(
            TUNING.quick_plan_max_seconds, TUNING.star_rescue_share * deadline.remaining()
        )
        best = star_search(
            inst, count, allowed, adj, solver, deadline.within(seconds), None, enough=enough
        )
    if first_look and not good_enough(best):  # quick plans: the MIP on the centres the LP opens
        opened = lp.centre_value > 1e-6
        slack_first, slack_more = TUNING.quick_plan_slacks
        for centres, slack in (
            (opened, slack_first),
            (np.diag(extra) <= slack_more * lp.value, slack_more),
        ):
            columns = allowed & centres[None, :] & (extra <= slack * lp.value)
            columns[np.arange(n), np.arange(n)] &= centres
            if np.diag(columns).sum() >= count:
                seconds = TUNING.quick_plan_share * deadline.remaining()
                seconds = min(TUNING.quick_plan_max_seconds, seconds)
                stop = deadline.within(max(TUNING.quick_plan_min_seconds, seconds))
                run(columns, stop, gap_target)
            if best is not None:
                break
    if best is None and first_look:  # no quick plan: star models, then a grown plan
        seconds = TUNING.star_rescue_share * deadline.remaining()
        best = star_search(
            inst, count, allowed, adj, solver, deadline.within(seconds), None, enough=enough
        )
        star_first = True
    if best is None and first_look:  # a spanning-tree bisection, then a grown plan
        best = tree_first_plan(inst, count, adj, solver.seed)
    if best is None and first_look:
        preferred = np.argsort(-lp.centre_value, kind="stable")
        best = grow_plan(spread_seeds(count, inst, preferred), inst, adj)
    if best is not None and first_look:
        best = improve(best, inst, adj)
        if not star_first and count >= 2 and not good_enough(best):
            seconds = min(
                TUNING.star_first_look_seconds, TUNING.star_first_look_share * deadline.remaining()
            )
            star = star_search(
                inst, count, allowed, adj, solver, deadline.within(seconds), None, enough=enough
            )
            if star is not None and plan_cost(star, inst) < plan_cost(best, inst):
                best = star
        if count >= 3 and not good_enough(best):
            share = TUNING.resplit_share_exact if exact else TUNING.resplit_share_first_look
            best = resplit_pairs(best, inst, adj, solver, deadline.share(share))
    # 3. exact on the columns that could still improve on the plan
    ub = plan_cost(best, inst) if best is not None else math.inf
    if not good_enough(best) and (exact or best is None):
        threshold = (ub - lp.value) if np.isfinite(ub) else TUNING.no_plan_column_share * lp.value
        columns = allowed & (extra <= threshold + 1e-6)
        # from a plan, the model for the bound (hess.BlockModel): its bound moves faster
        st, mip_bound = run(columns, deadline, gap_target, proof=best is not None)
        everything = not np.isfinite(extra[allowed & ~columns].min(initial=math.inf))
        if st == "infeasible" and best is None and not everything and not deadline.expired():
            # no plan among the cheap columns: every column, to find one or prove there is none
            st, mip_bound = run(allowed, deadline, gap_target)
            everything = True
        if st == "infeasible" and best is None and everything:
            return _result(inst, count, "infeasible", None, None, None, start, rounds, cuts)
        if mip_bound is not None and (np.isfinite(ub) or best is None):
            bound = max(bound, mip_bound)
        status = st
    objective = plan_cost(best, inst) if best is not None else None
    if objective is not None:
        bound = min(bound, objective)
        if relative_gap(objective, bound) <= gap_target + 1e-12:
            status = "optimal"
    return _result(inst, count, status, objective, bound, best, start, rounds, cuts, lp)


def extra_costs(lp: LpBound) -> np.ndarray:
    """Least extra cost, over the LP, of a plan putting area i in the team centred at j:
    rc_ij + rc_jj (rc_jj alone on the diagonal)."""
    rc = lp.reduced_cost
    n = len(rc)
    return rc + np.where(np.eye(n, dtype=bool), 0.0, np.diag(rc)[None, :])


def outside_bound(
    lp: LpBound, extra: np.ndarray, allowed: np.ndarray, columns: np.ndarray
) -> float:
    """The least cost of any plan that uses an allowed column left out of ``columns``."""
    left_out = extra[allowed & ~columns]
    return lp.value + (left_out.min() if left_out.size else math.inf)


def is_tight(inst: BlockInstance, count: int) -> bool:
    """The average team within ``TUNING.tight_count_slack`` of the band's floor or ceiling."""
    mean = float(inst.weights.sum()) / count
    slack = TUNING.tight_count_slack
    return mean < inst.min_pop * (1 + slack) or mean > inst.max_pop * (1 - slack)


def solve_exact(
    inst: BlockInstance,
    count: int,
    solver: SolverSettings,
    deadline: Deadline,
    gap_target: float,
    incumbent: np.ndarray,
) -> BlockResult:
    """The LP bound, then the exact MIP over the columns that could beat ``incumbent``; the
    incumbent as it was when the deadline passes before the LP converges."""
    start = time.monotonic()
    allowed = allowed_columns(inst)
    ub = plan_cost(incumbent, inst)
    try:
        lp = lp_bound(inst, allowed, count, solver.threads, deadline)
    except DeadlinePassed:
        return _result(inst, count, "time_limit", ub, None, incumbent, start)
    if lp is None:
        return _result(inst, count, "infeasible", None, None, None, start)
    return _exact_below(
        inst, count, solver, deadline, gap_target, lp, allowed, ub, incumbent, start
    )


def rule_out(
    inst: BlockInstance,
    count: int,
    solver: SolverSettings,
    deadline: Deadline,
    gap_target: float,
    cutoff: float,
    incumbent: np.ndarray | None = None,
    lp: LpBound | None = None,
) -> BlockResult:
    """A plan costing less than ``cutoff``, or the proof that there is none (the bound reaches
    the cutoff), for a count the choice of counts only needs ruled out below it.

    Hess's model over the columns whose reduced cost could still give a plan below the cutoff,
    with the cutoff handed to HiGHS: it prunes every node that could not hold such a plan and
    needs no plan of its own. East Riding of Yorkshire at 11 teams: no plan below 1,387,527 in
    28 s; its own look from a plan at 1,420,710 had reached a bound of 1,375,158 in 42 s."""
    start = time.monotonic()
    allowed = allowed_columns(inst)
    ub = plan_cost(incumbent, inst) if incumbent is not None else None
    if lp is None:
        try:
            lp = lp_bound(inst, allowed, count, solver.threads, deadline)
        except DeadlinePassed:
            return _result(inst, count, "time_limit", ub, None, incumbent, start)
    if lp is None:
        return _result(inst, count, "infeasible", None, None, None, start)
    if lp.value >= cutoff:  # the LP alone rules the count out
        return _result(inst, count, "time_limit", ub, lp.value, incumbent, start, lp=lp)
    res = _exact_below(
        inst, count, solver, deadline, gap_target, lp, allowed, cutoff, incumbent, start, cutoff
    )
    done = res.bound is not None and res.bound >= cutoff
    log.debug(
        "%s, %d teams: ruling out plans below %.0f: bound %.0f, %s",
        inst.name,
        count,
        cutoff,
        lp.value if res.bound is None else res.bound,
        "done" if done else "not yet",
    )
    return res


def _exact_below(
    inst: BlockInstance,
    count: int,
    solver: SolverSettings,
    deadline: Deadline,
    gap_target: float,
    lp: LpBound,
    allowed: np.ndarray,
    limit: float,
    incumbent: np.ndarray | None,
    start: float,
    cutoff: float | None = None,
) -> BlockResult:
    """The model for the bound over the ``allowed`` columns whose reduced cost could still give
    a plan below ``limit`` (all others provably cannot), from ``incumbent``, with HiGHS's
    ``cutoff``."""
    ub = plan_cost(incumbent, inst) if incumbent is not None else None
    extra = extra_costs(lp)
    columns = allowed & (extra <= (limit - lp.value) + 1e-6)
    outside = outside_bound(lp, extra, allowed, columns)
    model = build_model(inst, columns, count, solver, deadline, proof=cutoff is not None)
    if model is None:  # too little time left to build and solve it: the plan as it was
        bound = lp.value if ub is None else min(lp.value, ub)
        return _result(inst, count, "time_limit", ub, bound, incumbent, start, lp=lp)
    status, plan, bound, rounds = model.solve(deadline, gap_target, incumbent, outside, cutoff)
    objective = plan_cost(plan, inst) if plan is not None else None
    bound = lp.value if bound is None else max(bound, lp.value)
    if objective is not None:
        bound = min(bound, objective)
    return _result(inst, count, status, objective, bound, plan, start, rounds, model.cuts, lp)


def resplit_pairs(
    centres: np.ndarray,
    inst: BlockInstance,
    adj: list[np.ndarray],
    solver: SolverSettings,
    deadline: Deadline,
) -> np.ndarray:
    """Large-neighbourhood search: merge two touching teams and re-split them exactly into two,
    keeping the result when it costs less."""
    team = centres.copy()
    improved = True
    while improved and not deadline.expired():
        improved = False
        labels = np.unique(team)
        touching = sorted(
            {
                (min(team[a], team[b]), max(team[a], team[b]))
                for a, b in inst.edges
                if team[a] != team[b]
            }
        )
        for a, b in touching:
            if deadline.expired():
                break
            if a not in labels or b not in labels:
                continue
            members = np.flatnonzero((team == a) | (team == b))
            sub = sub_instance(inst, members, 2)
            old = np.searchsorted(members, team[members])
            old_cost = float(sub.cost[np.arange(len(members)), old].sum())
            stop = deadline.within(TUNING.resplit_pair_seconds)
            res = solve_exact(sub, 2, solver, stop, TUNING.resplit_gap, old)
            if res.centres is not None and res.objective < old_cost - 1e-6 * abs(old_cost):
                team[members] = members[res.centres]
                labels = np.unique(team)
                improved = True
                log.debug(
                    "%s: re-split two teams, %.0f -> %.0f", inst.name, old_cost, res.objective
                )
    return team


def _result(
    inst: BlockInstance,
    count: int,
    status: str,
    objective: float | None,
    bound: float | None,
    plan: np.ndarray | None,
    start: float,
    rounds: int = 0,
    cuts: int = 0,
    lp: LpBound | None = None,
) -> BlockResult:
    seconds = time.monotonic() - start
    return BlockResult(inst.name, count, status, objective, bound, plan, seconds, rounds, cuts, lp)
