"""Areas -> contiguous, compact teams whose population lies in a band.

The model is Hess's: every area joins exactly one team, each team is named by its centre area, and
the objective is the population-weighted distance (person-km) from each area to its team's centre.
Each team's population lies in [min, max] on the scenario's basis. Contiguity is enforced by the
formulation, with three families of valid inequalities that cut off no contiguous plan:

* population-path fixing: area i cannot join centre j when every path between them carries more
  than the band's maximum population (node-weighted shortest path), so that variable is never made;
* neighbour separators: a non-centre area joins centre j only if one of its neighbours does too;
* cut-vertex separators: an area beyond a cut vertex (e.g. an island beyond its only bridge) joins
  a centre on the other side only if the cut vertex joins it too;

and a,b-separator cuts added only when a solution splits a team (Validi, Buchanan & Lykhovyd 2022),
with the best contiguous plan so far passed back to HiGHS as a warm start. When teams are nested in
districts or groupings the problem separates exactly by group; the team count per group is then
chosen by a small exact dynamic programme over the groups' (objective, bound) pairs.

A block of more than ``LARGE_BLOCK_AREAS`` areas is too big for that model on two cores. It gets
its plan from star-contiguity models (an area joins a centre only after a touching area nearer
to it: contiguous by construction, a restriction, so plans only) over the centres of the
capacitated assignment, and its bound from Lagrangian relaxation, which holds for every plan.
"""

from __future__ import annotations

import logging
import math
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pulp
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from planning.config import SolverSettings, TeamSettings
from planning.errors import InfeasibleError, SolverError
from planning.geography import Geography, components
from planning.solve import ArrayMip, IncrementalLp, Mip, assignment_lp, relative_gap

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- problem pieces


@dataclass(frozen=True)
class Block:
    """A set of areas whose teams must lie within it, and the team counts it may take."""

    name: str
    members: np.ndarray  # indices into the geography, sorted
    counts: tuple[int, ...]
    population: float


@dataclass(frozen=True)
class BlockInstance:
    """Everything one block's model needs, as plain arrays (picklable for worker processes)."""

    name: str
    weights: np.ndarray  # population on the band's basis, per member
    dist_km: np.ndarray  # (n, n)
    cost: (
        np.ndarray
    )  # (n, n): person-km of area i in the team centred at j, plus any change penalty
    edges: np.ndarray  # (m, 2) local indices
    min_pop: float
    max_pop: float
    counts: tuple[int, ...]
    labels: tuple[str, ...]  # "code (name)" per member, for messages


@dataclass(frozen=True)
class BlockResult:
    """The best contiguous plan found for one block at one team count, with its proof."""

    name: str
    count: int
    status: str
    objective: float | None
    bound: float | None
    centres: np.ndarray | None  # local index of each member's centre
    seconds: float
    cut_rounds: int
    cuts: int

    @property
    def gap(self) -> float | None:
        return relative_gap(self.objective, self.bound)


@dataclass(frozen=True)
class TeamPlan:
    """Areas allocated to teams, the teams table, and the solver's evidence."""

    assignment: pd.Series  # index area_code, values team_id
    teams: pd.DataFrame
    status: str
    objective: float
    bound: float
    gap: float
    seconds: float
    population_basis: str
    blocks: list[dict] = field(default_factory=list)
    changed_areas: int | None = None  # with a current plan: areas whose team changes
    changed_residents: float | None = None
    changed_children: float | None = None


# --------------------------------------------------------------------------- blocks and counts


def count_range(population: float, min_pop: float, max_pop: float) -> tuple[int, int]:
    """Team counts the band admits for a population: ceil(P / max) .. floor(P / min)."""
    return math.ceil(population / max_pop - 1e-9), math.floor(population / min_pop + 1e-9)


def plan_blocks(areas: pd.DataFrame, settings: TeamSettings) -> tuple[list[Block], list[str]]:
    """Split areas into blocks by the nesting rule and list each block's admissible team counts.

    Returns the blocks and a list of problems (empty when every block can be met).
    """
    weights = areas[settings.population_basis].to_numpy(float)
    if settings.nesting == "none":
        names = (
            sorted(set(areas.district_name))
            if areas.district_code.nunique() == 1
            else sorted(set(areas.get("council_name", areas.district_name)))
        )
        groups = [(" and ".join(names), np.arange(len(areas)), None, None)]
    elif settings.nesting == "district":
        groups = [
            (name, np.flatnonzero(areas.district_code.to_numpy() == code), None, None)
            for code, name in areas[["district_code", "district_name"]]
            .drop_duplicates()
            .sort_values("district_code")
            .itertuples(index=False)
        ]
    else:
        district = areas.district_code.to_numpy()
        groups = [
            (g.name, np.flatnonzero(np.isin(district, g.districts)), g.min_teams, g.max_teams)
            for g in settings.groupings
        ]
    problems = []
    if settings.nesting == "groupings":
        claimed: dict[str, str] = {}
        for g in settings.groupings:
            for code in g.districts:
                if code in claimed:
                    problems.append(
                        f"district {code} is in groupings '{claimed[code]}' and '{g.name}'"
                    )
                claimed[code] = g.name
        names = dict(zip(areas.district_code, areas.district_name, strict=False))
        missing = sorted(set(areas.district_code) - set(claimed))
        for code in missing:
            problems.append(f"district {code} ({names[code]}) is in no grouping; add it to one")
        for code in sorted(set(claimed) - set(areas.district_code)):
            problems.append(
                f"grouping '{claimed[code]}' names district {code}, which is not in the councils"
            )
    blocks = []
    for name, members, gmin, gmax in groups:
        pop = float(weights[members].sum())
        lo, hi = count_range(pop, settings.min_population, settings.max_population)
        want_lo = gmin or settings.min_teams_per_group or 1
        want_hi = gmax or settings.max_teams_per_group or hi
        counts = tuple(range(max(lo, want_lo), min(hi, want_hi) + 1))
        if len(members) == 0:
            problems.append(f"{name}: has no areas")
        elif not counts:
            problems.append(_count_problem(name, pop, settings, (lo, hi), (want_lo, want_hi)))
        blocks.append(Block(name, np.sort(members), counts, pop))
    if settings.total_teams is not None and not problems:
        lo = sum(min(b.counts) for b in blocks)
        hi = sum(max(b.counts) for b in blocks)
        if not lo <= settings.total_teams <= hi:
            problems.append(
                f"total_teams {settings.total_teams} cannot be met: the groups admit {lo}-{hi} "
                "teams in all ("
                + ", ".join(f"{b.name} {min(b.counts)}-{max(b.counts)}" for b in blocks)
                + ")"
            )
    return blocks, problems


def _count_problem(
    name: str, pop: float, settings: TeamSettings, admits: tuple[int, int], wanted: tuple[int, int]
) -> str:
    """Why no team count fits a block, and what band or counts would."""
    lo, hi = admits
    band = f"{settings.min_population:,g}-{settings.max_population:,g}"
    head = f"{name}: {pop:,.0f} {settings.population_basis}"
    if hi == 0:
        return (
            f"{head} is below the band's minimum of {settings.min_population:,g} on its own; "
            f"join it to a neighbour or lower min_population to {pop:,.0f} or less"
        )
    if lo > hi:
        return (
            f"{head} cannot be split into teams of {band}: staying under the maximum needs "
            f"at least {lo} teams, but at most {hi} fit above the minimum; lower "
            f"min_population to {pop / lo:,.0f} ({lo} teams) or raise max_population to "
            f"{pop / hi:,.0f} ({hi} teams)"
        )
    want_lo, want_hi = wanted
    return (
        f"{head} cannot form {want_lo}-{want_hi} teams of {band}: the band admits {lo}-{hi} "
        f"teams; {want_lo}-{want_hi} teams would need a band of about "
        f"{pop / want_hi:,.0f}-{pop / want_lo:,.0f}"
    )


def feasible_blocks(areas: pd.DataFrame, settings: TeamSettings) -> list[Block]:
    """The blocks, or an InfeasibleError listing every block no team count can meet."""
    blocks, problems = plan_blocks(areas, settings)
    if problems:
        raise InfeasibleError(
            f"no plan can meet the team band of {settings.min_population:,g}-"
            f"{settings.max_population:,g} {settings.population_basis}:",
            problems,
        )
    return blocks


def block_instance(
    geo: Geography,
    weights: np.ndarray,
    block: Block,
    settings: TeamSettings,
    current: np.ndarray | None = None,
) -> BlockInstance:
    """The arrays of one block, with edges restricted to it and relabelled 0..n-1.

    With a current plan (team label per area), putting area i in the team centred at j costs
    ``change_penalty_km_per_person`` extra per person when i's current team differs from j's.
    """
    members = block.members
    local = -np.ones(geo.n, dtype=int)
    local[members] = np.arange(len(members))
    e = geo.edges
    inside = (local[e[:, 0]] >= 0) & (local[e[:, 1]] >= 0)
    edges = np.column_stack([local[e[inside, 0]], local[e[inside, 1]]])
    labels = tuple(geo.label(i) for i in members)
    dist = geo.distance_km(members, members)
    cost = weights[members, None] * dist
    if current is not None and settings.change_penalty_km_per_person > 0:
        moved = current[members, None] != current[None, members]
        cost = cost + settings.change_penalty_km_per_person * weights[members, None] * moved
    return BlockInstance(
        name=block.name,
        weights=weights[members].astype(float),
        dist_km=dist,
        cost=cost,
        edges=edges,
        min_pop=float(settings.min_population),
        max_pop=float(settings.max_population),
        counts=block.counts,
        labels=labels,
    )


# --------------------------------------------------------------------------- graph helpers


def _adjacency(n: int, edges: np.ndarray) -> list[np.ndarray]:
    adj: list[list[int]] = [[] for _ in range(n)]
    for a, b in edges:
        adj[a].append(int(b))
        adj[b].append(int(a))
    return [np.array(sorted(x), dtype=int) for x in adj]


def population_path(n: int, edges: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Smallest total population on a path between every pair (both ends counted)."""
    if len(edges) == 0:
        return np.where(np.eye(n, dtype=bool), weights[:, None], np.inf)
    heads = np.concatenate([edges[:, 1], edges[:, 0]])
    tails = np.concatenate([edges[:, 0], edges[:, 1]])
    # every edge weight is the head's population (plus a tiny epsilon so zero weights stay edges)
    graph = csr_matrix((weights[heads] + 1e-6, (tails, heads)), shape=(n, n))
    return dijkstra(graph, directed=True) + weights[:, None]


def allowed_columns(inst: BlockInstance) -> np.ndarray:
    """allowed[i, j]: some path from area i to centre j carries no more than the band's maximum
    population, so i may join the team centred at j (population-path fixing)."""
    n = len(inst.weights)
    return population_path(n, inst.edges, inst.weights) <= inst.max_pop + 1e-6


def _cut_vertex_sides(n: int, adj: list[np.ndarray]) -> list[tuple[int, list[np.ndarray]]]:
    """For each cut vertex, the vertex sets of the components left when it is removed."""
    out = []
    order = np.arange(n)
    for a in order:
        if len(adj[a]) < 2:
            continue
        seen = np.zeros(n, dtype=bool)
        seen[a] = True
        parts = []
        for start in adj[a]:
            if seen[start]:
                continue
            stack, comp = [int(start)], []
            seen[start] = True
            while stack:
                u = stack.pop()
                comp.append(u)
                for v in adj[u]:
                    if not seen[v]:
                        seen[v] = True
                        stack.append(int(v))
            parts.append(np.array(sorted(comp)))
        if len(parts) > 1:
            out.append((int(a), parts))
    return out


def split_teams(centres: np.ndarray, adj: list[np.ndarray]) -> list[tuple[int, np.ndarray]]:
    """Pieces of teams cut off from their centre: (centre, piece members)."""
    pieces = []
    for j in np.unique(centres):
        members = np.flatnonzero(centres == j)
        inside = np.zeros(len(centres), dtype=bool)
        inside[members] = True
        seen = np.zeros(len(centres), dtype=bool)
        for start in members:
            if seen[start]:
                continue
            stack, comp = [int(start)], []
            seen[start] = True
            while stack:
                u = stack.pop()
                comp.append(u)
                for v in adj[u]:
                    if inside[v] and not seen[v]:
                        seen[v] = True
                        stack.append(int(v))
            if j not in comp:
                pieces.append((int(j), np.array(sorted(comp))))
    return pieces


def plan_cost(centres: np.ndarray, inst: BlockInstance) -> float:
    return float(inst.cost[np.arange(len(centres)), centres].sum())


def plan_is_valid(centres: np.ndarray, inst: BlockInstance, adj: list[np.ndarray]) -> bool:
    pops = np.bincount(centres, weights=inst.weights, minlength=len(centres))
    used = np.unique(centres)
    in_band = np.all((pops[used] >= inst.min_pop - 1e-6) & (pops[used] <= inst.max_pop + 1e-6))
    return bool(in_band and np.all(centres[used] == used) and not split_teams(centres, adj))


# --------------------------------------------------------------------------- repair heuristic


def repair(centres: np.ndarray, inst: BlockInstance, adj: list[np.ndarray]) -> np.ndarray | None:
    """Move each piece cut off from its team to a touching team, keeping the band; None if stuck."""
    centres = centres.copy()
    for _ in range(4 * len(centres)):
        pieces = split_teams(centres, adj)
        if not pieces:
            return centres if plan_is_valid(centres, inst, adj) else None
        pops = np.bincount(centres, weights=inst.weights, minlength=len(centres))
        moved = False
        for j, piece in sorted(pieces, key=lambda p: (len(p[1]), p[1][0])):
            piece_pop = inst.weights[piece].sum()
            if pops[j] - piece_pop < inst.min_pop - 1e-6:
                continue
            targets = {int(centres[v]) for u in piece for v in adj[u]} - {j}
            best = None
            for t in sorted(targets):
                if pops[t] + piece_pop > inst.max_pop + 1e-6:
                    continue
                cost = float(inst.cost[piece, t].sum())
                if best is None or cost < best[0]:
                    best = (cost, t)
            if best is not None:
                centres[piece] = best[1]
                pops[j] -= piece_pop
                pops[best[1]] += piece_pop
                moved = True
                break
        if not moved:
            return None
    return None


def _connected_without(members: np.ndarray, drop: int, adj: list[np.ndarray]) -> bool:
    rest = members[members != drop]
    if len(rest) == 0:
        return False
    inside = np.zeros(len(adj), dtype=bool)
    inside[rest] = True
    seen = {int(rest[0])}
    stack = [int(rest[0])]
    while stack:
        u = stack.pop()
        for v in adj[u]:
            if inside[v] and int(v) not in seen:
                seen.add(int(v))
                stack.append(int(v))
    return len(seen) == len(rest)


def _medoid(members: np.ndarray, inst: BlockInstance) -> tuple[int, float]:
    costs = inst.cost[np.ix_(members, members)].sum(axis=0)
    k = int(np.argmin(costs))
    return int(members[k]), float(costs[k])


def _medoids(labels: np.ndarray, inst: BlockInstance) -> np.ndarray:
    """Each area's team relabelled by the team's best centre."""
    out = np.empty_like(labels)
    for t in np.unique(labels):
        members = np.flatnonzero(labels == t)
        out[members] = _medoid(members, inst)[0]
    return out


def grow_plan(seeds: np.ndarray, inst: BlockInstance, adj: list[np.ndarray]) -> np.ndarray | None:
    """A contiguous plan grown from seed areas, then balanced into the band (None if it cannot be).

    Teams grow one touching area at a time, always the unclaimed area nearest its team's seed,
    while they stay under the band's maximum; leftovers join a touching team; then single areas
    move between touching teams, keeping each contiguous, until every team is in the band.
    """
    import heapq

    n = len(inst.weights)
    team = -np.ones(n, dtype=int)
    pops = np.zeros(n)
    heap: list[tuple[float, int, int]] = []
    for s in seeds:
        team[s] = s
        pops[s] = inst.weights[s]
        for v in adj[s]:
            heapq.heappush(heap, (inst.dist_km[v, s], int(v), int(s)))
    while heap:
        _, v, s = heapq.heappop(heap)
        if team[v] >= 0 or pops[s] + inst.weights[v] > inst.max_pop:
            continue
        team[v] = s
        pops[s] += inst.weights[v]
        for u in adj[v]:
            if team[u] < 0:
                heapq.heappush(heap, (inst.dist_km[u, s], int(u), int(s)))
    while (team < 0).any():  # leftovers: join the nearest touching team
        progress = False
        for v in np.flatnonzero(team < 0):
            near = [int(team[u]) for u in adj[v] if team[u] >= 0]
            if near:
                s = min(near, key=lambda c: (inst.dist_km[v, c], c))
                team[v] = s
                pops[s] += inst.weights[v]
                progress = True
        if not progress:
            return None
    return balance(team, inst, adj)


def balance(team: np.ndarray, inst: BlockInstance, adj: list[np.ndarray]) -> np.ndarray | None:
    """Move single boundary areas between touching teams to bring every team into the band."""
    team = team.copy()
    lo, hi = inst.min_pop, inst.max_pop

    def excess(p: float) -> float:
        return max(0.0, lo - p) + max(0.0, p - hi)

    pops = {int(c): float(inst.weights[team == c].sum()) for c in np.unique(team)}
    for _ in range(20 * len(team)):
        if all(excess(p) < 1e-6 for p in pops.values()):
            return team
        best = None
        for i in range(len(team)):
            a = int(team[i])
            w = inst.weights[i]
            if i == a:
                continue
            for b in sorted({int(team[v]) for v in adj[i]} - {a}):
                before = excess(pops[a]) + excess(pops[b])
                after = excess(pops[a] - w) + excess(pops[b] + w)
                if after < before - 1e-6:
                    gain = (before - after, -inst.dist_km[i, b])
                    if best is None or gain > best[0]:
                        members = np.flatnonzero(team == a)
                        if _connected_without(members, i, adj):
                            best = (gain, i, a, b)
        if best is None:
            return None
        _, i, a, b = best
        team[i] = b
        pops[a] -= inst.weights[i]
        pops[b] += inst.weights[i]
    return None


def spread_seeds(count: int, inst: BlockInstance, preferred: np.ndarray) -> np.ndarray:
    """``count`` seed areas: the first preferred one, then each next the preferred area farthest
    (population-weighted) from the seeds so far."""
    seeds = [int(preferred[0])]
    pool = preferred[: max(count * 6, count)]
    while len(seeds) < count:
        gap = inst.dist_km[np.ix_(pool, seeds)].min(axis=1)
        seeds.append(int(pool[int(np.argmax(gap))]))
    return np.array(seeds)


def improve(centres: np.ndarray, inst: BlockInstance, adj: list[np.ndarray]) -> np.ndarray:
    """Local search on a valid plan: move single boundary areas between touching teams while
    the band and contiguity hold and the cost (with each team's best centre) falls."""
    team = centres.copy()
    members = {int(c): np.flatnonzero(team == c) for c in np.unique(team)}
    cost = {c: _medoid(m, inst)[1] for c, m in members.items()}
    pops = {c: float(inst.weights[m].sum()) for c, m in members.items()}
    improved = True
    passes = 0
    while improved and passes < 50:
        improved, passes = False, passes + 1
        for i in range(len(team)):
            a = int(team[i])
            w = inst.weights[i]
            if pops[a] - w < inst.min_pop - 1e-6:
                continue
            for b in sorted({int(team[v]) for v in adj[i]} - {a}):
                if pops[b] + w > inst.max_pop + 1e-6:
                    continue
                if not _connected_without(members[a], i, adj):
                    break
                new_a = members[a][members[a] != i]
                new_b = np.sort(np.append(members[b], i))
                (_, cost_a), (_, cost_b) = _medoid(new_a, inst), _medoid(new_b, inst)
                if cost_a + cost_b < cost[a] + cost[b] - 1e-6:
                    team[i] = b
                    members[a], members[b] = new_a, new_b
                    cost[a], cost[b] = cost_a, cost_b
                    pops[a] -= w
                    pops[b] += w
                    improved = True
                    break
    return _medoids(team, inst)  # every team relabelled by its best centre


# --------------------------------------------------------------------------- LP bound


@dataclass(frozen=True)
class LpBound:
    """The LP relaxation of Hess's model over every allowed column, with reduced costs."""

    value: float
    reduced_cost: np.ndarray  # (n, n): rc of x_ij; diagonal is the centre's own column
    columns: int  # columns generated before the LP was proven optimal over all of them
    centre_value: np.ndarray  # LP value of each area's centre column (how open it is)


def lp_bound(
    inst: BlockInstance, allowed: np.ndarray, count: int, threads: int = 1
) -> LpBound | None:
    """Column generation on the LP relaxation; None when even the LP has no solution.

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
    lp = IncrementalLp(
        np.concatenate([np.ones(n), [count], np.full(n, -np.inf), np.zeros(n)]),
        np.concatenate([np.ones(n), [count], np.zeros(n), np.full(n, np.inf)]),
        threads=threads,
    )
    # centre columns: assignment of j, the count, and the band rows of j (w_j - max, w_j - min)
    k = len(centres)
    lp.add_columns(
        cost[centres, centres],
        np.ones(k),
        np.arange(0, 4 * k + 1, 4),
        np.column_stack([centres, np.full(k, n), n + 1 + centres, 2 * n + 1 + centres]).ravel(),
        np.column_stack(
            [np.ones(k), np.ones(k), w[centres] - inst.max_pop, w[centres] - inst.min_pop]
        ).ravel(),
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
        lp.add_columns(
            cost[ii, jj],
            np.ones(m),
            np.arange(0, 3 * m + 1, 3),
            np.column_stack([ii, n + 1 + jj, 2 * n + 1 + jj]).ravel(),
            np.column_stack([np.ones(m), w[ii], w[ii]]).ravel(),
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
    lp.add_columns(
        np.concatenate([np.full(n, big * float(w.max() + 1.0)), np.full(n, big)]),
        np.concatenate([np.ones(n), np.full(n, inst.min_pop)]),
        np.arange(2 * n + 1),
        np.concatenate([np.arange(n), 2 * n + 1 + np.arange(n)]),
        np.ones(2 * n),
    )
    artificial = np.arange(k, k + 2 * n)
    col_index = list(range(k))
    per_area = min(n - 1, 12)
    order = np.argsort(np.where(offdiag, d, np.inf), axis=1, kind="stable")[:, :per_area]
    first_i = np.repeat(np.arange(n), per_area)
    first_j = order.ravel()
    keep = offdiag[first_i, first_j]
    add(first_i[keep], first_j[keep])
    sol = lp.solve()
    if sol is None:
        raise SolverError(f"{inst.name}: the LP relaxation failed to solve")
    for _ in range(200):
        ya, ycap, yfloor = (
            sol.row_dual[:n],
            sol.row_dual[n + 1 : 2 * n + 1],
            sol.row_dual[2 * n + 1 : 3 * n + 1],
        )
        rc = cost - ya[:, None] - w[:, None] * (ycap + yfloor)[None, :]
        candidate = np.where(offdiag & ~present, rc, np.inf)
        if candidate.min() >= -1e-9 * max(1.0, abs(sol.objective)):
            if sol.x[artificial].max() > 1e-6:
                return None  # the LP itself has no solution: neither has the MIP
            rc[np.array(col_i), np.array(col_j)] = sol.col_dual[np.array(col_index)]
            rc = np.where(present | offdiag, np.maximum(rc, 0.0), np.inf)
            opened = np.zeros(n)
            opened[centres] = sol.x[: len(centres)]
            return LpBound(sol.objective, rc, int(present.sum()), opened)
        best = np.argsort(candidate, axis=1, kind="stable")[:, :20]
        take = (np.take_along_axis(candidate, best, axis=1) < 0).ravel()
        add(np.repeat(np.arange(n), 20)[take], best.ravel()[take])
        sol = lp.solve()
        log.debug(
            "%s: LP %.1f with %d columns",
            inst.name,
            sol.objective if sol else math.nan,
            int(present.sum()),
        )
        if sol is None:
            raise SolverError(f"{inst.name}: the LP lost its solution while adding columns")
    raise SolverError(f"{inst.name}: column generation did not converge in 200 rounds")


# --------------------------------------------------------------------------- large blocks


LARGE_BLOCK_AREAS = 250  # above this, the LP by column generation is too slow on 2 cores


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


def lagrangian_bound(
    inst: BlockInstance,
    allowed: np.ndarray,
    count: int,
    upper: float,
    seconds: float,
    iterations: int = 400,
) -> tuple[float, np.ndarray]:
    """A lower bound for the whole model by Lagrangian relaxation of 'each area in one team'.

    For any multipliers, the sum of the multipliers plus the ``count`` cheapest centres' LP
    knapsacks bounds every plan from below; subgradient steps (Polyak, towards ``upper``) raise
    it. Stops after ``iterations`` steps (so the bound is reproducible) or ``seconds``, whichever
    is first. Returns the best bound and each centre's knapsack value at the best multipliers.
    """
    n = len(inst.weights)
    cost = inst.cost
    usable_t = np.ascontiguousarray((allowed & ~np.eye(n, dtype=bool)).T)
    lam = np.sort(np.where(allowed, cost, np.inf), axis=1)[:, min(n - 1, max(1, n // count))]
    lam = np.where(np.isfinite(lam), lam, 0.0)
    best, best_values = -math.inf, np.zeros(n)
    step, stall = 1.0, 0
    stop = time.perf_counter() + seconds
    for _ in range(iterations):
        values, order, share = _knapsacks(cost - lam[:, None], inst, usable_t)
        values = np.where(np.diagonal(allowed), values, np.inf)
        chosen = np.argsort(values, kind="stable")[:count]
        if not np.all(np.isfinite(values[chosen])):
            return math.inf, values
        bound = float(lam.sum() + values[chosen].sum())
        if bound > best + 1e-9 * abs(bound):
            best, best_values, stall = bound, values, 0
        else:
            stall += 1
            if stall >= 15:
                step, stall = step / 2, 0
        covered = np.bincount(order[chosen].ravel(), share[chosen].ravel(), minlength=n)
        covered[chosen] += 1.0
        g = 1.0 - covered
        norm = float(g @ g)
        if norm < 1e-12 or step < 1e-4 or time.perf_counter() > stop:
            break
        target = upper if np.isfinite(upper) else best + 0.05 * abs(best)
        lam = lam + step * max(target - bound, 1e-6 * abs(bound)) / norm * g
    return best, best_values


def geodesic_km(inst: BlockInstance) -> np.ndarray:
    """Shortest walk between every pair of areas, stepping between touching areas' centroids."""
    n = len(inst.weights)
    pairs = np.unique(np.sort(inst.edges, axis=1), axis=0) if len(inst.edges) else inst.edges
    if len(pairs) == 0:
        return np.where(np.eye(n, dtype=bool), 0.0, np.inf)
    km = inst.dist_km[pairs[:, 0], pairs[:, 1]] + 1e-6
    graph = csr_matrix((km, (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    return dijkstra(graph, directed=False)


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
    model: StarModel, inst: BlockInstance, deadline: float, gap: float, warm: np.ndarray | None
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
        time_limit=deadline - time.perf_counter(), relative_gap_target=gap, warm_start=values
    )
    if not res.has_solution:
        return None
    plan = np.empty(len(inst.weights), dtype=int)
    chosen = res.values > 0.5
    plan[model.area[chosen]] = model.centres[model.column[chosen]]
    return plan


def capacitated_centres(
    inst: BlockInstance, count: int, first: int, solver: SolverSettings, rounds: int = 30
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
    for _ in range(rounds):
        lp = assignment_lp(
            inst.cost[:, centres], inst.weights, inst.min_pop, inst.max_pop, threads=solver.threads
        )
        if lp is None:
            return None
        x, value = lp
        moved = np.sort(np.unique(_medoids(centres[np.argmax(x, axis=1)], inst)))
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
    deadline: float,
    incumbent: np.ndarray | None,
) -> np.ndarray | None:
    """A plan from star models: centres from the capacitated assignment (several spread
    starts, best LP first), then the star model at those centres, local search, each team's
    medoid as its new centre, and again, while the plan improves."""
    geo = geodesic_km(inst)
    best = incumbent
    best_cost = plan_cost(best, inst) if best is not None else math.inf
    if best is not None:
        starts = [np.unique(best)]
    else:
        firsts = spread_seeds(4, inst, np.argsort(inst.cost.sum(axis=0), kind="stable"))
        found = (capacitated_centres(inst, count, f, solver) for f in firsts)
        ranked = sorted((value, tuple(c)) for c, value in filter(None, found))
        starts = [np.array(c) for c in dict.fromkeys(c for _, c in ranked)]  # cheapest LP first
    for centres in starts:
        tried: set[tuple] = set()
        gap = 0.5 * solver.relative_gap  # quick first; tighter once the centres settle
        while time.perf_counter() < deadline and (tuple(centres), gap) not in tried:
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
            elif gap > 0.1 * solver.relative_gap:
                gap = 0.1 * solver.relative_gap
            else:
                break
        if best is not None:
            break
    # then the centres move together: each team's few best centres, areas to touching teams
    while best is not None and time.perf_counter() < deadline:
        centres, mask = centre_neighbourhood(best, inst, 3)
        model = star_model(inst, geo, centres, allowed[:, centres] & mask, count, solver)
        plan = star_plan(model, inst, deadline, 0.1 * solver.relative_gap, best)
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


def sub_instance(inst: BlockInstance, members: np.ndarray, count: int) -> BlockInstance:
    """The block restricted to some of its areas (local indices), to hold ``count`` teams."""
    local = -np.ones(len(inst.weights), dtype=int)
    local[members] = np.arange(len(members))
    e = inst.edges
    inside = (local[e[:, 0]] >= 0) & (local[e[:, 1]] >= 0)
    return BlockInstance(
        name=f"{inst.name} (pair)",
        weights=inst.weights[members],
        dist_km=inst.dist_km[np.ix_(members, members)],
        cost=inst.cost[np.ix_(members, members)],
        edges=np.column_stack([local[e[inside, 0]], local[e[inside, 1]]]),
        min_pop=inst.min_pop,
        max_pop=inst.max_pop,
        counts=(count,),
        labels=tuple(inst.labels[i] for i in members),
    )


def resplit_pairs(
    centres: np.ndarray,
    inst: BlockInstance,
    adj: list[np.ndarray],
    solver: SolverSettings,
    deadline: float,
) -> np.ndarray:
    """Large-neighbourhood search: merge two touching teams and re-split them exactly into two
    (the small-block solver, proven within 0.5%), keeping the result when it costs less."""
    team = centres.copy()
    improved = True
    while improved and time.perf_counter() < deadline:
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
            if time.perf_counter() >= deadline:
                break
            if a not in labels or b not in labels:
                continue
            members = np.flatnonzero((team == a) | (team == b))
            sub = sub_instance(inst, members, 2)
            old = np.searchsorted(members, team[members])
            old_cost = float(sub.cost[np.arange(len(members)), old].sum())
            budget = min(deadline, time.perf_counter() + 10.0)
            res = solve_block_count(sub, 2, solver, budget, 0.005, incumbent=old)
            if res.centres is not None and res.objective < old_cost - 1e-6 * abs(old_cost):
                team[members] = members[res.centres]
                labels = np.unique(team)
                improved = True
                log.debug(
                    "%s: re-split two teams, %.0f -> %.0f", inst.name, old_cost, res.objective
                )
    return team


def solve_large_block(
    inst: BlockInstance,
    count: int,
    solver: SolverSettings,
    deadline: float,
    gap_target: float,
    incumbent: np.ndarray | None = None,
    lp: LpBound | None = None,
    exact: bool = True,
) -> BlockResult:
    """A large block: a plan from star models over the capacitated assignment's centres
    (falling back to a grown plan, then to the restricted MIP with cuts), with a Lagrangian
    bound that holds for the whole model (every centre, every area, contiguity aside).

    Same signature as ``solve_block_count`` (``_solve_task`` picks one by block size); ``lp``
    and ``exact`` are not used here."""
    start = time.perf_counter()
    n = len(inst.weights)
    allowed = allowed_columns(inst)
    adj = _adjacency(n, inst.edges)
    best = star_search(
        inst, count, allowed, adj, solver, start + 0.6 * (deadline - start), incumbent
    )
    rounds = cuts = 0
    if best is None:  # no star plan: a grown plan, then the restricted MIP with cuts
        bound, values = lagrangian_bound(inst, allowed, count, math.inf, 0.1 * (deadline - start))
        preferred = np.argsort(values, kind="stable")
        grown = grow_plan(spread_seeds(count, inst, preferred), inst, adj)
        best = improve(grown, inst, adj) if grown is not None else None
        for width in (3, 2, 1) if np.isfinite(bound) else ():
            if best is not None:
                break
            centres = np.zeros(n, dtype=bool)
            centres[preferred[: width * count]] = True
            columns = allowed & centres[None, :]
            columns[np.arange(n), np.arange(n)] = centres
            model = BlockModel(inst, columns, count, solver)
            stop = min(deadline, time.perf_counter() + 0.5 * (deadline - time.perf_counter()))
            _, best, _, r = model.solve(stop, gap_target, None, math.inf)
            rounds, cuts = rounds + r, cuts + model.cuts
    objective = plan_cost(best, inst) if best is not None else None
    bound, _ = lagrangian_bound(
        inst,
        allowed,
        count,
        math.inf if objective is None else objective,
        max(1.0, deadline - time.perf_counter()),
    )
    seconds = time.perf_counter() - start
    if objective is None:
        status = "time_limit" if np.isfinite(bound) else "infeasible"
        bound = bound if np.isfinite(bound) else None
        return BlockResult(inst.name, count, status, None, bound, None, seconds, rounds, cuts)
    bound = min(bound, objective)
    status = "optimal" if relative_gap(objective, bound) <= gap_target + 1e-12 else "time_limit"
    return BlockResult(inst.name, count, status, objective, bound, best, seconds, rounds, cuts)


# --------------------------------------------------------------------------- the block model


class BlockModel:
    """Hess's model over a set of columns with the static contiguity inequalities."""

    def __init__(
        self, inst: BlockInstance, columns: np.ndarray, count: int, solver: SolverSettings
    ) -> None:
        self.inst = inst
        n = len(inst.weights)
        self.n = n
        self.adj = _adjacency(n, inst.edges)
        prob = pulp.LpProblem("teams", pulp.LpMinimize)
        pairs = np.argwhere(columns)
        x = {
            (int(i), int(j)): pulp.LpVariable(f"x_{i:04d}_{j:04d}", cat=pulp.LpBinary)
            for i, j in pairs
        }
        self.x = x
        by_area: list[list[int]] = [[] for _ in range(n)]
        by_centre: list[list[int]] = [[] for _ in range(n)]
        for i, j in x:
            by_area[i].append(j)
            by_centre[j].append(i)
        w = inst.weights
        prob += pulp.lpSum(float(inst.cost[i, j]) * var for (i, j), var in x.items())
        for i in range(n):
            prob += pulp.lpSum(x[i, j] for j in by_area[i]) == 1, f"one_team_{i}"
        prob += pulp.lpSum(x[j, j] for j in range(n) if (j, j) in x) == count, "team_count"
        for j in range(n):
            if (j, j) not in x:
                continue
            members = pulp.lpSum(float(w[i]) * x[i, j] for i in by_centre[j])
            prob += members <= inst.max_pop * x[j, j], f"max_pop_{j}"
            prob += members >= inst.min_pop * x[j, j], f"min_pop_{j}"
            for i in by_centre[j]:
                if i != j:
                    prob += x[i, j] <= x[j, j], f"centre_{i}_{j}"
        # neighbour separators: a non-centre area joins centre j only if a neighbour does too
        for i, j in x:
            if i != j:
                nbrs = [int(k) for k in self.adj[i] if (int(k), j) in x]
                prob += x[i, j] <= pulp.lpSum(x[k, j] for k in nbrs), f"nbr_{i}_{j}"
        # cut-vertex separators (where the cut-off side has more than one area)
        for a, parts in _cut_vertex_sides(n, self.adj):
            for p, side in enumerate(parts):
                if len(side) < 2:
                    continue
                others = np.concatenate([q for r, q in enumerate(parts) if r != p])
                for i in side:
                    for j in others:
                        key = (int(i), int(j))
                        if key in x and (a, int(j)) in x:
                            prob += x[key] <= x[a, int(j)], f"cv_{a}_{i}_{j}"
                        elif key in x:
                            prob += x[key] == 0, f"cv_{a}_{i}_{j}"
        self.problem = prob
        self.mip = Mip(prob, threads=solver.threads, seed=solver.seed)
        self.cuts = 0

    def centres_of(self, values: np.ndarray) -> np.ndarray:
        centres = np.full(self.n, -1, dtype=int)
        for (i, j), var in self.x.items():
            if self.mip.value_of(values, var) > 0.5:
                centres[i] = j
        return centres

    def values_of(self, centres: np.ndarray) -> np.ndarray | None:
        values = np.zeros(len(self.mip.variables))
        for i, j in enumerate(centres):
            var = self.x.get((i, int(j)))
            if var is None:
                return None
            values[self.mip.index[id(var)]] = 1.0
        return values

    def separator_cuts(self, centres: np.ndarray) -> list[pulp.LpConstraint]:
        """Cuts for each piece cut off from its centre j: x_ij <= sum of x_kj over its boundary."""
        cuts = []
        for j, piece in split_teams(centres, self.adj):
            inside = set(piece.tolist())
            boundary = sorted({int(v) for u in piece for v in self.adj[u]} - inside)
            rhs = pulp.lpSum(self.x[k, j] for k in boundary if (k, j) in self.x)
            for i in piece:
                if (int(i), j) in self.x:
                    cuts.append(self.x[int(i), j] <= rhs)
        return cuts

    def solve(
        self, deadline: float, gap_target: float, incumbent: np.ndarray | None, outside_bound: float
    ) -> tuple[str, np.ndarray | None, float | None, int]:
        """Cut loop: best contiguous plan and a bound (capped by ``outside_bound``, the least cost
        of any plan using a column left out of this model)."""
        inst = self.inst
        best = incumbent
        best_cost = plan_cost(best, inst) if best is not None else math.inf
        bound: float | None = None
        rounds = 0
        status = "time_limit"
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                break
            warm = self.values_of(best) if best is not None else None
            res = self.mip.solve(
                time_limit=remaining, relative_gap_target=gap_target, warm_start=warm
            )
            rounds += 1
            if res.status == "infeasible":
                status = "infeasible" if best is None else "optimal"
                bound = best_cost if best is not None else None
                break
            if res.bound is not None:
                bound = res.bound if bound is None else max(bound, res.bound)
            if not res.has_solution:
                status = res.status
                break
            centres = self.centres_of(res.values)
            if plan_is_valid(centres, inst, self.adj):
                cost = plan_cost(centres, inst)
                if cost < best_cost:
                    best, best_cost = centres, cost
                status = res.status
                break
            fixed = repair(centres, inst, self.adj)
            if fixed is not None:
                fixed = improve(fixed, inst, self.adj)
                if self.values_of(fixed) is not None and plan_cost(fixed, inst) < best_cost:
                    best, best_cost = fixed, plan_cost(fixed, inst)
            cuts = self.separator_cuts(centres)
            self.mip.add(cuts)
            self.cuts += len(cuts)
            status = res.status
            if (
                best is not None
                and bound is not None
                and relative_gap(best_cost, min(bound, outside_bound)) <= gap_target
            ):
                break
        if bound is not None:
            bound = min(bound, outside_bound)
            if best is not None:
                bound = min(bound, best_cost)
        return status, best, bound, rounds


def solve_block_count(
    inst: BlockInstance,
    count: int,
    solver: SolverSettings,
    deadline: float,
    gap_target: float,
    incumbent: np.ndarray | None = None,
    lp: LpBound | None = None,
    exact: bool = True,
) -> BlockResult:
    """Best contiguous plan with ``count`` teams and a bound valid for the whole model.

    1. LP bound and reduced costs over every column (column generation).
    2. A quick plan: the MIP restricted to the centres the LP opens (then to more centres).
    3. If that plan is not yet within the gap of the bound: the MIP over every column whose
       reduced cost could still beat the plan (all others provably cannot), warm-started.
    """
    start = time.perf_counter()
    n = len(inst.weights)
    allowed = allowed_columns(inst)
    adj = _adjacency(n, inst.edges)
    lp = lp if lp is not None else lp_bound(inst, allowed, count, solver.threads)
    if lp is None:
        return BlockResult(
            inst.name, count, "infeasible", None, None, None, time.perf_counter() - start, 0, 0
        )
    # least extra cost of a plan that puts area i in the team centred at j (rc_ij + rc_jj)
    extra = lp.reduced_cost + np.where(
        np.eye(n, dtype=bool), 0.0, np.diag(lp.reduced_cost)[None, :]
    )
    best: np.ndarray | None = incumbent
    rounds_total = cuts_total = 0
    bound = lp.value
    status = "time_limit"

    def run(columns: np.ndarray, seconds: float, gap: float) -> tuple[str, float | None]:
        nonlocal best, rounds_total, cuts_total
        left_out = extra[allowed & ~columns]
        outside = lp.value + (left_out.min() if left_out.size else math.inf)
        model = BlockModel(inst, columns, count, solver)
        stop = min(deadline, time.perf_counter() + seconds)
        st, plan, mip_bound, rounds = model.solve(stop, gap, best, outside)
        rounds_total += rounds
        cuts_total += model.cuts
        if plan is not None and (best is None or plan_cost(plan, inst) < plan_cost(best, inst)):
            best = plan
        return st, mip_bound

    # 2. quick plans on few centres
    opened = lp.centre_value > 1e-6
    tries = ((opened, 0.02), (np.diag(extra) <= 0.02 * lp.value, 0.03))
    for centres, slack in tries if best is None else ():
        columns = allowed & centres[None, :] & (extra <= slack * lp.value)
        columns[np.arange(n), np.arange(n)] &= centres
        if np.diag(columns).sum() >= count:
            quick = max(1.5, min(10.0, 0.4 * (deadline - time.perf_counter())))
            run(columns, quick, gap_target)
        if best is not None:
            break
    if best is None:  # a plan grown from the centres the LP opens most, always quick
        preferred = np.argsort(-lp.centre_value, kind="stable")
        best = grow_plan(spread_seeds(count, inst, preferred), inst, adj)
    if best is not None:
        best = improve(best, inst, adj)
        first_look = incumbent is None
        if first_look and count >= 2 and relative_gap(plan_cost(best, inst), lp.value) > gap_target:
            stop = time.perf_counter() + min(5.0, 0.2 * (deadline - time.perf_counter()))
            star = star_search(inst, count, allowed, adj, solver, stop, None)
            if star is not None and plan_cost(star, inst) < plan_cost(best, inst):
                best = star
        if first_look and count >= 3 and relative_gap(plan_cost(best, inst), lp.value) > gap_target:
            stop = time.perf_counter() + (0.3 if exact else 0.8) * (deadline - time.perf_counter())
            best = resplit_pairs(best, inst, adj, solver, stop)
    # 3. exact on the columns that could still improve on the plan
    ub = plan_cost(best, inst) if best is not None else math.inf
    open_gap = relative_gap(ub, lp.value) is None or relative_gap(ub, lp.value) > gap_target
    if open_gap and (exact or best is None):
        threshold = (ub - lp.value) if np.isfinite(ub) else 0.05 * lp.value
        columns = allowed & (extra <= threshold + 1e-6)
        st, mip_bound = run(columns, math.inf, gap_target)
        if (
            st == "infeasible"
            and best is None
            and not np.isfinite(extra[allowed & ~columns].min(initial=math.inf))
        ):
            return BlockResult(
                inst.name,
                count,
                "infeasible",
                None,
                None,
                None,
                time.perf_counter() - start,
                rounds_total,
                cuts_total,
            )
        if mip_bound is not None and (np.isfinite(ub) or best is None):
            bound = max(bound, mip_bound)
        status = st
    seconds = time.perf_counter() - start
    objective = plan_cost(best, inst) if best is not None else None
    if objective is not None:
        bound = min(bound, objective)
        if relative_gap(objective, bound) <= gap_target + 1e-12:
            status = "optimal"
    return BlockResult(
        inst.name, count, status, objective, bound, best, seconds, rounds_total, cuts_total
    )


def _solve_task(args: tuple) -> BlockResult:
    inst, count, solver, budget, deadline_wall, gap_target, incumbent, lp, exact = args
    deadline = time.perf_counter() + max(0.0, min(budget, deadline_wall - time.time()))
    solve = solve_large_block if len(inst.weights) > LARGE_BLOCK_AREAS else solve_block_count
    result = solve(inst, count, solver, deadline, gap_target, incumbent, lp, exact)
    log.info(
        "%s, %d teams: %s, objective %.0f, bound %.0f, %.1f s, %d rounds, %d cuts",
        inst.name,
        count,
        result.status,
        result.objective or math.nan,
        result.bound or math.nan,
        result.seconds,
        result.cut_rounds,
        result.cuts,
    )
    return result


def _bound_task(args: tuple) -> tuple[float, LpBound | None]:
    inst, count, threads, seconds = args
    n = len(inst.weights)
    allowed = allowed_columns(inst)
    if n > LARGE_BLOCK_AREAS:
        bound, _ = lagrangian_bound(inst, allowed, count, math.inf, seconds)
        return bound, None
    lp = lp_bound(inst, allowed, count, threads)
    return (math.inf, None) if lp is None else (lp.value, lp)


class CountSearch:
    """Bounds and plans for every (block, team count) pair, and the choice of counts.

    ``lower[b][c]`` and ``upper[b][c]`` are the best bound and plan cost known for block b at c
    teams; the overall bound and plan are the cheapest choices of counts over them.
    """

    def __init__(
        self, insts: list[BlockInstance], solver: SolverSettings, total: tuple[int, int] | None
    ) -> None:
        self.insts, self.solver, self.total = insts, solver, total
        self.lower = [dict.fromkeys(i.counts, math.inf) for i in insts]
        self.upper = [dict.fromkeys(i.counts, math.inf) for i in insts]
        self.results: dict[tuple[int, int], BlockResult] = {}
        self.lps: dict[tuple[int, int], LpBound | None] = {}

    def bound_all(self, seconds_each: float) -> None:
        keys = [(b, c) for b, inst in enumerate(self.insts) for c in inst.counts]
        tasks = [(self.insts[b], c, self.solver.threads, seconds_each) for b, c in keys]
        for (b, c), (value, lp) in zip(
            keys, _map(tasks, _bound_task, self.solver.processes), strict=True
        ):
            self.lower[b][c] = value
            self.lps[b, c] = lp

    def solve(
        self, todo: list[tuple[int, int]], budgets: list[float], deadline: float, exact: bool
    ) -> None:
        """Solve entries in parallel, each for at most its budget (seconds from its start);
        ``exact`` False: bound and quick plans only, leaving the MIP for later."""
        known = self.results
        tasks = [
            (
                self.insts[b],
                c,
                self.solver,
                budget,
                deadline,
                self.solver.relative_gap,
                known[b, c].centres if (b, c) in known else None,
                self.lps.get((b, c)),
                exact,
            )
            for (b, c), budget in zip(todo, budgets, strict=True)
        ]
        for (b, c), res in zip(todo, _map(tasks, _solve_task, self.solver.processes), strict=True):
            known[b, c] = res
            if res.status == "infeasible":
                self.lower[b][c] = math.inf
            elif res.bound is not None:
                self.lower[b][c] = max(self.lower[b][c], res.bound)
            if res.objective is not None:
                self.upper[b][c] = min(self.upper[b][c], res.objective)

    def best(self) -> tuple[float, list[int]] | None:
        return choose_counts(self.upper, self.total)

    def bound(self) -> tuple[float, list[int]] | None:
        return choose_counts(self.lower, self.total)

    def run(self, deadline: float) -> None:
        """Solve the counts the cheapest bound uses, then whatever keeps the gap open."""
        processes, target = self.solver.processes, self.solver.relative_gap
        while time.time() < deadline:
            bound, best = self.bound(), self.best()
            if bound is None or (best and relative_gap(best[0], bound[0]) <= target):
                return
            fresh = [(b, c) for b, c in enumerate(bound[1]) if (b, c) not in self.results]
            if fresh:  # a first look: LP bound and quick plans, the MIP left for later
                share = max(3.0, 0.5 * (deadline - time.time()) * processes / len(fresh))
                self.solve(fresh, [share] * len(fresh), deadline, exact=False)
                continue
            unproven = [
                (b, c)
                for b, c in {
                    (b, c) for choice in (best, bound) if choice for b, c in enumerate(choice[1])
                }
                if self.results[b, c].status != "optimal"
            ]
            if not unproven:
                return
            # smallest open gaps first, so they finish and free a worker; time in proportion
            gaps = {
                key: self.upper[key[0]][key[1]] - self.lower[key[0]][key[1]] for key in unproven
            }
            unproven.sort(key=lambda key: (gaps[key], key))
            finite = [g for g in gaps.values() if np.isfinite(g)]
            total_gap = sum(finite) or 1.0
            remaining = deadline - time.time()
            budgets = [
                max(
                    3.0,
                    remaining
                    * processes
                    * (gaps[k] if np.isfinite(gaps[k]) else total_gap)
                    / total_gap,
                )
                for k in unproven
            ]
            for k in range(max(0, len(unproven) - processes), len(unproven)):
                budgets[k] = remaining  # the widest gaps run to the deadline
            self.solve(unproven, budgets, deadline, exact=True)

    def rescue(self, grace: float) -> None:
        """Blocks with no plan at any count (a loaded machine can starve them) get up to
        ``grace`` more seconds at the count the cheapest bound uses; logged as a warning."""
        bound = self.bound()
        if bound is None:
            return
        missing = [
            (b, c) for b, c in enumerate(bound[1]) if not np.isfinite(min(self.upper[b].values()))
        ]
        if missing:
            log.warning(
                "no plan yet for %s; solving %.0f s past the time limit",
                ", ".join(f"{self.insts[b].name} ({c} teams)" for b, c in missing),
                grace,
            )
            self.solve(missing, [grace] * len(missing), time.time() + grace, exact=True)


def choose_counts(
    values: list[dict[int, float]], total: tuple[int, int] | None
) -> tuple[float, list[int]] | None:
    """Team count per block minimising the summed value, with the total count in a range.

    An exact dynamic programme over blocks; None if no choice has a finite value.
    """
    states: dict[int, tuple[float, list[int]]] = {0: (0.0, [])}
    for options in values:
        nxt: dict[int, tuple[float, list[int]]] = {}
        for teams, (acc, picks) in states.items():
            for count in sorted(options):
                value = options[count]
                if not np.isfinite(value):
                    continue
                key = teams + count
                cand = (acc + value, [*picks, count])
                if key not in nxt or cand[0] < nxt[key][0] - 1e-9:
                    nxt[key] = cand
        states = nxt
    feasible = [
        (acc, picks)
        for teams, (acc, picks) in sorted(states.items())
        if total is None or total[0] <= teams <= total[1]
    ]
    return min(feasible, key=lambda s: s[0]) if feasible else None


def _map(tasks: list[tuple], fn, processes: int) -> list:
    if processes <= 1 or len(tasks) <= 1:
        return [fn(t) for t in tasks]
    import multiprocessing

    with ProcessPoolExecutor(
        max_workers=min(processes, len(tasks)), mp_context=multiprocessing.get_context("fork")
    ) as pool:
        return list(pool.map(fn, tasks))


def allocate_teams(
    areas: pd.DataFrame,
    geo: Geography,
    settings: TeamSettings,
    solver: SolverSettings,
    current: pd.Series | None = None,
) -> TeamPlan:
    """Contiguous teams within the band, with the team count per block chosen exactly.

    Every (block, team count) gets an LP bound first; blocks are then solved exactly only at the
    counts the cheapest-bound choice uses, until the plan is proven within the relative gap.
    """
    start_wall = time.time()
    deadline = start_wall + solver.time_limit_seconds
    blocks = feasible_blocks(areas, settings)
    weights = areas[settings.population_basis].to_numpy(float)
    too_big = np.flatnonzero(weights > settings.max_population)
    if len(too_big):
        raise InfeasibleError(
            "some single areas exceed the band's maximum on their own:",
            [f"{geo.label(i)}: {weights[i]:,.0f}" for i in too_big],
        )
    labels = None if current is None else current.reindex(areas.area_code).to_numpy()
    insts = [block_instance(geo, weights, b, settings, labels) for b in blocks]
    total = None if settings.total_teams is None else (settings.total_teams, settings.total_teams)
    search = CountSearch(insts, solver, total)
    pairs = sum(len(i.counts) for i in insts)
    search.bound_all(0.15 * solver.time_limit_seconds * solver.processes / pairs)
    log.info(
        "LP bounds for %d (block, team count) pairs in %.1f s", pairs, time.time() - start_wall
    )
    search.run(deadline)
    if search.best() is None:
        search.rescue(solver.time_limit_seconds)
    best, bound_choice = search.best(), search.bound()
    seconds = time.time() - start_wall
    if best is None:
        raise SolverError(
            f"no contiguous plan within the band was found in {solver.time_limit_seconds:.0f} s; "
            "raise solver.time_limit_seconds, widen the band, or choose team counts with more "
            "slack",
            [
                f"{blocks[b].name}, {c} teams: {r.status}"
                for (b, c), r in sorted(search.results.items())
            ],
        )
    objective, counts = best
    bound = min(objective, bound_choice[0]) if bound_choice else objective
    gap = relative_gap(objective, bound) or 0.0
    status = "optimal" if gap <= solver.relative_gap + 1e-12 else "time_limit"
    chosen = [search.results[b, c] for b, c in enumerate(counts)]
    assignment, teams = _assemble(areas, geo, blocks, chosen, settings)
    block_rows = [
        {
            "group": r.name,
            "teams": r.count,
            "status": r.status,
            "objective": r.objective,
            "bound": r.bound,
            "gap": r.gap,
            "seconds": round(r.seconds, 2),
            "cut_rounds": r.cut_rounds,
            "cuts": r.cuts,
        }
        for r in chosen
    ]
    log.info(
        "allocation: %d teams, objective %.0f, bound %.0f, gap %.3f%%, %.1f s (%s)",
        len(teams),
        objective,
        bound,
        100 * gap,
        seconds,
        status,
    )
    changed = {}
    if labels is not None:
        centre_of = {code: i for i, code in enumerate(geo.codes)}
        centres = teams.set_index("team_id").centre_area_code
        centre_label = assignment.map(centres).map(centre_of).map(lambda i: labels[i])
        moved = centre_label.to_numpy() != labels
        changed = {
            "changed_areas": int(moved.sum()),
            "changed_residents": float(areas.residents.to_numpy()[moved].sum()),
            "changed_children": float(areas.children_0_17.to_numpy()[moved].sum()),
        }
        log.info(
            "against the current plan: %d areas, %.0f residents change team",
            changed["changed_areas"],
            changed["changed_residents"],
        )
    return TeamPlan(
        assignment,
        teams,
        status,
        objective,
        bound,
        gap,
        seconds,
        settings.population_basis,
        block_rows,
        **changed,
    )


def _assemble(
    areas: pd.DataFrame,
    geo: Geography,
    blocks: list[Block],
    chosen: list[BlockResult],
    settings: TeamSettings,
) -> tuple[pd.Series, pd.DataFrame]:
    """Team ids (T01...) by block, then north to south by centre; the teams table; checks."""
    team_of = np.empty(len(areas), dtype=object)
    centre_of = np.empty(len(areas), dtype=int)
    group_of = np.empty(len(areas), dtype=object)
    number = 0
    for blk, res in zip(blocks, chosen, strict=True):
        centres = blk.members[res.centres]
        order = sorted(np.unique(centres), key=lambda c: (-geo.y_m[c], geo.x_m[c]))
        for c in order:
            number += 1
            members = blk.members[centres == c]
            team_of[members] = f"T{number:02d}"
            centre_of[members] = c
            group_of[members] = blk.name
    frame = pd.DataFrame(
        {
            "team_id": team_of,
            "group": group_of,
            "centre_area_code": geo.codes[centre_of],
            "centre_area_name": geo.names[centre_of],
            "residents": areas.residents.to_numpy(),
            "children_0_17": areas.children_0_17.to_numpy(),
            "children_0_19": areas.children_0_19.to_numpy(),
            "children_0_24": areas.children_0_24.to_numpy(),
            "imd_score": areas.imd_score.to_numpy(),
        }
    )
    frame["imd_weighted"] = frame.imd_score * frame.residents
    teams = (
        frame.groupby("team_id", sort=True)
        .agg(
            group=("group", "first"),
            n_areas=("team_id", "size"),
            residents=("residents", "sum"),
            children_0_17=("children_0_17", "sum"),
            children_0_19=("children_0_19", "sum"),
            children_0_24=("children_0_24", "sum"),
            imd_weighted=("imd_weighted", "sum"),
            centre_area_code=("centre_area_code", "first"),
            centre_area_name=("centre_area_name", "first"),
        )
        .reset_index()
    )
    teams["imd_score_mean"] = (teams.imd_weighted / teams.residents).round(3)
    for col in ("residents", "children_0_17", "children_0_19", "children_0_24"):
        teams[col] = teams[col].round().astype(int)
    teams = teams[
        [
            "team_id",
            "group",
            "n_areas",
            "residents",
            "children_0_17",
            "imd_score_mean",
            "centre_area_code",
            "centre_area_name",
            "children_0_19",
            "children_0_24",
        ]
    ]
    assignment = pd.Series(team_of, index=areas.area_code.to_numpy(), name="team_id")
    assignment.index.name = "area_code"
    check_plan(assignment, areas, geo, settings)
    return assignment, teams


def check_plan(
    assignment: pd.Series, areas: pd.DataFrame, geo: Geography, settings: TeamSettings
) -> None:
    """Raise SolverError if any team is outside the band, split, or crosses its group."""
    problems = []
    weights = areas[settings.population_basis].to_numpy(float)
    teams = assignment.to_numpy()
    for team in sorted(set(teams)):
        members = np.flatnonzero(teams == team)
        pop = weights[members].sum()
        if not settings.min_population - 1e-6 <= pop <= settings.max_population + 1e-6:
            problems.append(f"{team}: {pop:,.0f} {settings.population_basis} is outside the band")
        inside = np.isin(geo.edges, members).all(axis=1)
        local = {a: k for k, a in enumerate(members)}
        sub = np.array([[local[a], local[b]] for a, b in geo.edges[inside]]).reshape(-1, 2)
        if components(len(members), sub).max() > 0:
            problems.append(f"{team}: not contiguous")
        if settings.nesting == "district" and areas.district_code.iloc[members].nunique() > 1:
            problems.append(f"{team}: crosses districts")
    if settings.nesting == "groupings":
        group_of = {d: g.name for g in settings.groupings for d in g.districts}
        groups = areas.district_code.map(group_of).to_numpy()
        for team in sorted(set(teams)):
            if len(set(groups[teams == team])) > 1:
                problems.append(f"{team}: crosses groupings")
    if problems:
        raise SolverError(
            "the solver's plan breaks its own constraints; nothing was written:", problems
        )
