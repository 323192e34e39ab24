"""The units the model places whole: single areas, whole wards (``teams.building_block: ward``)
and the areas a user locked together (``teams.fixed_areas_csv``).

Areas that must share a team are merged into one node before the block models are built, so a
model over wards is smaller and keeps every ward whole exactly. Each node is named by its
representative area, the member that is its own best centre; a team centred on a node is
centred on that area, and the cost of a node joining it is the sum of its members' costs, so a
plan's objective is the same person-km as of the areas it expands to. A node is always one
contiguous piece: a ward whose LSOAs come out in separate pieces is joined with the wards that
link them (logged, and recorded in the manifest), and a locked label whose areas do not touch is
refused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from planning.errors import InfeasibleError
from planning.geography import Geography, components

if TYPE_CHECKING:
    from planning.allocate.blocks import Block
    from planning.config import TeamSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Nodes:
    """Each area's node, each node's representative area and what merged it."""

    of_area: np.ndarray  # node index of every area (geography order)
    rep: np.ndarray  # representative area of every node: the member that is its best centre
    kind: np.ndarray  # "area", "ward" or "locked" per node
    name: np.ndarray  # label per node (the area, the ward or the locked label)
    ward_joins: tuple[str, ...] = ()  # wards in pieces, joined with the wards linking them
    locks: tuple[dict, ...] = ()  # each locked label: its areas, residents and node

    @property
    def n(self) -> int:
        return len(self.rep)

    @property
    def is_identity(self) -> bool:
        return self.n == len(self.of_area)


def _union_find(n: int, pairs: np.ndarray) -> np.ndarray:
    """The component label of each of n items joined by ``pairs``, numbered by first member."""
    labels = components(n, pairs.reshape(-1, 2))
    _, first = np.unique(labels, return_index=True)
    renumber = np.empty(labels.max() + 1, dtype=int)
    renumber[labels[np.sort(first)]] = np.arange(len(first))
    return renumber[labels]


def _pieces(members: np.ndarray, edges: np.ndarray, n: int) -> np.ndarray:
    """Connected-piece label of each of ``members`` (area indices) in the area graph."""
    local = np.full(n, -1)
    local[members] = np.arange(len(members))
    inside = (local[edges[:, 0]] >= 0) & (local[edges[:, 1]] >= 0)
    return components(len(members), local[edges[inside]].reshape(-1, 2))


def whole_wards(areas: pd.DataFrame, geo: Geography) -> tuple[np.ndarray, list[str]]:
    """A group per area such that every ward lies in one contiguous group.

    Wards are built from LSOAs by the ONS best-fit lookup (an LSOA goes to the ward holding its
    population-weighted centroid), so a few wards come out as separate pieces. Such a ward is
    joined with the wards of the fewest areas that link its pieces (a shortest path inside its
    district), so every ward still stays whole and every team can still be contiguous; each
    join is returned as a line for the log."""
    ward = areas.ward_code.to_numpy()
    names = dict(zip(areas.ward_code, areas.ward_name, strict=False))
    district = areas.district_code.to_numpy()
    _, group = np.unique(ward, return_inverse=True)
    adj = geo.neighbours()
    notes: list[str] = []
    # every ward's pieces at once; afterwards only a ward that changed is looked at again
    same = group[geo.edges[:, 0]] == group[geo.edges[:, 1]]
    piece = components(geo.n, geo.edges[same].reshape(-1, 2))
    pieces = np.unique(np.column_stack([group, piece]), axis=0)
    broken = set(np.flatnonzero(np.bincount(pieces[:, 0]) > 1).tolist())
    while broken:  # each pass settles a ward, splits off a piece or joins wards: it ends
        g = min(broken)  # the lowest-numbered broken ward first, so the joins are reproducible
        members = np.flatnonzero(group == g)
        parts = _pieces(members, geo.edges, geo.n)
        if parts.max() == 0:
            broken.discard(g)
            continue
        path = _link_path(members[parts == 0], members[parts != 0], adj, district)
        if path is None:  # no link inside the district: keep the pieces apart, say so
            notes.append(f"ward(s) {_ward_list(ward, members, names)}: separate pieces kept apart")
            group[members[parts != 0]] = new = group.max() + 1
            broken.add(int(new))
            continue
        joined = np.unique(group[path])
        notes.append(
            f"{_ward_list(ward, members, names)} is in {parts.max() + 1} pieces; joined with "
            f"{_ward_list(ward, np.flatnonzero(np.isin(group, joined) & (group != g)), names)} "
            f"through {', '.join(geo.codes[path])}"
        )
        group[np.isin(group, joined)] = g
        broken.difference_update(int(j) for j in joined if j != g)
    return group, notes


def _ward_list(ward: np.ndarray, members: np.ndarray, names: dict) -> str:
    return ", ".join(f"{w} ({names[w]})" for w in sorted(set(ward[members])))


def _link_path(
    start: np.ndarray, goal: np.ndarray, adj: list[np.ndarray], district: np.ndarray
) -> np.ndarray | None:
    """The areas strictly between ``start`` and ``goal`` on a fewest-areas path that stays in
    their district (breadth first, ties by area order), or None."""
    where = district[start[0]]
    parent = {int(a): -1 for a in start}
    frontier = [int(a) for a in start]
    goals = set(goal.tolist())
    while frontier:
        nxt = []
        for u in frontier:
            for v in adj[u]:
                v = int(v)
                if v in parent or district[v] != where:
                    continue
                parent[v] = u
                if v in goals:
                    path = []
                    u = parent[v]
                    while parent.get(u, -1) != -1:
                        path.append(u)
                        u = parent[u]
                    return np.array(sorted(path), dtype=int)
                nxt.append(v)
        frontier = nxt
    return None


def area_nodes(
    areas: pd.DataFrame,
    geo: Geography,
    weights: np.ndarray,
    building_block: str = "lsoa",
    locks: pd.Series | None = None,
) -> Nodes:
    """Merge areas into nodes: touching areas of one ward (with ``building_block: ward``) and the
    areas of each locked label (``locks``: label per area code, NaN for none)."""
    n = geo.n
    edges = geo.edges
    joins = [np.empty((0, 2), dtype=int)]
    ward_joins: list[str] = []
    if building_block == "ward":
        group, ward_joins = whole_wards(areas, geo)
        same = group[edges[:, 0]] == group[edges[:, 1]]
        joins.append(edges[same])
        for note in ward_joins:
            log.warning("whole wards: %s", note)
    lock_rows: list[dict] = []
    label_of = None
    if locks is not None:
        label_of = locks.reindex(areas.area_code).to_numpy()
        problems = []
        for label in sorted({str(v) for v in label_of if isinstance(v, str) and v}):
            members = np.flatnonzero(label_of == label)
            parts = _pieces(members, edges, n)
            if parts.max() > 0:
                pieces = [
                    ", ".join(geo.label(i) for i in members[parts == p][:3])
                    + (" ..." if (parts == p).sum() > 3 else "")
                    for p in range(parts.max() + 1)
                ]
                problems.append(
                    f"label '{label}': its {len(members)} areas are {parts.max() + 1} separate "
                    f"pieces ({' | '.join(pieces)}); areas locked together must touch (one "
                    "contiguous piece): give each piece its own label or add the areas between"
                )
                continue
            joins.append(np.column_stack([np.full(len(members) - 1, members[0]), members[1:]]))
            lock_rows.append(
                {
                    "label": label,
                    "areas": len(members),
                    "residents": float(areas.residents.to_numpy()[members].sum()),
                }
            )
        if problems:
            raise InfeasibleError("teams.fixed_areas_csv: locks that no team can keep:", problems)
    of_area = _union_find(n, np.concatenate(joins))
    count = int(of_area.max()) + 1 if n else 0
    sizes = np.bincount(of_area, minlength=count)
    rep = np.empty(count, dtype=int)
    kind = np.full(count, "area", dtype=object)
    name = np.empty(count, dtype=object)
    order = np.argsort(of_area, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)])
    ward_names = areas.ward_name.to_numpy() if building_block == "ward" else None
    for u in range(count):
        members = order[starts[u] : starts[u + 1]]
        if len(members) == 1:
            rep[u] = members[0]
            name[u] = geo.label(members[0])
            continue
        dist = geo.distance_km(members, members)
        rep[u] = members[int(np.argmin((weights[members, None] * dist).sum(axis=0)))]
        labels = {label_of[i] for i in members} - {None} if label_of is not None else set()
        labels = {v for v in labels if isinstance(v, str) and v}
        if labels:
            kind[u] = "locked"
            name[u] = "locked " + ", ".join(f"'{v}'" for v in sorted(labels))
        else:
            kind[u] = "ward"
            name[u] = f"ward {ward_names[members[0]]} ({len(members)} areas)"
    for row in lock_rows:
        row["node"] = str(name[of_area[np.flatnonzero(label_of == row["label"])[0]]])
    if count < n:
        log.info(
            "building blocks: %d areas merged into %d nodes (%s%s)",
            n,
            count,
            "whole wards" if building_block == "ward" else "areas",
            f", {len(lock_rows)} locked labels" if lock_rows else "",
        )
    return Nodes(of_area, rep, kind, name, tuple(ward_joins), tuple(lock_rows))


def check_nodes(
    nodes: Nodes, weights: np.ndarray, settings: TeamSettings, blocks: list[Block]
) -> None:
    """Every merged node fits under the band's maximum and lies in one block (nesting)."""
    if nodes.is_identity:
        return
    node_weight = np.bincount(nodes.of_area, weights=weights, minlength=nodes.n)
    block_of = np.full(len(nodes.of_area), -1)
    for b, blk in enumerate(blocks):
        block_of[blk.members] = b
    problems = []
    for u in np.flatnonzero(nodes.kind != "area"):
        if node_weight[u] > settings.max_population + 1e-6:
            problems.append(
                f"{nodes.name[u]}: {node_weight[u]:,.0f} {settings.population_basis} is above "
                f"the band's maximum of {settings.max_population:,.0f} on its own"
            )
        inside = sorted({int(b) for b in block_of[nodes.of_area == u]})
        if len(inside) > 1:
            names = " and ".join(blocks[b].name for b in inside)
            problems.append(
                f"{nodes.name[u]}: its areas lie in {names}, but teams are nested within "
                "them (teams.nesting); lock areas of one group only"
            )
    if problems:
        raise InfeasibleError("some areas that must stay together cannot form a team:", problems)
