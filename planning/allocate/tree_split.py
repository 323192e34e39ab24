"""A first plan for any block by recursive spanning-tree bisection (as GerryChain's
``recursive_tree_part``): draw a spanning tree of the region, cut the tree edge that splits it
into two parts each able to hold its share of the teams, and recurse on both parts.

Each part of a cut tree is connected, so every team is contiguous by construction; a cut is kept
only when both parts can hold their team counts within the band, so the recursion ends with every
team in the band. The trees are minimum spanning trees over centre-to-centre distance with random
noise (seeded), so early trees follow the geography and cuts run between compact halves; a
region with no good cut in its tree draws another. It finds plans in well under a second where
greedy growth and balancing stall, and ``improve`` then makes them compact.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import breadth_first_order, minimum_spanning_tree

from planning.allocate.blocks import BlockInstance, count_range
from planning.allocate.local_search import polished
from planning.allocate.tuning import TUNING

TOL = TUNING.band_tolerance


def _fits(population: float, teams: int, lo: float, hi: float) -> bool:
    return teams * lo - TOL <= population <= teams * hi + TOL


def _room(mean: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.minimum(mean - lo, hi - mean)


def _cut(
    nodes: np.ndarray,
    count: int,
    inst: BlockInstance,
    edges: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, int, np.ndarray, int] | None:
    """Split ``nodes`` (connected) into two connected parts holding k and count-k teams."""
    lo, hi = inst.min_pop, inst.max_pop
    local = -np.ones(len(inst.weights), dtype=int)
    local[nodes] = np.arange(len(nodes))
    inside = (local[edges[:, 0]] >= 0) & (local[edges[:, 1]] >= 0)
    a, b = local[edges[inside, 0]], local[edges[inside, 1]]
    length = inst.dist_km[edges[inside, 0], edges[inside, 1]]
    weights = inst.weights[nodes]
    total = float(weights.sum())
    work = inst.work[nodes] if inst.work is not None else np.zeros(len(nodes))
    total_work = float(work.sum())
    for _ in range(TUNING.tree_draws):
        noise = rng.uniform(1.0, 1.0 + TUNING.tree_noise, len(a))
        graph = coo_matrix((length * noise + 1e-6, (a, b)), shape=(len(nodes),) * 2)
        tree = minimum_spanning_tree(graph)
        tree = tree + tree.T
        order, parent = breadth_first_order(tree, 0, directed=False)
        if len(order) < len(nodes):
            return None  # not connected: no cut can make connected parts
        below = weights.copy()
        below_work = work.copy()
        for v in order[:0:-1]:  # children before parents
            below[parent[v]] += below[v]
            below_work[parent[v]] += below_work[v]
        # every (subtree, teams in it) cut at once; keep the one whose tighter part has the
        # most room: the mean team furthest inside the band's nearer edge
        sub = below[order[1:]][:, None]
        ks = np.arange(1, count)[None, :]
        rest = total - sub
        fits = (sub >= ks * lo - TOL) & (sub <= ks * hi + TOL)
        fits &= (rest >= (count - ks) * lo - TOL) & (rest <= (count - ks) * hi + TOL)
        if inst.work is not None:  # both parts can also meet the workload band
            sub_w = below_work[order[1:]][:, None]
            rest_w = total_work - sub_w
            wlo, whi = inst.min_work, inst.max_work
            fits &= (sub_w >= ks * wlo - TOL) & (sub_w <= ks * whi + TOL)
            fits &= (rest_w >= (count - ks) * wlo - TOL) & (rest_w <= (count - ks) * whi + TOL)
        if not fits.any():
            continue
        room = np.minimum(_room(sub / ks, lo, hi), _room(rest / (count - ks), lo, hi))
        room = np.where(fits, room, -np.inf)
        flat = int(np.argmax(room))
        v, k = int(order[1:][flat // (count - 1)]), int(flat % (count - 1)) + 1
        side = np.zeros(len(nodes), dtype=bool)
        stack = [v]
        side[v] = True
        children: dict[int, list[int]] = {}
        for u in order[1:]:
            children.setdefault(int(parent[u]), []).append(int(u))
        while stack:
            u = stack.pop()
            for c in children.get(u, ()):
                side[c] = True
                stack.append(c)
        return nodes[side], k, nodes[~side], count - k
    return None


def tree_plan(
    inst: BlockInstance, count: int, seed: int = 0, attempts: int | None = None
) -> np.ndarray | None:
    """Team labels (one per member, 0..count-1) of a contiguous plan in the band, or None."""
    lo, hi = count_range(float(inst.weights.sum()), inst.min_pop, inst.max_pop)
    if not lo <= count <= hi:
        return None
    rng = np.random.default_rng(seed)
    for _ in range(attempts or TUNING.tree_attempts):
        labels = -np.ones(len(inst.weights), dtype=int)
        todo = [(np.arange(len(inst.weights)), count)]
        ok = True
        while todo and ok:
            nodes, k = todo.pop()
            if k == 1:
                labels[nodes] = labels.max() + 1
                continue
            parts = _cut(nodes, k, inst, inst.edges, rng)
            if parts is None:
                ok = False
                break
            todo += [(parts[0], parts[1]), (parts[2], parts[3])]
        if ok:
            return labels
    return None


def tree_first_plan(
    inst: BlockInstance, count: int, adj: list[np.ndarray], seed: int = 0
) -> np.ndarray | None:
    """A valid, locally improved plan (each member's centre) from ``tree_plan``, or None."""
    labels = tree_plan(inst, count, seed)
    return None if labels is None else polished(labels, inst, adj)
