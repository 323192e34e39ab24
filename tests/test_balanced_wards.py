"""Whole wards, a workload band and locks end to end on a real council (Hartlepool, 3 teams).

The plan is re-checked on the real adjacency against the outputs as written: every ward in one
team, every team's case-holding FTE (before rounding) in the band, the locked areas together,
and the report and manifest saying so.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from planning.allocate import check_plan
from planning.cli import main
from planning.config import load_scenario
from planning.data import load_areas
from planning.geography import build_geography
from planning.pipeline import run_stages
from planning.workforce import area_workload, published_rates

HARTLEPOOL = "E06000001"


def write_scenario(folder, teams: dict) -> object:
    path = folder / "scenario.yaml"
    body = {
        "name": "Hartlepool test",
        "councils": [HARTLEPOOL],
        "teams": {"min_population": 20000, "max_population": 45000, **teams},
        "solver": {"time_limit_seconds": 30, "relative_gap": 0.01, "processes": 1},
    }
    path.write_text(yaml.safe_dump(body))
    return path


@pytest.fixture(scope="module")
def balanced(tmp_path_factory, data_dir):
    """Wards kept whole, a workload band 30% either side of the mean team, two areas locked."""
    root = tmp_path_factory.mktemp("balanced")
    data = load_areas([HARTLEPOOL], data_dir)
    plain = load_scenario(write_scenario(root, {}))
    settings = plain.workforce
    rates = published_rates([HARTLEPOOL], data.data_dir, settings.rates_year)
    with_work = area_workload(data.areas, rates, settings)
    total = float(with_work.case_holding_fte.sum())
    band = {
        "basis": "case_holding_fte",
        "min": round(total / 3 * 0.7, 2),
        "max": round(total / 3 * 1.3, 2),
    }
    locks = root / "locks.csv"
    first, second = build_geography(data.areas, plain.geography).edges[0]  # two touching areas
    codes = [data.areas.area_code.iloc[first], data.areas.area_code.iloc[second]]
    locks.write_text("area_code,team\n" + "".join(f"{c},estate\n" for c in codes))
    scenario = write_scenario(
        root,
        {
            "building_block": "ward",
            "workload": band,
            "total_teams": 3,
            "fixed_areas_csv": "locks.csv",
        },
    )
    folder = root / "out"
    assert main(["run", str(scenario), "--out", str(folder), "--data-dir", str(data_dir)]) == 0
    return scenario, folder, band, codes


@pytest.mark.slow
def test_wards_whole_workload_in_band_and_locks_kept(balanced, data_dir):
    scenario_path, folder, band, locked = balanced
    scenario = load_scenario(scenario_path)
    areas = pd.read_csv(folder / "areas.csv")
    assert (areas.groupby("ward_code").team_id.nunique() == 1).all()
    assert areas.set_index("area_code").team_id[locked].nunique() == 1
    teams = pd.read_csv(folder / "teams.csv")
    assert len(teams) == 3
    assert teams.case_holding_fte.between(band["min"] - 0.01, band["max"] + 0.01).all()
    data = load_areas(scenario.councils, data_dir)
    geo = build_geography(data.areas, scenario.geography)
    full, _ = run_stages(scenario, scenario_path, data_dir)
    assignment = areas.set_index("area_code").team_id.reindex(data.areas.area_code)
    check_plan(assignment, full.area_data.areas, geo, scenario.teams)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["building_block"] == "ward"
    assert manifest["model_nodes"] < len(areas)
    assert manifest["locks"][0]["label"] == "estate"
    spread = manifest["team_fte_spread"]["case_holding_fte"]
    assert spread["ratio"] == pytest.approx(spread["max"] / spread["min"], abs=1e-3)
    assert manifest["bound"] <= manifest["objective"] and manifest["gap"] <= 0.01
    report = (folder / "report.html").read_text()
    assert "whole May 2024 wards" in report and "the workload band holds each team" in report


@pytest.mark.slow
def test_a_workload_band_no_plan_can_meet_exits_3_naming_the_group(tmp_path, data_dir):
    scenario = write_scenario(
        tmp_path, {"workload": {"basis": "case_holding_fte", "min": 500, "max": 600}}
    )
    code = main(["run", str(scenario), "--out", str(tmp_path / "out"), "--data-dir", str(data_dir)])
    assert code == 3
    assert not (tmp_path / "out").exists()


def test_validate_checks_the_workload_band_without_solving(tmp_path, data_dir):
    scenario = write_scenario(tmp_path, {"workload": {"basis": "case_holding_fte", "min": 500}})
    assert main(["validate", str(scenario), "--data-dir", str(data_dir)]) == 3
