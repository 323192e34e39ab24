"""Score any partition of areas into teams by one yardstick, whoever drew it.

Used to compare our allocation with other methods (``benchmarks/anchors.py``); a report can use it.
Every measure is taken on the planner's own adjacency (``Geography.edges``, bridge links included),
its own population basis and its own objective, so plans from any method are judged the same way:

* ``outside_band``: teams whose population is below the band's minimum or above its maximum;
* ``non_contiguous``: teams whose areas do not form one connected piece on our adjacency;
* ``objective``: person-km, the sum over areas of population x straight-line km from the area's
  centroid to its team's centre-area centroid, where each team's centre is the member area that
  minimises that sum (the best centre the team could have). It is the objective the plan would get
  under our model: for a plan that meets the band and is contiguous it is directly comparable
  with our solver's objective and lower bound;
* ``gap``: (objective - bound) / objective against our solver's lower bound. A negative gap is
  possible only for a plan that breaks a constraint the bound assumes (band, contiguity, team
  count, nesting);
* ``polsby_popper``: mean over teams of 4 pi A / P^2 of the team's dissolved boundary (1 for a
  circle, pi/4 for a square; detached parts such as an island add their perimeter);
* ``cut_edges``: adjacencies (links included) whose two areas are in different teams;
* ``max_min_ratio``: largest team population over smallest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import shapely
from scipy.spatial.distance import cdist

from planning.geography import Geography, components


@dataclass(frozen=True)
class PlanScore:
    """The measures of one plan; see the module docstring for their definitions."""

    method: str
    teams: int
    outside_band: int
    non_contiguous: int
    objective: float
    gap: float | None
    polsby_popper: float | None
    cut_edges: int
    max_min_ratio: float
    min_population: float
    max_population: float
    seconds: float | None

    @property
    def valid(self) -> bool:
        """Every team in the band and contiguous."""
        return self.outside_band == 0 and self.non_contiguous == 0

    def as_dict(self) -> dict:
        return {**asdict(self), "valid": self.valid}


def team_labels(assignment: pd.Series, codes: Sequence[str]) -> np.ndarray:
    """Team label of every area, in the order of ``codes``; every area must have exactly one."""
    if assignment.index.has_duplicates:
        dupes = sorted(set(assignment.index[assignment.index.duplicated()]))[:5]
        raise ValueError(f"areas assigned more than once: {', '.join(map(str, dupes))}")
    labels = assignment.reindex(pd.Index(codes))
    missing = labels.index[labels.isna()]
    if len(missing):
        raise ValueError(
            f"{len(missing)} area(s) have no team: {', '.join(map(str, missing[:5]))}"
            + (" ..." if len(missing) > 5 else "")
        )
    extra = sorted(set(assignment.index) - set(codes))
    if extra:
        raise ValueError(f"assignment names areas not in the geography: {', '.join(extra[:5])}")
    return labels.to_numpy()


def _groups(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Team labels as integers 0..k-1 (in sorted label order) and the sorted unique labels."""
    uniq, inverse = np.unique(labels.astype(str), return_inverse=True)
    return inverse, uniq


def best_centres(
    team: np.ndarray, weights: np.ndarray, x_m: np.ndarray, y_m: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each team 0..k-1: the member area minimising person-km to it, and that person-km.

    ``team`` holds integer team numbers 0..k-1 per area; distances are straight-line km between
    centroids. Ties go to the lowest area index.
    """
    k = int(team.max()) + 1 if len(team) else 0
    centre = np.empty(k, dtype=int)
    cost = np.empty(k)
    pts = np.column_stack([x_m, y_m])
    for t in range(k):
        members = np.flatnonzero(team == t)
        d = cdist(pts[members], pts[members]) / 1000.0
        totals = weights[members] @ d
        best = int(np.argmin(totals))
        centre[t] = members[best]
        cost[t] = float(totals[best])
    return centre, cost


def non_contiguous_teams(team: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Team numbers whose members form more than one piece using only edges inside the team."""
    n = len(team)
    edges = np.asarray(edges, dtype=int).reshape(-1, 2)
    inside = edges[team[edges[:, 0]] == team[edges[:, 1]]] if len(edges) else edges
    piece = components(n, inside)
    pieces = pd.Series(piece).groupby(team).nunique()
    return pieces.index[pieces.to_numpy() > 1].to_numpy()


def cut_edge_count(team: np.ndarray, edges: np.ndarray) -> int:
    edges = np.asarray(edges, dtype=int).reshape(-1, 2)
    return int((team[edges[:, 0]] != team[edges[:, 1]]).sum()) if len(edges) else 0


def polsby_popper(team: np.ndarray, geometries: np.ndarray) -> np.ndarray:
    """4 pi A / P^2 of each team's dissolved boundary, teams 0..k-1."""
    k = int(team.max()) + 1
    out = np.empty(k)
    for t in range(k):
        shape = shapely.union_all(geometries[team == t])
        perimeter = shapely.length(shape)
        out[t] = 4 * math.pi * shapely.area(shape) / perimeter**2 if perimeter > 0 else math.nan
    return out


def score_plan(
    assignment: pd.Series,
    geo: Geography,
    weights: np.ndarray,
    min_population: float,
    max_population: float,
    *,
    geometries: np.ndarray | None = None,
    bound: float | None = None,
    seconds: float | None = None,
    method: str = "",
) -> PlanScore:
    """Score a plan (area code -> team label) on our adjacency, band and objective.

    ``weights`` is the band's population basis per area in the order of ``geo.codes``;
    ``geometries`` (same order, EPSG:27700 metres) are needed only for Polsby-Popper;
    ``bound`` is our solver's lower bound on the objective for the same instance.
    """
    labels = team_labels(assignment, geo.codes)
    team, _ = _groups(labels)
    weights = np.asarray(weights, dtype=float)
    if len(weights) != geo.n:
        raise ValueError(f"{len(weights)} weights for {geo.n} areas")
    pops = np.bincount(team, weights=weights)
    outside = int(((pops < min_population - 1e-6) | (pops > max_population + 1e-6)).sum())
    split = non_contiguous_teams(team, geo.edges)
    _, cost = best_centres(team, weights, geo.x_m, geo.y_m)
    objective = float(cost.sum())
    gap = None if bound is None or objective <= 0 else (objective - bound) / objective
    pp = None if geometries is None else float(np.nanmean(polsby_popper(team, geometries)))
    return PlanScore(
        method=method,
        teams=len(pops),
        outside_band=outside,
        non_contiguous=len(split),
        objective=objective,
        gap=gap,
        polsby_popper=pp,
        cut_edges=cut_edge_count(team, geo.edges),
        max_min_ratio=float(pops.max() / pops.min()) if pops.min() > 0 else math.inf,
        min_population=float(pops.min()),
        max_population=float(pops.max()),
        seconds=seconds,
    )
