"""Heuristics on a block's plans: grow, balance into the band, repair split teams, improve by
moving boundary areas between touching teams, and re-centre each team on its medoid."""

from __future__ import annotations

import heapq

import numpy as np

from planning.allocate.blocks import BlockInstance
from planning.allocate.graph import connected_without, plan_is_valid, split_teams
from planning.allocate.tuning import TUNING

TOL = TUNING.band_tolerance


def work_of(inst: BlockInstance) -> np.ndarray:
    """Each member's workload (zeros without a workload band, whose bounds are then 0 and inf)."""
    return inst.work if inst.work is not None else np.zeros(len(inst.weights))


def repair(centres: np.ndarray, inst: BlockInstance, adj: list[np.ndarray]) -> np.ndarray | None:
    """Move each piece cut off from its team to a touching team, keeping the band; None if stuck."""
    centres = centres.copy()
    for _ in range(TUNING.repair_moves_factor * len(centres)):
        pieces = split_teams(centres, adj)
        if not pieces:
            return centres if plan_is_valid(centres, inst, adj) else None
        pops = np.bincount(centres, weights=inst.weights, minlength=len(centres))
        works = np.bincount(centres, weights=work_of(inst), minlength=len(centres))
        moved = False
        for j, piece in sorted(pieces, key=lambda p: (len(p[1]), p[1][0])):
            piece_pop = inst.weights[piece].sum()
            piece_work = work_of(inst)[piece].sum()
            if pops[j] - piece_pop < inst.min_pop - TOL or (
                works[j] - piece_work < inst.min_work - TOL
            ):
                continue
            targets = {int(centres[v]) for u in piece for v in adj[u]} - {j}
            best = None
            for t in sorted(targets):
                if pops[t] + piece_pop > inst.max_pop + TOL or (
                    works[t] + piece_work > inst.max_work + TOL
                ):
                    continue
                cost = float(inst.cost[piece, t].sum())
                if best is None or cost < best[0]:
                    best = (cost, t)
            if best is not None:
                centres[piece] = best[1]
                pops[j] -= piece_pop
                pops[best[1]] += piece_pop
                works[j] -= piece_work
                works[best[1]] += piece_work
                moved = True
                break
        if not moved:
            return None
    return None


def medoid(members: np.ndarray, inst: BlockInstance) -> tuple[int, float]:
    costs = inst.cost[np.ix_(members, members)].sum(axis=0)
    k = int(np.argmin(costs))
    return int(members[k]), float(costs[k])


def medoids(labels: np.ndarray, inst: BlockInstance) -> np.ndarray:
    """Each area's team relabelled by the team's best centre."""
    out = np.empty_like(labels)
    for t in np.unique(labels):
        members = np.flatnonzero(labels == t)
        out[members] = medoid(members, inst)[0]
    return out


def grow_plan(seeds: np.ndarray, inst: BlockInstance, adj: list[np.ndarray]) -> np.ndarray | None:
    """A contiguous plan grown from seed areas, then balanced into the band (None if it cannot be).

    Teams grow one touching area at a time, always the unclaimed area nearest its team's seed,
    while they stay under the band's maximum; leftovers join a touching team; then single areas
    move between touching teams, keeping each contiguous, until every team is in the band.
    """
    n = len(inst.weights)
    work = work_of(inst)
    team = -np.ones(n, dtype=int)
    pops = np.zeros(n)
    works = np.zeros(n)
    heap: list[tuple[float, int, int]] = []
    for s in seeds:
        team[s] = s
        pops[s] = inst.weights[s]
        works[s] = work[s]
        for v in adj[s]:
            heapq.heappush(heap, (inst.dist_km[v, s], int(v), int(s)))
    while heap:
        _, v, s = heapq.heappop(heap)
        if team[v] >= 0 or pops[s] + inst.weights[v] > inst.max_pop:
            continue
        if works[s] + work[v] > inst.max_work:
            continue
        team[v] = s
        pops[s] += inst.weights[v]
        works[s] += work[v]
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
    work = work_of(inst)
    wlo, whi = inst.min_work, inst.max_work
    wscale = whi if np.isfinite(whi) else max(wlo, 1.0)

    def excess(p: float, u: float) -> float:  # out of band, in band widths of either band
        out = (max(0.0, lo - p) + max(0.0, p - hi)) / hi
        return out + (max(0.0, wlo - u) + max(0.0, u - whi)) / wscale

    labels = np.unique(team)
    pops = {int(c): float(inst.weights[team == c].sum()) for c in labels}
    works = {int(c): float(work[team == c].sum()) for c in labels}
    tol = TOL / hi
    for _ in range(TUNING.balance_moves_factor * len(team)):
        if all(excess(pops[c], works[c]) < tol for c in pops):
            return team
        best = None
        for i in range(len(team)):
            a = int(team[i])
            w, u = inst.weights[i], work[i]
            if i == a:
                continue
            for b in sorted({int(team[v]) for v in adj[i]} - {a}):
                before = excess(pops[a], works[a]) + excess(pops[b], works[b])
                after = excess(pops[a] - w, works[a] - u) + excess(pops[b] + w, works[b] + u)
                if after < before - tol:
                    gain = (before - after, -inst.dist_km[i, b])
                    if best is None or gain > best[0]:
                        members = np.flatnonzero(team == a)
                        if connected_without(members, i, adj):
                            best = (gain, i, a, b)
        if best is None:
            return None
        _, i, a, b = best
        team[i] = b
        pops[a] -= inst.weights[i]
        pops[b] += inst.weights[i]
        works[a] -= work[i]
        works[b] += work[i]
    return None


def spread_seeds(count: int, inst: BlockInstance, preferred: np.ndarray) -> np.ndarray:
    """``count`` seed areas: the first preferred one, then each next the preferred area farthest
    (population-weighted) from the seeds so far."""
    seeds = [int(preferred[0])]
    pool = preferred[: count * TUNING.seed_pool_factor]
    while len(seeds) < count:
        gap = inst.dist_km[np.ix_(pool, seeds)].min(axis=1)
        seeds.append(int(pool[int(np.argmax(gap))]))
    return np.array(seeds)


def improve(centres: np.ndarray, inst: BlockInstance, adj: list[np.ndarray]) -> np.ndarray:
    """Local search on a valid plan: move single boundary areas between touching teams while
    the band and contiguity hold and the cost (with each team's best centre) falls."""
    team = centres.copy()
    members = {int(c): np.flatnonzero(team == c) for c in np.unique(team)}
    cost = {c: medoid(m, inst)[1] for c, m in members.items()}
    pops = {c: float(inst.weights[m].sum()) for c, m in members.items()}
    work = work_of(inst)
    works = {c: float(work[m].sum()) for c, m in members.items()}
    improved = True
    passes = 0
    while improved and passes < TUNING.improve_max_passes:
        improved, passes = False, passes + 1
        for i in range(len(team)):
            a = int(team[i])
            w, u = inst.weights[i], work[i]
            if pops[a] - w < inst.min_pop - TOL or works[a] - u < inst.min_work - TOL:
                continue
            for b in sorted({int(team[v]) for v in adj[i]} - {a}):
                if pops[b] + w > inst.max_pop + TOL or works[b] + u > inst.max_work + TOL:
                    continue
                if not connected_without(members[a], i, adj):
                    break
                new_a = members[a][members[a] != i]
                new_b = np.sort(np.append(members[b], i))
                (_, cost_a), (_, cost_b) = medoid(new_a, inst), medoid(new_b, inst)
                if cost_a + cost_b < cost[a] + cost[b] - TOL:
                    team[i] = b
                    members[a], members[b] = new_a, new_b
                    cost[a], cost[b] = cost_a, cost_b
                    pops[a] -= w
                    pops[b] += w
                    works[a] -= u
                    works[b] += u
                    improved = True
                    break
    return medoids(team, inst)  # every team relabelled by its best centre


def split_team(team: np.ndarray, label: int, inst: BlockInstance, adj: list[np.ndarray]) -> bool:
    """Split team ``label`` in two contiguous parts grown from its two farthest areas (in place);
    False when the team has a single area."""
    members = np.flatnonzero(team == label)
    if len(members) < 2:
        return False
    a = int(members[int(np.argmax(inst.dist_km[members[0], members]))])
    b = int(members[int(np.argmax(inst.dist_km[a, members]))])
    inside = np.zeros(len(team), dtype=bool)
    inside[members] = True
    owner = {a: a, b: b}
    frontier = [(0.0, a, a), (0.0, b, b)]
    while frontier:  # multi-source growth by distance to the seed: both parts stay contiguous
        _, u, s = heapq.heappop(frontier)
        for v in adj[u]:
            v = int(v)
            if inside[v] and v not in owner:
                owner[v] = s
                heapq.heappush(frontier, (float(inst.dist_km[v, s]), v, s))
    for v, s in owner.items():
        team[v] = s
    return True


def recount(
    plan: np.ndarray, inst: BlockInstance, count: int, adj: list[np.ndarray]
) -> np.ndarray | None:
    """A partition into ``count`` contiguous teams (labelled by their medoids, not yet in the
    band) made from a plan with another count: split the most populous teams, or merge the
    least populous into a touching team. None when that cannot reach ``count``."""
    team = plan.copy()
    for _ in range(abs(count - len(np.unique(team))) + 1):
        labels = np.unique(team)
        if len(labels) == count:
            break
        pops = {int(t): float(inst.weights[team == t].sum()) for t in labels}
        if len(labels) < count:
            if not split_team(team, max(pops, key=lambda t: (pops[t], t)), inst, adj):
                return None
        else:
            small = min(pops, key=lambda t: (pops[t], t))
            touching = {int(team[v]) for u in np.flatnonzero(team == small) for v in adj[u]}
            touching.discard(small)
            if not touching:
                return None
            team[team == small] = min(touching, key=lambda t: (pops[t], t))
    if len(np.unique(team)) != count:
        return None
    return medoids(team, inst)


def plan_with_count(
    plan: np.ndarray, inst: BlockInstance, count: int, adj: list[np.ndarray]
) -> np.ndarray | None:
    """A plan in the band with ``count`` teams from a plan with another count: ``recount``, then
    balance into the band and improve. None when balancing fails."""
    team = recount(plan, inst, count, adj)
    if team is None:
        return None
    balanced = balance(team, inst, adj)
    return None if balanced is None else polished(balanced, inst, adj)


def polished(team: np.ndarray, inst: BlockInstance, adj: list[np.ndarray]) -> np.ndarray | None:
    """A partition (any team labels) as a plan: re-centred on medoids, checked, improved; None
    when it breaks the band or contiguity."""
    centres = medoids(team, inst)
    if not plan_is_valid(centres, inst, adj):
        return None
    return improve(centres, inst, adj)
