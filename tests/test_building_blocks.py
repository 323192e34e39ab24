"""Whole wards, locked areas and the workload band on hand-drawn grids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from grids import grid

from planning.allocate import allocate_teams, check_plan
from planning.config import SolverSettings, TeamSettings, WorkloadBand
from planning.data import read_locks
from planning.errors import ConfigError, InfeasibleError, SolverError

SOLVER = SolverSettings(time_limit_seconds=30, relative_gap=0.0, processes=1)


def with_wards(areas: pd.DataFrame, picture: str) -> pd.DataFrame:
    """Ward letters per cell, drawn like the grid."""
    letters = [ch for line in picture.strip().splitlines() for ch in line.strip() if ch != "."]
    out = areas.copy()
    out["ward_code"] = [f"E0500{ord(ch):04d}" for ch in letters]
    out["ward_name"] = [f"Ward {ch}" for ch in letters]
    return out


def person_km(plan, areas: pd.DataFrame, geo) -> float:
    """The plan's objective re-derived from its areas and its teams' centre areas."""
    index = {c: k for k, c in enumerate(geo.codes)}
    centre = plan.assignment.map(plan.teams.set_index("team_id").centre_area_code)
    total = 0.0
    for code, c in centre.items():
        i, j = index[code], index[c]
        dist = np.hypot(geo.x_m[i] - geo.x_m[j], geo.y_m[i] - geo.y_m[j]) / 1000
        total += float(areas.residents.iloc[i]) * dist
    return total


WARDS = """
aabbcc
aabbcc
ddeeff
"""


def test_whole_wards_stay_in_one_team_and_the_objective_is_area_person_km():
    areas, geo = grid("AAAAAA\nAAAAAA\nAAAAAA")
    areas = with_wards(areas, WARDS)
    settings = TeamSettings(
        min_population=6, max_population=6.5, total_teams=3, building_block="ward"
    )
    plan = allocate_teams(areas, geo, settings, SOLVER)
    assert plan.status == "optimal" and plan.building_block == "ward"
    assert plan.nodes == 6  # six wards, not 18 areas
    wards_per_team = areas.assign(team=plan.assignment.to_numpy()).groupby("ward_code").team
    assert (wards_per_team.nunique() == 1).all()
    assert plan.objective == pytest.approx(person_km(plan, areas, geo), rel=1e-9)
    assert plan.bound <= plan.objective + 1e-9
    lsoa = allocate_teams(
        areas, geo, settings.model_copy(update={"building_block": "lsoa"}), SOLVER
    )
    assert lsoa.objective <= plan.objective + 1e-9  # whole wards can only cost more


def test_a_ward_in_two_separate_pieces_is_joined_with_the_ward_between():
    areas, geo = grid("AAAA\nAAAA")
    areas = with_wards(areas, "abba\nccdd")  # ward a is two pieces (the ends of the top row)
    settings = TeamSettings(
        min_population=4, max_population=4.5, total_teams=2, building_block="ward"
    )
    plan = allocate_teams(areas, geo, settings, SOLVER)
    assert len(plan.ward_joins) == 1 and "Ward b" in plan.ward_joins[0]
    team = plan.assignment.to_numpy()
    assert len(set(team[:4])) == 1 and team[0] != team[4]  # a and b together: the top row
    check_plan(plan.assignment, areas, geo, settings)


def test_locked_areas_end_in_one_team_and_the_bound_still_holds(tmp_path):
    areas, geo = grid("AAAAAAAA")
    settings = TeamSettings(min_population=4, max_population=4.5, total_teams=2)
    free = allocate_teams(areas, geo, settings, SOLVER)
    assert free.assignment.iloc[3] != free.assignment.iloc[4]  # the halves split at 3|4
    path = tmp_path / "locks.csv"
    path.write_text(
        f"area_code,team\n{geo.codes[2]},keep\n{geo.codes[3]},keep\n{geo.codes[4]},keep\n"
    )
    locks = read_locks(path, areas)
    settings3 = TeamSettings(min_population=3, max_population=5, total_teams=2)
    plan = allocate_teams(areas, geo, settings3, SOLVER, locks=locks)
    team = plan.assignment.iloc[[2, 3, 4]]
    assert team.nunique() == 1
    assert plan.locks[0]["label"] == "keep" and plan.locks[0]["areas"] == 3
    assert plan.bound <= plan.objective + 1e-9 and plan.status == "optimal"
    assert plan.objective == pytest.approx(person_km(plan, areas, geo), rel=1e-9)


def test_locks_that_no_team_can_keep_are_explained(tmp_path):
    areas, geo = grid("AAAABBBB")
    settings = TeamSettings(min_population=2, max_population=4, nesting="district")
    codes = geo.codes

    def locks(rows: list[tuple[int, str]]) -> pd.Series:
        path = tmp_path / "locks.csv"
        path.write_text("area_code,team\n" + "".join(f"{codes[i]},{t}\n" for i, t in rows))
        return read_locks(path, areas)

    with pytest.raises(InfeasibleError, match=r"'apart'.*2 separate pieces"):
        allocate_teams(areas, geo, settings, SOLVER, locks=locks([(0, "apart"), (2, "apart")]))
    with pytest.raises(InfeasibleError, match=r"District A and District B.*nested"):
        allocate_teams(areas, geo, settings, SOLVER, locks=locks([(3, "x"), (4, "x")]))
    with pytest.raises(InfeasibleError, match="5 residents is above the band's maximum"):
        allocate_teams(
            areas,
            geo,
            settings.model_copy(update={"nesting": "none"}),
            SOLVER,
            locks=locks([(i, "big") for i in range(5)]),
        )


def test_lock_file_errors_name_the_rows(tmp_path):
    areas, geo = grid("AAAA")
    path = tmp_path / "locks.csv"
    path.write_text(f"area_code,team\nE01999999,x\n{geo.codes[0]},a\n{geo.codes[0]},b\n")
    with pytest.raises(ConfigError, match="E01999999") as err:
        read_locks(path, areas)
    assert "under two labels: a, b" in str(err.value)


def workload_grid():
    """Two rows of four areas; the left half carries most of the workload (deprived estates)."""
    areas, geo = grid("AAAA\nAAAA")
    areas["case_holding_fte"] = [4.0, 4.0, 1.0, 1.0, 4.0, 4.0, 1.0, 1.0]
    areas["expected_cases"] = areas.case_holding_fte * 15
    return areas, geo


def test_the_workload_band_evens_out_team_fte_and_is_checked():
    areas, geo = workload_grid()
    base = TeamSettings(min_population=4, max_population=4.5, total_teams=2)
    free = allocate_teams(areas, geo, base, SOLVER)
    fte = pd.Series(areas.case_holding_fte.to_numpy(), index=free.assignment.to_numpy())
    assert fte.groupby(level=0).sum().max() == 16.0  # squares: 16 FTE against 4
    band = base.model_copy(update={"workload": WorkloadBand(min=9, max=12)})
    plan = allocate_teams(areas, geo, band, SOLVER)
    assert plan.status == "optimal"
    assert sorted(plan.teams.case_holding_fte) == [10.0, 10.0]  # the two rows
    assert plan.objective > free.objective + 1e-9
    with pytest.raises(SolverError, match="outside the workload band"):
        check_plan(free.assignment, areas, geo, band)


def test_a_workload_band_the_map_cannot_meet_is_proven_infeasible():
    areas, geo = grid("AAAAAAAA")  # one row: halves of 2 heavy + 2 light cannot touch
    areas["case_holding_fte"] = [4.0, 4.0, 4.0, 4.0, 1.0, 1.0, 1.0, 1.0]
    band = TeamSettings(
        min_population=4, max_population=4.5, total_teams=2, workload=WorkloadBand(min=9)
    )
    with pytest.raises(InfeasibleError, match="2 teams proven infeasible"):
        allocate_teams(areas, geo, band, SOLVER)


def test_a_workload_band_no_count_can_meet_says_which_band_would():
    areas, geo = workload_grid()
    band = TeamSettings(
        min_population=2, max_population=6, total_teams=2, workload=WorkloadBand(min=11, max=12)
    )
    with pytest.raises(InfeasibleError, match=r"20.0 case holding fte.*about 5.0-10.0"):
        allocate_teams(areas, geo, band, SOLVER)


def test_workload_as_the_population_basis():
    areas, geo = workload_grid()
    settings = TeamSettings(
        population_basis="expected_cases", min_population=140, max_population=160
    )
    plan = allocate_teams(areas, geo, settings, SOLVER)
    assert sorted(plan.teams.expected_cases) == [150.0, 150.0]  # the rows, not the squares
