"""The one yardstick for every plan, on grids small enough to check by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import shapely

from planning.geography import Geography
from planning.scoring import best_centres, score_plan, team_labels


def grid(rows: int, cols: int) -> tuple[Geography, np.ndarray]:
    """A rows x cols grid of 1 km squares, rook adjacency, areas numbered row by row from the
    top left (codes E01000000, E01000001, ...); returns the geography and the squares."""
    n = rows * cols
    codes = np.array([f"E01{k:06d}" for k in range(n)])
    r, c = np.divmod(np.arange(n), cols)
    x = c * 1000.0 + 500.0
    y = (rows - 1 - r) * 1000.0 + 500.0
    edges = {(k, k + 1) for k in range(n) if c[k] + 1 < cols}
    edges |= {(k, k + cols) for k in range(n) if r[k] + 1 < rows}
    geo = Geography(
        codes=codes,
        names=codes.copy(),
        x_m=x,
        y_m=y,
        edges=np.array(sorted(edges), dtype=int),
        links=(),
    )
    squares = shapely.box(x - 500, y - 500, x + 500, y + 500)
    return geo, squares


def plan(geo: Geography, picture: str) -> pd.Series:
    """Team letters drawn row by row, e.g. 'AAB/ABB'."""
    letters = [ch for ch in picture if ch.isalpha()]
    assert len(letters) == geo.n
    return pd.Series(letters, index=geo.codes)


def test_objective_uses_each_teams_best_centre():
    """
    A B B        weights 10 1 1        A is alone (0 person-km).
    1 km apart                         B = {b, c}: centre either end, 1 x 1 km = 1.
    """
    geo, _ = grid(1, 3)
    weights = np.array([10.0, 1.0, 1.0])
    s = score_plan(plan(geo, "ABB"), geo, weights, 0, 100)
    assert s.objective == pytest.approx(1.0)
    # one team: centre a (the heavy area) costs 1 + 2 = 3; centre b would cost 10 + 1 = 11
    one = score_plan(plan(geo, "AAA"), geo, weights, 0, 100)
    assert one.objective == pytest.approx(3.0)
    centre, cost = best_centres(np.zeros(3, dtype=int), weights, geo.x_m, geo.y_m)
    assert centre.tolist() == [0]
    assert cost.tolist() == pytest.approx([3.0])


def test_band_ratio_and_gap():
    """
    A A B
    A B B        every area 10 people: A = 30, B = 30; band 25-35 holds both.
    """
    geo, _ = grid(2, 3)
    weights = np.full(6, 10.0)
    s = score_plan(plan(geo, "AAB/ABB"), geo, weights, 25, 35, bound=2.0, seconds=1.5, method="m")
    assert (s.teams, s.outside_band, s.non_contiguous) == (2, 0, 0)
    assert s.valid
    assert s.max_min_ratio == pytest.approx(1.0)
    # each L-shaped team: centre at its corner, 10 x (1 + 1) = 20 person-km; 40 in all
    assert s.objective == pytest.approx(40.0)
    assert s.gap == pytest.approx((40.0 - 2.0) / 40.0)
    assert (s.method, s.seconds) == ("m", 1.5)
    tight = score_plan(plan(geo, "AAA/ABB"), geo, weights, 25, 35)
    assert tight.outside_band == 2  # 40 above, 20 below
    assert tight.max_min_ratio == pytest.approx(2.0)
    assert not tight.valid


def test_contiguity_and_cut_edges_on_our_adjacency():
    """
    A B          rook adjacency: the two A's touch only at a corner, so A is split, and so is B.
    B A          cut edges: all 4 grid edges.
    """
    geo, _ = grid(2, 2)
    s = score_plan(plan(geo, "AB/BA"), geo, np.ones(4), 0, 10)
    assert s.non_contiguous == 2
    assert s.cut_edges == 4
    ok = score_plan(plan(geo, "AB/AB"), geo, np.ones(4), 0, 10)
    assert (ok.non_contiguous, ok.cut_edges) == (0, 2)


def test_a_bridge_link_joins_an_island():
    """
    A A . A      the fourth area is an island: without a link team A is split;
                 a bridge link 1-3 (like Hayling Island's) makes it one piece.
    """
    geo, _ = grid(1, 4)
    island = Geography(
        codes=geo.codes,
        names=geo.names,
        x_m=geo.x_m,
        y_m=geo.y_m,
        edges=np.array([[0, 1], [1, 2]]),
        links=(),
    )
    bridged = Geography(
        codes=geo.codes,
        names=geo.names,
        x_m=geo.x_m,
        y_m=geo.y_m,
        edges=np.array([[0, 1], [1, 2], [1, 3]]),
        links=(),
    )
    labels = pd.Series(["A", "A", "B", "A"], index=geo.codes)
    assert score_plan(labels, island, np.ones(4), 0, 10).non_contiguous == 1
    s = score_plan(labels, bridged, np.ones(4), 0, 10)
    assert s.non_contiguous == 0
    assert s.cut_edges == 1  # only 1-2 now; 1-3 is inside team A


def test_polsby_popper_of_squares_and_rectangles():
    """
    A B B        A: a 1 km square, pi/4.   B: a 2 x 1 km rectangle, 4 pi 2 / 6^2 = 2 pi / 9.
    """
    geo, squares = grid(1, 3)
    s = score_plan(plan(geo, "ABB"), geo, np.ones(3), 0, 10, geometries=squares)
    assert s.polsby_popper == pytest.approx((math.pi / 4 + 2 * math.pi / 9) / 2)
    assert score_plan(plan(geo, "ABB"), geo, np.ones(3), 0, 10).polsby_popper is None


def test_labels_map_back_by_area_code_not_position():
    """A plan given in shuffled order scores the same as the plan in area order."""
    geo, _ = grid(2, 3)
    weights = np.arange(1.0, 7.0)
    ordered = plan(geo, "AAB/ABB")
    shuffled = ordered.iloc[[5, 2, 0, 4, 1, 3]]
    assert score_plan(shuffled, geo, weights, 0, 100) == score_plan(ordered, geo, weights, 0, 100)


def test_every_area_needs_exactly_one_team():
    geo, _ = grid(1, 3)
    with pytest.raises(ValueError, match="1 area\\(s\\) have no team: E01000002"):
        team_labels(pd.Series(["A", "A"], index=geo.codes[:2]), geo.codes)
    with pytest.raises(ValueError, match="more than once"):
        team_labels(pd.Series(["A", "A", "B", "B"], index=[*geo.codes, geo.codes[0]]), geo.codes)
    with pytest.raises(ValueError, match="not in the geography"):
        team_labels(pd.Series(["A", "A", "B", "B"], index=[*geo.codes, "E01999999"]), geo.codes)
