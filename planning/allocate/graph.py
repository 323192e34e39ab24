"""Graph helpers on one block: population paths, cut vertices, split teams, walking distance.

Adjacency comes from ``planning.geography`` (``neighbour_lists``); a plan is an array giving each
area's centre (local index).
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from planning.allocate.blocks import BlockInstance
from planning.allocate.tuning import TUNING
from planning.geography import neighbour_lists

__all__ = ["neighbour_lists"]


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
    return population_path(n, inst.edges, inst.weights) <= inst.max_pop + TUNING.band_tolerance


def cut_vertex_sides(n: int, adj: list[np.ndarray]) -> list[tuple[int, list[np.ndarray]]]:
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
    work = 0.0
    if inst.work is not None:
        work = np.bincount(centres, weights=inst.work, minlength=len(centres))[used]
    in_band = np.all(inst.fits(pops[used], work))
    return bool(in_band and np.all(centres[used] == used) and not split_teams(centres, adj))


def connected_without(members: np.ndarray, drop: int, adj: list[np.ndarray]) -> bool:
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


def geodesic_km(inst: BlockInstance) -> np.ndarray:
    """Shortest walk between every pair of areas, stepping between touching areas' centroids."""
    n = len(inst.weights)
    pairs = np.unique(np.sort(inst.edges, axis=1), axis=0) if len(inst.edges) else inst.edges
    if len(pairs) == 0:
        return np.where(np.eye(n, dtype=bool), 0.0, np.inf)
    km = inst.dist_km[pairs[:, 0], pairs[:, 1]] + 1e-6
    graph = csr_matrix((km, (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    return dijkstra(graph, directed=False)
