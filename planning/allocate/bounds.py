"""Lower bounds that hold for every plan of a block: the LP relaxation of Hess's model by column
generation (small blocks, with reduced costs for fixing) and Lagrangian relaxation (every count at
once, and large blocks)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from planning.allocate.blocks import BlockInstance
from planning.allocate.deadline import Deadline, DeadlinePassed
from planning.allocate.tuning import TUNING
from planning.errors import SolverError
from planning.solve import IncrementalLp

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LpBound:
    """The LP relaxation of Hess's model over every allowed column, with reduced costs."""

    value: float
    reduced_cost: np.ndarray  # (n, n): rc of x_ij; diagonal is the centre's own column
    columns: int  # columns generated before the LP was proven optimal over all of them
    centre_value: np.ndarray  # LP value of each area's centre column (how open it is)
    assignment_dual: np.ndarray  # dual of each area's 'in one team' row: Lagrangian multipliers
    # at which the Lagrangian bound with LP knapsacks equals ``value``


def lp_bound(
    inst: BlockInstance,
    allowed: np.ndarray,
    count: int,
    threads: int = 1,
    deadline: Deadline | None = None,
) -> LpBound | None:
    """Column generation on the LP relaxation; None when even the LP has no solution. With a
    ``deadline``, raises ``DeadlinePassed`` when it passes before the LP has converged (a
    restricted LP's value is no bound).

    Rows: each area in one team; ``count`` centres; each team's population within the band; an
    area joins only an open centre. Columns start as every centre and each area's nearest
    centres, and grow by pricing every allowed column until none has a negative reduced cost, so
    the bound and the reduced costs hold for the whole model (any plan costs at least
    value + rc_ij + rc_jj when area i joins centre j).
    """
    n = len(inst.weights)
    w, d = inst.weights, inst.dist_km
    cost = inst.cost
    centres = np.flatnonzero(np.diag(allowed))
    # a workload band adds two rows per centre, as the population band: (u_j - max), (u_j - min)
    u = inst.work
    bands = 1 if u is None else 2
    rows = 1 + (1 + 2 * bands) * n
    lower = [np.ones(n), [count], np.full(n, -np.inf), np.zeros(n)]
    upper = [np.ones(n), [count], np.zeros(n), np.full(n, np.inf)]
    if u is not None:
        lower += [np.full(n, -np.inf), np.zeros(n)]
        upper += [np.zeros(n), np.full(n, np.inf)]
        u_max = min(inst.max_work, float(u.sum()))
    lp = IncrementalLp(np.concatenate(lower), np.concatenate(upper), threads=threads)
    # centre columns: assignment of j, the count, and the band rows of j (w_j - max, w_j - min)
    k = len(centres)
    entries = [centres, np.full(k, n), n + 1 + centres, 2 * n + 1 + centres]
    values = [np.ones(k), np.ones(k), w[centres] - inst.max_pop, w[centres] - inst.min_pop]
    if u is not None:
        entries += [3 * n + 1 + centres, 4 * n + 1 + centres]
        values += [u[centres] - u_max, u[centres] - inst.min_work]
    per = len(entries)
    lp.add_columns(
        cost[centres, centres],
        np.ones(k),
        np.arange(0, per * k + 1, per),
        np.column_stack(entries).ravel(),
        np.column_stack(values).ravel(),
    )
    centre_col = -np.ones(n, dtype=int)
    centre_col[centres] = np.arange(k)
    col_i, col_j = list(centres), list(centres)
    present = np.zeros((n, n), dtype=bool)
    present[centres, centres] = True
    offdiag = allowed & ~np.eye(n, dtype=bool) & (centre_col[None, :] >= 0)

    def add(ii: np.ndarray, jj: np.ndarray) -> None:
        m = len(ii)
        first = lp.num_col
        entries = [ii, n + 1 + jj, 2 * n + 1 + jj]
        values = [np.ones(m), w[ii], w[ii]]
        if u is not None:
            entries += [3 * n + 1 + jj, 4 * n + 1 + jj]
            values += [u[ii], u[ii]]
        per = len(entries)
        lp.add_columns(
            cost[ii, jj],
            np.ones(m),
            np.arange(0, per * m + 1, per),
            np.column_stack(entries).ravel(),
            np.column_stack(values).ravel(),
        )
        lp.add_rows(
            np.full(m, -np.inf),
            np.zeros(m),
            np.arange(0, 2 * m + 1, 2),
            np.column_stack([first + np.arange(m), centre_col[jj]]).ravel(),
            np.tile([1.0, -1.0], m),
        )
        present[ii, jj] = True
        col_index.extend(range(first, first + m))
        col_i.extend(ii.tolist())
        col_j.extend(jj.tolist())

    # artificial columns keep every restricted LP feasible (big-M phase one): one per
    # assignment row and one per band-floor row; a positive one at the end means no LP solution
    big = 10.0 * float(d.max() + 1.0)
    floors = [2 * n + 1 + np.arange(n)] + ([4 * n + 1 + np.arange(n)] if u is not None else [])
    caps = [np.full(n, inst.min_pop)] + ([np.full(n, inst.min_work)] if u is not None else [])
    # per unit of the workload floor: as dear as the people that carry the least workload
    per_unit = [np.full(n, big)]
    if u is not None:
        least = float(u[u > 0].min()) if (u > 0).any() else 1.0
        per_unit.append(np.full(n, big * float(w.max() + 1.0) / least))
    lp.add_columns(
        np.concatenate([np.full(n, big * float(w.max() + 1.0)), *per_unit]),
        np.concatenate([np.ones(n), *caps]),
        np.arange((1 + len(floors)) * n + 1),
        np.concatenate([np.arange(n), *floors]),
        np.ones((1 + len(floors)) * n),
    )
    artificial = np.arange(k, k + (1 + len(floors)) * n)
    col_index = list(range(k))
    per_area = min(n - 1, TUNING.lp_first_columns_per_area)
    order = np.argsort(np.where(offdiag, d, np.inf), axis=1, kind="stable")[:, :per_area]
    first_i = np.repeat(np.arange(n), per_area)
    first_j = order.ravel()
    keep = offdiag[first_i, first_j]
    add(first_i[keep], first_j[keep])
    sol = lp.solve()
    if sol is None:
        raise SolverError(f"{inst.name}: the LP relaxation failed to solve")
    for _ in range(TUNING.lp_max_rounds):
        ya, ycap, yfloor = (
            sol.row_dual[:n],
            sol.row_dual[n + 1 : 2 * n + 1],
            sol.row_dual[2 * n + 1 : 3 * n + 1],
        )
        rc = cost - ya[:, None] - w[:, None] * (ycap + yfloor)[None, :]
        if u is not None:
            ucap, ufloor = sol.row_dual[3 * n + 1 : 4 * n + 1], sol.row_dual[4 * n + 1 : rows]
            rc = rc - u[:, None] * (ucap + ufloor)[None, :]
        candidate = np.where(offdiag & ~present, rc, np.inf)
        if candidate.min() >= -1e-9 * max(1.0, abs(sol.objective)):
            if sol.x[artificial].max() > 1e-6:
                return None  # the LP itself has no solution: neither has the MIP
            rc[np.array(col_i), np.array(col_j)] = sol.col_dual[np.array(col_index)]
            rc = np.where(present | offdiag, np.maximum(rc, 0.0), np.inf)
            opened = np.zeros(n)
            opened[centres] = sol.x[: len(centres)]
            return LpBound(sol.objective, rc, int(present.sum()), opened, ya.copy())
        if deadline is not None and deadline.expired():
            raise DeadlinePassed(f"{inst.name}: the LP had not converged by its deadline")
        per_round = min(n, TUNING.lp_columns_per_round)
        best = np.argsort(candidate, axis=1, kind="stable")[:, :per_round]
        take = (np.take_along_axis(candidate, best, axis=1) < 0).ravel()
        add(np.repeat(np.arange(n), per_round)[take], best.ravel()[take])
        sol = lp.solve()
        log.debug(
            "%s: LP %.1f with %d columns",
            inst.name,
            sol.objective if sol else math.nan,
            int(present.sum()),
        )
        if sol is None:
            raise SolverError(f"{inst.name}: the LP lost its solution while adding columns")
    raise SolverError(
        f"{inst.name}: column generation did not converge in {TUNING.lp_max_rounds} rounds"
    )


# a knapsack oracle: (reduced costs r_ij, instance, usable_t[j, i]) -> each centre's value, and
# per centre the areas taken (other than itself) with the share of each
Knapsacks = Callable[
    [np.ndarray, BlockInstance, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]
]


def _knapsacks(
    r: np.ndarray, inst: BlockInstance, usable_t: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every centre j, the LP knapsack: min sum r_ij x_ij over the areas i that may join j
    (``usable_t[j, i]``, i != j), with the team's population (w_j plus what it takes) in the band.

    Returns each centre's value (inf where the band cannot be met), and per centre the areas in
    the order taken with the share of each taken (only as many areas as some centre needs)."""
    w = inst.weights
    rt = np.ascontiguousarray(r.T)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(usable_t, rt / w[None, :], np.inf)
        free = usable_t & (w[None, :] <= 0)  # weightless areas: taken exactly when they pay
        ratio[free] = np.where(rt[free] < 0, -np.inf, np.inf)
    order = np.argsort(ratio, axis=1, kind="stable")
    ratio = np.take_along_axis(ratio, order, axis=1)
    taken_w = np.where(np.isfinite(ratio), w[order], 0.0)
    cum = np.cumsum(taken_w, axis=1)
    low, high = inst.min_pop - w, inst.max_pop - w
    paying = np.where(ratio < 0, taken_w, 0.0).sum(axis=1)
    amount = np.minimum(np.clip(paying, np.maximum(low, 0.0), high), cum[:, -1])
    feasible = (high >= 0) & (cum[:, -1] >= low - 1e-9)
    needed = ((cum - taken_w) < amount[:, None] - 1e-9) | (ratio == -np.inf)
    k = int(np.flatnonzero(needed.any(axis=0)).max(initial=0)) + 1
    order, ratio, taken_w, cum = order[:, :k], ratio[:, :k], taken_w[:, :k], cum[:, :k]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.clip((amount[:, None] - (cum - taken_w)) / taken_w, 0.0, 1.0)
    share = np.where(taken_w > 0, share, (ratio == -np.inf).astype(float))
    values = np.diagonal(r) + (share * np.take_along_axis(rt, order, axis=1)).sum(axis=1)
    return np.where(feasible, values, np.inf), order, share


def lagrangian_bounds(
    inst: BlockInstance,
    allowed: np.ndarray,
    counts: tuple[int, ...],
    upper: float,
    steps: int,
    deadline: Deadline | None = None,
    knapsacks: Knapsacks | None = None,
    start: np.ndarray | None = None,
) -> tuple[dict[int, float], np.ndarray]:
    """Lower bounds for every team count at once, by Lagrangian relaxation of 'each area in one
    team'.

    For any multipliers, the multipliers' sum plus the ``c`` cheapest centres' LP knapsacks
    bounds every plan with ``c`` teams from below, so one pass of knapsacks bounds every count.
    Subgradient steps (Polyak, towards ``upper``) raise the weakest count's bound. Stops after
    ``steps`` steps (reproducible) or at ``deadline``. A count with fewer usable centres than
    teams gets an infinite bound: no plan exists there. Returns each count's best bound and
    the centres' knapsack values at the multipliers of the best weakest bound. ``knapsacks``
    replaces the LP knapsacks with another oracle of the same form (any that gives each
    centre's value no higher than its best team's keeps the bound valid). ``start``: the first
    multipliers (e.g. the LP's ``assignment_dual``), instead of each area's cost to a centre
    about one team away.
    """
    knapsacks = knapsacks or _knapsacks
    n = len(inst.weights)
    cost = inst.cost
    counts = tuple(sorted(counts))
    usable_t = np.ascontiguousarray((allowed & ~np.eye(n, dtype=bool)).T)
    if start is None:
        middle = counts[len(counts) // 2]
        lam = np.sort(np.where(allowed, cost, np.inf), axis=1)[:, min(n - 1, max(1, n // middle))]
        lam = np.where(np.isfinite(lam), lam, 0.0)
    else:
        lam = start.astype(float)
    best = dict.fromkeys(counts, -math.inf)
    best_values, weakest_best = np.zeros(n), -math.inf
    step, stall = 1.0, 0
    # without an upper bound the steps aim 5% above the best so far, at least 5% of a certain
    # floor: from a start far below 0 the aim would otherwise shrink with the bound and stall
    scale = nearest_centre_bound(inst, allowed, counts[-1])
    for _ in range(steps):
        values, order, share = knapsacks(cost - lam[:, None], inst, usable_t)
        values = np.where(np.diagonal(allowed), values, np.inf)
        ranked = np.argsort(values, kind="stable")
        cumulative = np.cumsum(values[ranked])
        at = {c: float(lam.sum() + cumulative[c - 1]) if c <= n else math.inf for c in counts}
        for c, value in at.items():
            best[c] = max(best[c], value)
        weakest = min(counts, key=lambda c: (at[c], c))
        if not np.isfinite(at[weakest]):  # every count without enough usable centres
            return dict.fromkeys(counts, math.inf), values
        bound = at[weakest]
        if bound > weakest_best + 1e-9 * abs(bound):
            weakest_best, best_values, stall = bound, values, 0
        else:
            stall += 1
            if stall >= TUNING.lagrangian_stall_steps:
                step, stall = step / 2, 0
        chosen = ranked[:weakest]
        covered = np.bincount(order[chosen].ravel(), share[chosen].ravel(), minlength=n)
        covered[chosen] += 1.0
        g = 1.0 - covered
        norm = float(g @ g)
        if norm < 1e-12 or step < TUNING.lagrangian_min_step:
            break
        if deadline is not None and deadline.expired():
            break
        target = (
            upper if np.isfinite(upper) else weakest_best + 0.05 * max(abs(weakest_best), scale)
        )
        lam = lam + step * max(target - bound, 1e-6 * abs(bound)) / norm * g
    return best, best_values


def nearest_centre_bound(inst: BlockInstance, allowed: np.ndarray, count: int) -> float:
    """A bound every plan with ``count`` teams meets: at most ``count`` areas are centres (cost
    0); every other area pays at least its cheapest allowed centre other than itself. Weak, but
    positive and certain; it floors the Lagrangian bound when few steps leave that near 0."""
    n = len(inst.weights)
    if count >= n:
        return 0.0
    others = np.where(allowed & ~np.eye(n, dtype=bool), inst.cost, np.inf).min(axis=1)
    if not np.isfinite(others).all():
        return 0.0  # an area that can join no other centre must be one: no floor from it
    return float(np.sort(others)[: n - count].sum())


def lagrangian_bound(
    inst: BlockInstance,
    allowed: np.ndarray,
    count: int,
    upper: float,
    steps: int,
    deadline: Deadline | None = None,
) -> tuple[float, np.ndarray]:
    """``lagrangian_bounds`` for one count: its bound and the centres' knapsack values."""
    bounds, values = lagrangian_bounds(inst, allowed, (count,), upper, steps, deadline)
    return bounds[count], values
