"""Geometry at the edge: areas -> adjacency, links for detached parts, and distances in km.

Everything downstream (allocation, hubs) works on the arrays built here and never touches shapely.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial.distance import cdist

from planning.config import GeographySettings
from planning.errors import ConfigError, DataError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LinkRecord:
    """An adjacency added between two areas that do not touch, and why."""

    from_code: str
    to_code: str
    kind: str
    name: str
    distance_km: float
    source: str  # "scenario" or "nearest"


@dataclass(frozen=True)
class Geography:
    """Areas as arrays: codes (sorted as in the areas table), centroids, adjacency and links."""

    codes: np.ndarray
    names: np.ndarray
    x_m: np.ndarray
    y_m: np.ndarray
    edges: np.ndarray  # (m, 2) int, i < j, sorted; includes links
    links: tuple[LinkRecord, ...]

    @property
    def n(self) -> int:
        return len(self.codes)

    def neighbours(self) -> list[np.ndarray]:
        """Sorted neighbour indices of every area."""
        return neighbour_lists(self.n, self.edges)

    def distance_km(
        self, rows: np.ndarray | None = None, cols: np.ndarray | None = None
    ) -> np.ndarray:
        """Straight-line distance in km between area centroids."""
        pts = np.column_stack([self.x_m, self.y_m])
        a = pts if rows is None else pts[rows]
        b = pts if cols is None else pts[cols]
        return cdist(a, b) / 1000.0

    def label(self, i: int) -> str:
        return f"{self.codes[i]} ({self.names[i]})"


def neighbour_lists(n: int, edges: np.ndarray) -> list[np.ndarray]:
    """Sorted neighbour indices of each of ``n`` nodes, from (m, 2) edges."""
    adj: list[list[int]] = [[] for _ in range(n)]
    for i, j in edges:
        adj[i].append(int(j))
        adj[j].append(int(i))
    return [np.array(sorted(set(a)), dtype=int) for a in adj]


def touching_pairs(geoms: np.ndarray, tolerance_m: float) -> np.ndarray:
    """Queen contiguity that tolerates slivers and gaps up to ``tolerance_m`` metres."""
    grown = shapely.buffer(geoms, tolerance_m / 2.0) if tolerance_m > 0 else geoms
    tree = shapely.STRtree(grown)
    left, right = tree.query(grown, predicate="intersects")
    keep = left < right
    return np.unique(np.column_stack([left[keep], right[keep]]), axis=0)


def components(n: int, edges: np.ndarray) -> np.ndarray:
    """Connected-component label of every area."""
    if len(edges) == 0:
        return np.arange(n)
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels


def _nearest_link(geoms: np.ndarray, inside: np.ndarray) -> tuple[int, int, float]:
    """The closest pair (a in the part, b outside it) and their distance in metres."""
    outside = np.flatnonzero(~inside)
    tree = shapely.STRtree(geoms[outside])
    best = (-1, -1, np.inf)
    for a in np.flatnonzero(inside):
        idx, dist = tree.query_nearest(geoms[a], return_distance=True)
        k = int(np.argmin(dist))
        if dist[k] < best[2] - 1e-9:
            best = (int(a), int(outside[idx[k]]), float(dist[k]))
    return best


def build_geography(areas: gpd.GeoDataFrame, settings: GeographySettings) -> Geography:
    """Adjacency, links and centroids for the areas, applying the scenario's islands policy."""
    codes = areas["area_code"].to_numpy()
    names = areas["area_name"].to_numpy()
    geoms = areas.geometry.to_numpy()
    index = {c: i for i, c in enumerate(codes)}
    pairs = [tuple(p) for p in touching_pairs(geoms, settings.contiguity_tolerance_m)]

    links: list[LinkRecord] = []
    unknown = [
        c for link in settings.links for c in (link.from_area, link.to_area) if c not in index
    ]
    if unknown:
        raise ConfigError(
            "geography.links: area code(s) not among the scenario's areas: "
            + ", ".join(sorted(set(unknown)))
            + ". Links must join two LSOA 2021 areas of the councils being planned."
        )
    for link in settings.links:
        a, b = sorted((index[link.from_area], index[link.to_area]))
        pairs.append((a, b))
        dist = float(shapely.distance(geoms[a], geoms[b])) / 1000.0
        links.append(
            LinkRecord(codes[a], codes[b], link.kind, link.name, round(dist, 3), "scenario")
        )
        log.info(
            "link from scenario: %s %s %s-%s (%.2f km)",
            link.kind,
            link.name,
            codes[a],
            codes[b],
            dist,
        )

    edges = np.array(sorted(set(pairs)), dtype=int).reshape(-1, 2)
    labels = components(len(codes), edges)
    while labels.max() > 0:
        sizes = np.bincount(labels)
        main = int(np.argmax(sizes))
        detached = [c for c in range(len(sizes)) if c != main]
        if settings.islands != "link_nearest":
            lines = []
            for c in detached:
                members = np.flatnonzero(labels == c)
                lines.append(", ".join(f"{codes[i]} ({names[i]})" for i in members))
            raise DataError(
                f"{len(detached)} part(s) of the area are detached from the rest "
                f"(islands: {settings.islands}). Add geography.links for their bridge or ferry, "
                "or set geography.islands: link_nearest:",
                lines,
            )
        part = min(detached, key=lambda c: (sizes[c], np.flatnonzero(labels == c)[0]))
        a, b, dist_m = _nearest_link(geoms, labels == part)
        a, b = sorted((a, b))
        edges = np.array(sorted({*map(tuple, edges), (a, b)}), dtype=int)
        links.append(
            LinkRecord(codes[a], codes[b], "nearest", "", round(dist_m / 1000, 3), "nearest")
        )
        log.warning(
            "detached part of %d area(s) linked to its nearest area: %s - %s (%.3f km)",
            int(sizes[part]),
            f"{codes[a]} ({names[a]})",
            f"{codes[b]} ({names[b]})",
            dist_m / 1000,
        )
        labels = components(len(codes), edges)

    centroids = shapely.centroid(geoms)
    geo = Geography(
        codes=codes,
        names=names,
        x_m=shapely.get_x(centroids),
        y_m=shapely.get_y(centroids),
        edges=edges,
        links=tuple(links),
    )
    log.info("geography: %d areas, %d adjacencies, %d links", geo.n, len(edges), len(links))
    return geo
