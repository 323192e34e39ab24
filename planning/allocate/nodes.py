"""The units the model places whole: single areas, whole wards (``teams.building_block: ward``)
and the areas a user locked together (``teams.fixed_areas_csv``).

Areas that must share a team are merged into one node before the block models are built, so a
model over wards is smaller and keeps every ward whole exactly. Each node is named by its
representative area, the member that is its own best centre; a team centred on a node is
centred on that area, and the cost of a node joining it is the sum of its members' costs, so a
plan's objective is the same person-km as of the areas it expands to. A node is always one
contiguous piece: a ward split in two by the adjacency becomes one node per piece (logged), and
a locked label whose areas do not touch is refused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix, csr_matrix

from planning.errors import InfeasibleError
from planning.geography import Geography, components

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Nodes:
    """Each area's node, each node's representative area and what merged it."""

    of_area: np.ndarray  # node index of every area (geography order)
    rep: np.ndarray  # representative area of every node: the member that is its best centre
    kind: np.ndarray  # "area", "ward" or "locked" per node
    name: np.ndarray  # label per node (the area, the ward or the locked label)
    split_wards: tuple[str, ...] = ()  # wards kept as several pieces (not contiguous)
    locks: tuple[dict, ...] = ()  # each locked label: its areas, residents and node

    @property
    def n(self) -> int:
        return len(self.rep)

    @property
    def is_identity(self) -> bool:
        return self.n == len(self.of_area)

    def members(self) -> csr_matrix:
        """(nodes x areas) 0/1 matrix: row u marks the areas of node u."""
        n_areas = len(self.of_area)
        ones = np.ones(n_areas)
        return coo_matrix((ones, (self.of_area, np.arange(n_areas))), (self.n, n_areas)).tocsr()


def _union_find(n: int, pairs: np.ndarray) -> np.ndarray:
    """The component label of each of n items joined by ``pairs``, numbered by first member."""
    labels = components(n, pairs.reshape(-1, 2))
    _, first = np.unique(labels, return_index=True)
    renumber = np.empty(labels.max() + 1, dtype=int)
    renumber[labels[np.sort(first)]] = np.arange(len(first))
    return renumber[labels]


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
    split_wards: list[str] = []
    if building_block == "ward":
        ward = areas.ward_code.to_numpy()
        same = ward[edges[:, 0]] == ward[edges[:, 1]]
        joins.append(edges[same])
        pieces = _union_find(n, edges[same])
        per_ward = pd.Series(pieces).groupby(ward).nunique()
        for code in per_ward.index[per_ward > 1]:
            name = areas.ward_name[areas.ward_code == code].iloc[0]
            split_wards.append(f"{code} ({name}): {per_ward[code]} pieces")
        if split_wards:
            log.warning(
                "%d ward(s) are not one contiguous piece of LSOAs; each piece is kept whole: %s",
                len(split_wards),
                "; ".join(split_wards),
            )
    lock_rows: list[dict] = []
    label_of = None
    if locks is not None:
        label_of = locks.reindex(areas.area_code).to_numpy()
        problems = []
        for label in sorted({str(v) for v in label_of if isinstance(v, str) and v}):
            members = np.flatnonzero(label_of == label)
            inside = np.isin(edges, members).all(axis=1)
            local = {a: k for k, a in enumerate(members)}
            sub = np.array([[local[a], local[b]] for a, b in edges[inside]]).reshape(-1, 2)
            parts = components(len(members), sub)
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
    name = geo.codes[np.searchsorted(of_area, np.arange(count))].astype(object) if n else kind
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
    return Nodes(of_area, rep, kind, name, tuple(split_wards), tuple(lock_rows))


def check_nodes(nodes: Nodes, weights: np.ndarray, settings, blocks: list) -> None:
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
