"""Allocation on hand-drawn grids: band, contiguity, nesting, team counts and infeasibility."""

from __future__ import annotations

import numpy as np
import pytest
from grids import grid

from planning.allocate import (
    allocate_teams,
    bound_holders,
    check_plan,
    choose_counts,
    count_range,
)
from planning.allocate.blocks import plan_blocks
from planning.allocate.graph import population_path
from planning.allocate.plan import holder_text
from planning.config import Grouping, SolverSettings, TeamSettings
from planning.errors import ConfigError, InfeasibleError, SolverError

SOLVER = SolverSettings(time_limit_seconds=30, relative_gap=0.0, processes=1)


def teams_of(plan) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for code, team in plan.assignment.items():
        out.setdefault(team, set()).add(code)
    return out


def test_four_by_four_tiles_into_t_shapes():
    """
    AAAA
    AAAA      4 teams of exactly 4 people. The best a team can do is a centre with its three
    AAAA      neighbours (3 person-km; a 2x2 square costs 2 + sqrt(2)), and four T shapes tile
    AAAA      the square, so the optimum is 12.
    """
    areas, geo = grid("AAAA\nAAAA\nAAAA\nAAAA")
    settings = TeamSettings(min_population=4, max_population=4.5, total_teams=4)
    plan = allocate_teams(areas, geo, settings, SOLVER)
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(12.0, rel=1e-6)
    assert plan.bound == pytest.approx(12.0, rel=1e-6)
    assert plan.gap == pytest.approx(0.0, abs=1e-9)
    centre_of = plan.teams.set_index("team_id").centre_area_code
    index = {c: k for k, c in enumerate(geo.codes)}
    touching = {frozenset(e) for e in geo.edges.tolist()}
    for team, members in teams_of(plan).items():
        centre = index[centre_of[team]]
        others = [index[m] for m in members if index[m] != centre]
        assert all(frozenset((centre, o)) in touching for o in others), team


def test_band_holds_on_weighted_grid():
    """
    AAAAAA     one heavy area (weight 5) must share a team with few others
    """
    areas, geo = grid("AAAAAA", weights={(0, 0): 5.0})
    settings = TeamSettings(min_population=5, max_population=6, total_teams=2)
    plan = allocate_teams(areas, geo, settings, SOLVER)
    sizes = plan.teams.set_index("team_id").residents
    assert sorted(sizes) == [5, 5]  # {heavy} and the five others
    assert plan.teams.n_areas.sort_values().tolist() == [1, 5]


def test_contiguity_is_enforced_where_distance_alone_would_split_a_team():
    """
    A.A        Two arms joined only at the bottom row. The top cells of both arms are 2 km
    A.A        apart; without contiguity one team would take both tops. With it, each team
    A.A        must be a connected piece.
    AAA
    """
    areas, geo = grid("A.A\nA.A\nA.A\nAAA")
    settings = TeamSettings(min_population=4, max_population=5, total_teams=2)
    plan = allocate_teams(areas, geo, settings, SOLVER)
    check_plan(plan.assignment, areas, geo, settings)  # raises if split or out of band
    assert plan.status == "optimal"
    assert len(teams_of(plan)) == 2


def test_island_beyond_a_cut_vertex_stays_with_its_bridge():
    """
    AAAA.BB    B B is an 'island' reached only through the bridge cell at (0,3)-(0,5): we draw
    AAAA.BB    it as a separate piece joined by one edge added below.
    """
    areas, geo = grid("AAAA.BB\nAAAA.BB")
    codes = list(geo.codes)
    a, b = codes.index("E01000003"), codes.index("E01000004")  # (0,3) and (0,5)
    geo = type(geo)(
        geo.codes, geo.names, geo.x_m, geo.y_m, np.vstack([geo.edges, [[a, b]]]), geo.links
    )
    settings = TeamSettings(min_population=4, max_population=7, total_teams=2)
    plan = allocate_teams(areas, geo, settings, SOLVER)
    check_plan(plan.assignment, areas, geo, settings)
    island = {"E01000004", "E01000005", "E01000010", "E01000011"}
    teams = teams_of(plan)
    holder = [t for t, m in teams.items() if island & m]
    assert len(holder) == 1  # the island is never split


def test_teams_nest_in_districts_and_groupings():
    """
    AABB
    AABB       districts A, B, C, D; groupings {A,B} and {C,D}; 2 teams per grouping
    CCDD
    CCDD
    """
    areas, geo = grid("AABB\nAABB\nCCDD\nCCDD")
    code = dict(zip(areas.district_name.str[-1], areas.district_code, strict=False))
    settings = TeamSettings(
        min_population=3,
        max_population=5,
        nesting="groupings",
        total_teams=4,
        groupings=[
            Grouping(name="north", districts=[code["A"], code["B"]]),
            Grouping(name="south", districts=[code["C"], code["D"]]),
        ],
    )
    plan = allocate_teams(areas, geo, settings, SOLVER)
    groups = plan.teams.groupby("group").size().to_dict()
    assert groups == {"north": 2, "south": 2}
    by_district = TeamSettings(min_population=3, max_population=5, nesting="district")
    plan = allocate_teams(areas, geo, by_district, SOLVER)
    for team, members in teams_of(plan).items():
        districts = set(areas.set_index("area_code").loc[sorted(members), "district_code"])
        assert len(districts) == 1, team


def test_free_count_picks_the_cheapest_admissible_count():
    areas, geo = grid("AAAAAAAA")
    settings = TeamSettings(min_population=2, max_population=4)  # 2-4 teams admissible
    plan = allocate_teams(areas, geo, settings, SOLVER)
    assert len(plan.teams) == 4  # more teams, shorter trips
    assert plan.objective == pytest.approx(4.0)


def test_band_no_count_can_meet_is_explained_before_solving():
    areas, geo = grid("AAAAA\nAAAAA")  # 10 people
    settings = TeamSettings(min_population=4, max_population=4.5)
    with pytest.raises(InfeasibleError) as err:
        allocate_teams(areas, geo, settings, SOLVER)
    text = str(err.value)
    assert "District A: 10 residents cannot be split into teams of 4-4.5" in text
    assert "lower min_population to 3 (3 teams) or raise max_population to 5 (2 teams)" in text
    assert err.value.exit_code == 3


def test_group_count_range_outside_band_names_group_and_what_fits():
    areas, geo = grid("AAAAAA\nBBBBBB")
    code = dict(zip(areas.district_name.str[-1], areas.district_code, strict=False))
    settings = TeamSettings(
        min_population=2,
        max_population=3,
        nesting="groupings",
        groupings=[
            Grouping(name="west", districts=[code["A"]], min_teams=4, max_teams=5),
            Grouping(name="east", districts=[code["B"]]),
        ],
    )
    with pytest.raises(InfeasibleError) as err:
        allocate_teams(areas, geo, settings, SOLVER)
    assert "west: 6 residents cannot form 4-5 teams" in str(err.value)
    assert "the band admits 2-3 teams" in str(err.value)


def test_total_outside_what_groups_admit_is_explained():
    areas, geo = grid("AAAAAA")
    settings = TeamSettings(min_population=2, max_population=3, total_teams=5)
    with pytest.raises(InfeasibleError, match="total_teams 5 cannot be met"):
        allocate_teams(areas, geo, settings, SOLVER)


def test_district_missing_from_groupings_is_named():
    areas, geo = grid("AAB")
    code = dict(zip(areas.district_name.str[-1], areas.district_code, strict=False))
    settings = TeamSettings(
        min_population=1,
        max_population=3,
        nesting="groupings",
        groupings=[Grouping(name="only A", districts=[code["A"]])],
    )
    with pytest.raises(InfeasibleError, match=r"is in no grouping"):
        allocate_teams(areas, geo, settings, SOLVER)


def test_check_plan_rejects_split_and_out_of_band_teams():
    areas, geo = grid("AAAA")
    settings = TeamSettings(min_population=2, max_population=2.5)
    split = areas.set_index("area_code").assign(team=["T1", "T2", "T2", "T1"]).team
    with pytest.raises(SolverError, match="T1: not contiguous"):
        check_plan(split, areas, geo, settings)
    lopsided = areas.set_index("area_code").assign(team=["T1", "T2", "T2", "T2"]).team
    with pytest.raises(SolverError, match="outside the band"):
        check_plan(lopsided, areas, geo, settings)


def test_count_range_and_population_paths():
    assert count_range(100, 30, 50) == (2, 3)
    edges = np.array([[0, 1], [1, 2]])
    paths = population_path(3, edges, np.array([1.0, 2.0, 3.0]))
    assert paths[0, 2] == pytest.approx(6.0, abs=1e-4)
    assert paths[1, 1] == pytest.approx(2.0)


def test_choose_counts_is_exact_dynamic_programme():
    values = [{1: 10.0, 2: 6.0}, {1: 9.0, 2: 8.0}, {1: 5.0, 2: 1.0}]
    assert choose_counts(values, (4, 4)) == (20.0, [1, 1, 2])  # ties (2,1,1): first kept
    assert choose_counts(values, (5, 5)) == (16.0, [2, 1, 2])
    assert choose_counts(values, None) == (15.0, [2, 2, 2])
    assert choose_counts(values, (7, 9)) is None


def test_current_plan_is_kept_when_moving_people_costs_enough():
    """
    AAAAAA    The current plan splits the strip 2 | 4 (band 2-4). The compact optimum is 3 | 3.
    """
    import pandas as pd

    areas, geo = grid("AAAAAA")
    current = pd.Series(["old1", "old1", "old2", "old2", "old2", "old2"], index=areas.area_code)
    compact = TeamSettings(min_population=2, max_population=4, total_teams=2)
    plan = allocate_teams(areas, geo, compact, SOLVER, current)
    assert sorted(plan.teams.n_areas) == [3, 3]
    assert plan.changed_areas == 1 and plan.changed_residents == 1.0

    sticky = compact.model_copy(update={"change_penalty_km_per_person": 10.0})
    plan = allocate_teams(areas, geo, sticky, SOLVER, current)
    assert sorted(plan.teams.n_areas) == [2, 4]
    assert plan.changed_areas == 0


def test_current_plan_must_cover_every_area(tmp_path):
    from planning.data import read_current_plan
    from planning.errors import ConfigError

    areas, _ = grid("AAA")
    path = tmp_path / "plan.csv"
    path.write_text("area_code,team_id\nE01000000,T1\nE01000001,T1\nE01999999,T2\n")
    with pytest.raises(ConfigError) as err:
        read_current_plan(path, areas)
    assert "E01999999" in str(err.value)
    assert "E01000002 (cell 0,2)" in str(err.value)


RING = "AAAA\nA..A\nA..A\nAAAA"
RING_CELLS = [(r, c) for r in range(4) for c in range(4) if r in (0, 3) or c in (0, 3)]
RING_WEIGHTS = dict(zip(RING_CELLS, [1, 1, 3, 1, 4, 2, 4, 1, 1, 1, 3, 3], strict=True))


def test_a_count_with_no_plan_hands_over_to_a_count_with_one():
    """
    AAAA      A ring of 12 areas (26 people) in teams of 3-5.4: the band admits 5-8 teams. The
    A..A      cheapest bound is at 7 teams, where no contiguous plan exists (the ring cannot be
    A..A      cut into 7 arcs in the band); the search looks there first, finds no plan, and
    AAAA      moves to 6 teams, which it proves optimal.
    """
    areas, geo = grid(RING, RING_WEIGHTS)
    settings = TeamSettings(min_population=3, max_population=5.4)
    plan = allocate_teams(areas, geo, settings, SOLVER)
    assert count_range(26, 3, 5.4) == (5, 8)
    assert len(plan.teams) == 6 and plan.status == "optimal"
    check_plan(plan.assignment, areas, geo, settings)
    seven = next(p for p in plan.pairs if p["teams"] == 7)
    assert seven["looks"] >= 1 and seven["objective"] is None and not seven["chosen"]
    six = next(p for p in plan.pairs if p["teams"] == 6)
    assert six["chosen"] and six["objective"] == pytest.approx(plan.objective)


def test_overall_bound_is_rederived_from_every_pair():
    """
    AAAB
    AAAB      Two districts (8 and 4 people, teams of 2-4): the overall bound is the cheapest
    AABB      choice of counts over the pairs' bounds, recomputable from plan.pairs alone.
    """
    areas, geo = grid("AAAB\nAAAB\nAABB")
    settings = TeamSettings(min_population=2, max_population=4, nesting="district")
    plan = allocate_teams(areas, geo, settings, SolverSettings(time_limit_seconds=20, processes=1))
    by_group: dict[str, dict[int, float]] = {}
    for p in plan.pairs:
        bound = p["bound"] if p["bound"] is not None else float("inf")
        by_group.setdefault(p["group"], {})[p["teams"]] = bound
    rederived = choose_counts([by_group[g] for g in sorted(by_group)], None)
    assert rederived is not None
    assert rederived[0] == pytest.approx(plan.bound, rel=1e-12)
    assert 0 < plan.bound <= plan.objective
    assert {p["teams"] for p in plan.pairs if p["group"] == "District A"} == {2, 3, 4}
    chosen = sum(p["teams"] for p in plan.pairs if p["chosen"])
    assert chosen == len(plan.teams)
    own = sum(p["bound"] for p in plan.pairs if p["chosen"])
    assert plan.count_bound == pytest.approx(min(own, plan.objective), rel=1e-12)
    assert plan.bound <= plan.count_bound and plan.count_gap <= plan.gap + 1e-12


def test_bound_holders_are_the_other_counts_in_the_bounds_choice():
    """Group A's plan has 3 teams but the bound's choice takes 4 there (no plan found at 4);
    group B's counts agree: only A at 4 holds the gap, with its bound and no plan."""
    pairs = [
        {"group": "A", "teams": 3, "chosen": True, "bound": 90.0, "objective": 91.0},
        {"group": "A", "teams": 4, "chosen": False, "bound": 70.0, "objective": None},
        {"group": "B", "teams": 2, "chosen": True, "bound": 40.0, "objective": 40.0},
    ]
    for p in pairs:
        p["status"] = "time_limit"
    (row,) = bound_holders(pairs, [4, 2], ["A", "B"])
    assert row == {
        "group": "A",
        "teams": 4,
        "plan_teams": 3,
        "bound": 70.0,
        "objective": None,
        "status": "time_limit",
        "ruled_out_below": None,
    }
    assert holder_text(row).endswith("no plan was found there and none was ruled out")
    ruled = holder_text({**row, "ruled_out_below": 80.0})
    assert ruled.endswith("no plan was found there; no plan there costs less than 80")
    assert bound_holders(pairs, [3, 2], ["A", "B"]) == []


def test_district_limits_cap_one_district_by_name_or_code():
    """
    AAAAAA
    AAAAAA    District A (12 people) admits 3-6 teams of 2-4 and B (6) 2-3; a cap by name holds
    BBBBBB    A to at most 3 teams, a floor by code holds B to 3.
    """
    areas, geo = grid("AAAAAA\nAAAAAA\nBBBBBB")
    code_b = areas.district_code[areas.district_name == "District B"].iloc[0]
    settings = TeamSettings(
        min_population=2,
        max_population=4,
        nesting="district",
        district_limits=[
            {"district": "District A", "max_teams": 3},
            {"district": code_b, "min_teams": 3},
        ],
    )
    plan = allocate_teams(areas, geo, settings, SolverSettings(time_limit_seconds=20, processes=1))
    per_group = plan.teams.groupby("group").size().to_dict()
    assert per_group == {"District A": 3, "District B": 3}
    check_plan(plan.assignment, areas, geo, settings)


def test_district_limits_naming_an_unknown_district_is_a_config_error():
    areas, geo = grid("AAB\nAAB")
    settings = TeamSettings(
        min_population=1,
        max_population=4,
        nesting="district",
        district_limits=[{"district": "Nowhere", "max_teams": 2}],
    )
    with pytest.raises(ConfigError, match="district 'Nowhere' is not among"):
        allocate_teams(areas, geo, settings, SOLVER)
    with pytest.raises(ValueError, match="district_limits"):
        TeamSettings(district_limits=[{"district": "X", "max_teams": 2}])
    with pytest.raises(ValueError, match="greater than max_teams"):
        TeamSettings(
            nesting="district", district_limits=[{"district": "X", "min_teams": 3, "max_teams": 2}]
        )


def test_a_block_below_the_band_fails_or_is_one_flagged_team():
    """
    AAA       Six people against a band of 10-20: with undersized 'fail' it is infeasible and the
    AAA       message says to add a neighbouring council; with 'one_team' it is one team, flagged.
    """
    areas, geo = grid("AAA\nAAA")
    with pytest.raises(InfeasibleError, match="add a neighbouring council"):
        allocate_teams(areas, geo, TeamSettings(min_population=10, max_population=20), SOLVER)
    settings = TeamSettings(min_population=10, max_population=20, undersized="one_team")
    plan = allocate_teams(areas, geo, settings, SOLVER)
    assert len(plan.teams) == 1 and plan.below_band_teams == ["T01"]
    assert plan.teams.below_band.tolist() == [True]
    check_plan(plan.assignment, areas, geo, settings, plan.below_band_teams)
    with pytest.raises(SolverError, match="outside the band"):
        check_plan(plan.assignment, areas, geo, settings)


def test_stopping_the_workers_ends_a_running_look_at_once():
    """Once the gap is met the search stops its workers (search._Workers.stop) rather than wait
    for a look still running: the processes are gone and the pool is done."""
    import time

    from planning.allocate.search import _Workers

    with _Workers(2) as workers:
        future = workers.submit(time.sleep, 60)
        time.sleep(0.5)
        processes = list(workers.pool._processes.values())
        assert processes and all(p.is_alive() for p in processes)
        workers.stop()
        assert workers.pool is None and not any(p.is_alive() for p in processes)
        assert future.done()


def test_counts_no_total_can_reach_are_dropped():
    """
    AAAAAA     with a fixed total, a block keeps only the counts some choice of the others'
    BBBBBB     counts brings to it: one block keeps the total itself, and no pair of the
               search is spent on a count that could never be chosen
    """
    areas, geo = grid("AAAAAA\nBBBBBB")
    one = TeamSettings(min_population=2, max_population=4, total_teams=5)
    (block,), _ = plan_blocks(areas, one)
    assert block.counts == (5,)  # 12 residents admit 3-6 teams
    plan = allocate_teams(areas, geo, one, SOLVER)
    assert {p["teams"] for p in plan.pairs} == {5}
    per = TeamSettings(min_population=2, max_population=3, nesting="district", total_teams=4)
    blocks, _ = plan_blocks(areas, per)
    assert [b.counts for b in blocks] == [(2,), (2,)]  # each 6 admits 2-3; 4 in all: 2 + 2
    loose = per.model_copy(update={"total_teams": 5})
    assert [b.counts for b in plan_blocks(areas, loose)[0]] == [(2, 3), (2, 3)]
