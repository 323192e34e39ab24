"""Plans for large blocks: star-contiguity models over the capacitated assignment's centres.

A star model is Hess's model over a few candidate centres in which an area joins centre j only if
a touching area nearer to j (walking between touching areas) joins it too. Every plan it admits
is contiguous, so it needs no cuts; it is a restriction, so it gives plans, never bounds.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix

from planning.allocate.blocks import BlockInstance
from planning.allocate.deadline import Deadline
from planning.allocate.graph import geodesic_km, plan_cost, plan_is_valid
from planning.allocate.local_search import improve, medoids, spread_seeds
from planning.allocate.tuning import TUNING
from planning.config import SolverSettings
from planning.solve import ArrayMip, assignment_lp

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StarModel:
    """Hess's model over a few candidate centres with star contiguity: an area joins centre j
    only if a touching area nearer to j (walking between touching areas) joins it too.

    Every plan it admits is contiguous, so it needs no cuts; it is a restriction (a team that is
    contiguous but not star-shaped about its centre is left out), so it gives plans, never bounds.
    """

    centres: np.ndarray  # candidate centre (local index) of each column
    area: np.ndarray  # area of each variable
    column: np.ndarray  # candidate column of each variable
    var: np.ndarray  # (n, k) variable index, -1 where the pair is left out
    mip: ArrayMip


def _star_steps(
    inst: BlockInstance, geo: np.ndarray, centres: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every touching pair both ways as (tails, heads), and nearer[e, c]: edge e's head is
    nearer candidate c's centre than its tail (so the head may carry the tail to it)."""
    tails = np.r_[inst.edges[:, 0], inst.edges[:, 1]]
    heads = np.r_[inst.edges[:, 1], inst.edges[:, 0]]
    return tails, heads, geo[np.ix_(heads, centres)] < geo[np.ix_(tails, centres)]


def star_columns(
    tails: np.ndarray, heads: np.ndarray, nearer: np.ndarray, centres: np.ndarray, mask: np.ndarray
) -> np.ndarray:
    """``mask`` (n, k) narrowed to the areas with a chain of touching areas, each nearer the
    centre and each allowed, that ends at the centre."""
    n, k = mask.shape
    own = np.zeros((n, k), dtype=bool)
    own[centres, np.arange(k)] = True
    into = csr_matrix((np.ones(len(tails)), (tails, np.arange(len(tails)))), shape=(n, len(tails)))
    ok = mask | own
    while True:
        reach = (into @ (ok[heads] & nearer).astype(float)) > 0
        narrowed = ok & (reach | own)
        if np.array_equal(narrowed, ok):
            return ok
        ok = narrowed


def star_model(
    inst: BlockInstance,
    geo: np.ndarray,
    centres: np.ndarray,
    mask: np.ndarray,
    count: int,
    solver: SolverSettings,
) -> StarModel:
    """The star-contiguous model over candidate ``centres`` with ``count`` of them open; area i
    may join candidate c only where ``mask[i, c]``."""
    n, k = mask.shape
    tails, heads, nearer = _star_steps(inst, geo, centres)
    ok = star_columns(tails, heads, nearer, centres, mask)
    area, column = np.nonzero(ok)
    nv = len(area)
    var = -np.ones((n, k), dtype=int)
    var[area, column] = np.arange(nv)
    centre_var = var[centres, np.arange(k)]
    is_centre = area == centres[column]
    w = inst.weights
    rows, cols, vals, lower, upper = [], [], [], [], []

    def block(r: np.ndarray, c: np.ndarray, v: np.ndarray) -> None:
        rows.append(r)
        cols.append(c)
        vals.append(v)

    # each area in one team; count teams
    block(area, np.arange(nv), np.ones(nv))
    block(np.full(k, n), centre_var, np.ones(k))
    lower += [np.ones(n), [count]]
    upper += [np.ones(n), [count]]
    # each open team's population within the band (closed: none)
    r = n + 1
    block(r + column, np.arange(nv), w[area] - inst.max_pop * is_centre)
    block(r + k + column, np.arange(nv), w[area] - inst.min_pop * is_centre)
    lower += [np.full(k, -np.inf), np.zeros(k)]
    upper += [np.zeros(k), np.full(k, np.inf)]
    r += 2 * k
    if inst.work is not None:  # and each open team's workload within the workload band
        u = inst.work
        high = inst.max_work if np.isfinite(inst.max_work) else 1e12
        block(r + column, np.arange(nv), u[area] - high * is_centre)
        block(r + k + column, np.arange(nv), u[area] - inst.min_work * is_centre)
        lower += [np.full(k, -np.inf), np.zeros(k)]
        upper += [np.zeros(k), np.full(k, np.inf)]
        r += 2 * k
    # an area joins only an open centre, and only after a touching area nearer the centre
    member = np.flatnonzero(~is_centre)
    m = len(member)
    block(r + np.arange(m), member, np.ones(m))
    block(r + np.arange(m), centre_var[column[member]], -np.ones(m))
    star_row = -np.ones(nv, dtype=int)
    star_row[member] = r + m + np.arange(m)
    block(r + m + np.arange(m), member, np.ones(m))
    e, c = np.nonzero(ok[tails] & ok[heads] & nearer)
    tail_var = var[tails[e], c]
    keep = star_row[tail_var] >= 0
    block(star_row[tail_var[keep]], var[heads[e[keep]], c[keep]], -np.full(keep.sum(), 1.0))
    lower += [np.full(2 * m, -np.inf)]
    upper += [np.zeros(2 * m)]
    matrix = csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(r + 2 * m, nv),
    )
    mip = ArrayMip(
        inst.cost[area, centres[column]],
        matrix,
        np.concatenate([np.asarray(x, float) for x in lower]),
        np.concatenate([np.asarray(x, float) for x in upper]),
        threads=solver.threads,
        seed=solver.seed,
    )
    return StarModel(centres, area, column, var, mip)


def star_plan(
    model: StarModel, inst: BlockInstance, deadline: Deadline, gap: float, warm: np.ndarray | None
) -> np.ndarray | None:
    """Solve a star model (warm-started from a plan it admits); its plan, or None."""
    values = None
    if warm is not None:
        where = {int(j): c for c, j in enumerate(model.centres)}
        cols = np.array([where.get(int(j), -1) for j in warm])
        if (cols >= 0).all() and (model.var[np.arange(len(warm)), cols] >= 0).all():
            values = np.zeros(len(model.area))
            values[model.var[np.arange(len(warm)), cols]] = 1.0
    res = model.mip.solve(
        time_limit=deadline.remaining(), relative_gap_target=gap, warm_start=values
    )
    if not res.has_solution:
        return None
    plan = np.empty(len(inst.weights), dtype=int)
    chosen = res.values > 0.5
    plan[model.area[chosen]] = model.centres[model.column[chosen]]
    return plan


def capacitated_centres(
    inst: BlockInstance, count: int, first: int, solver: SolverSettings
) -> tuple[np.ndarray, float] | None:
    """Centres for ``count`` teams with contiguity left aside: seeds spread from ``first``
    (each next the area with most person-km to the seeds so far), then alternately the LP of
    the capacitated assignment and each team's medoid, until the centres repeat."""
    seeds = [int(first)]
    while len(seeds) < count:
        seeds.append(int(np.argmax(inst.dist_km[:, seeds].min(axis=1) * inst.weights)))
    centres = np.array(sorted(set(seeds)))
    if len(centres) < count:
        return None
    value = math.inf
    for _ in range(TUNING.capacitated_rounds):
        lp = assignment_lp(
            inst.cost[:, centres], inst.weights, inst.min_pop, inst.max_pop, threads=solver.threads
        )
        if lp is None:
            return None
        x, value = lp
        moved = np.sort(np.unique(medoids(centres[np.argmax(x, axis=1)], inst)))
        if len(moved) < count or np.array_equal(moved, centres):
            break
        centres = moved
    return centres, value


def star_search(
    inst: BlockInstance,
    count: int,
    allowed: np.ndarray,
    adj: list[np.ndarray],
    solver: SolverSettings,
    deadline: Deadline,
    incumbent: np.ndarray | None,
    first_centres: np.ndarray | None = None,
    enough: float = -math.inf,
) -> np.ndarray | None:
    """A plan from star models: centres from the capacitated assignment (several spread
    starts, best LP first; ``first_centres`` before them), then the star model at those
    centres, local search, each team's medoid as its new centre, and again, while the plan
    improves and costs more than ``enough`` (a cost already within the gap target of a bound)."""
    geo = geodesic_km(inst)
    best = incumbent
    best_cost = plan_cost(best, inst) if best is not None else math.inf
    if best is not None:
        starts = [np.unique(best)]
    else:
        firsts = spread_seeds(
            TUNING.star_starts, inst, np.argsort(inst.cost.sum(axis=0), kind="stable")
        )
        found = (capacitated_centres(inst, count, f, solver) for f in firsts)
        ranked = sorted((value, tuple(c)) for c, value in filter(None, found))
        starts = [np.array(c) for c in dict.fromkeys(c for _, c in ranked)]  # cheapest LP first
        if first_centres is not None and len(first_centres) == count:
            starts.insert(0, np.sort(first_centres))
    for centres in starts:
        tried: set[tuple] = set()
        gap = (
            TUNING.star_gap_first * solver.relative_gap
        )  # quick first; tighter once the centres settle
        while (
            not deadline.expired()
            and (best is None or best_cost > enough)
            and (tuple(centres), gap) not in tried
        ):
            tried.add((tuple(centres), gap))
            model = star_model(inst, geo, centres, allowed[:, centres], count, solver)
            plan = star_plan(model, inst, deadline, gap, best)
            if plan is None or not plan_is_valid(plan, inst, adj):
                break
            plan = improve(plan, inst, adj)
            cost = plan_cost(plan, inst)
            log.debug(
                "%s, %d teams: star model %.0f (gap %.2f%%)", inst.name, count, cost, 100 * gap
            )
            if best is None or cost < best_cost - 1e-9 * abs(best_cost):
                best, best_cost, centres = plan, cost, np.unique(plan)
            elif gap > TUNING.star_gap_tight * solver.relative_gap:
                gap = TUNING.star_gap_tight * solver.relative_gap
            else:
                break
        if best is not None:
            break
    # then the centres move together: each team's few best centres, areas to touching teams
    while best is not None and best_cost > enough and not deadline.expired():
        centres, mask = centre_neighbourhood(best, inst, TUNING.star_centres_per_team)
        model = star_model(inst, geo, centres, allowed[:, centres] & mask, count, solver)
        stop = deadline.within(TUNING.star_neighbourhood_seconds)
        plan = star_plan(model, inst, stop, TUNING.star_gap_tight * solver.relative_gap, best)
        if plan is None or not plan_is_valid(plan, inst, adj):
            break
        plan = improve(plan, inst, adj)
        cost = plan_cost(plan, inst)
        log.debug("%s, %d teams: centre neighbourhood %.0f", inst.name, count, cost)
        if cost >= best_cost - 1e-9 * abs(best_cost):
            break
        best, best_cost = plan, cost
    return best


def centre_neighbourhood(
    plan: np.ndarray, inst: BlockInstance, per_team: int
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate centres: each team's ``per_team`` best centres; area i may join a candidate
    when i's team is the candidate's own or touches it. Returns the candidates and the mask."""
    teams = np.unique(plan)
    touching = np.zeros((len(plan), len(plan)), dtype=bool)
    a, b = plan[inst.edges[:, 0]], plan[inst.edges[:, 1]]
    touching[a, b] = touching[b, a] = True
    touching[teams, teams] = True
    candidates = []
    for t in teams:
        members = np.flatnonzero(plan == t)
        costs = inst.cost[np.ix_(members, members)].sum(axis=0)
        candidates.extend(members[np.argsort(costs, kind="stable")[:per_team]].tolist())
    centres = np.array(sorted(candidates))
    return centres, touching[plan][:, plan[centres]]
