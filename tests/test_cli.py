"""The command line end to end on the real data, and its answers to bad input."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from planning.allocate import check_plan
from planning.cli import main
from planning.config import load_scenario
from planning.data import load_areas
from planning.geography import build_geography

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


@pytest.fixture(scope="module")
def hampshire_run(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("run") / "hampshire"
    code = main(
        ["run", str(SCENARIOS / "hampshire.yaml"), "--out", str(out), "--data-dir", str(data_dir)]
    )
    assert code == 0
    return out


@pytest.mark.slow
def test_hampshire_outputs(hampshire_run, data_dir):
    out = hampshire_run
    for name in (
        "areas.csv",
        "teams.csv",
        "teams.gpkg",
        "teams.png",
        "manifest.json",
        "staffing.csv",
        "staffing.xlsx",
    ):
        assert (out / name).is_file(), name
    areas = pd.read_csv(out / "areas.csv")
    teams = pd.read_csv(out / "teams.csv")
    assert list(areas.columns[:7]) == [
        "area_code",
        "area_name",
        "team_id",
        "district_code",
        "district_name",
        "residents",
        "children_0_17",
    ]
    assert list(teams.columns[:7]) == [
        "team_id",
        "group",
        "n_areas",
        "residents",
        "children_0_17",
        "imd_score_mean",
        "centre_area_code",
    ]
    assert len(areas) == 865 and areas.team_id.notna().all()
    assert len(teams) == 34
    assert teams.residents.between(30_000, 50_000).all()
    per_group = teams.groupby("group").size()
    assert len(per_group) == 9 and per_group.between(3, 5).all()
    assert teams.n_areas.sum() == 865
    assert (
        areas.groupby("team_id").residents.sum().round().astype(int).to_dict()
        == teams.set_index("team_id").residents.to_dict()
    )

    # contiguity and band re-checked independently on the real adjacency
    scenario = load_scenario(SCENARIOS / "hampshire.yaml")
    area_data = load_areas(scenario.councils, data_dir)
    geo = build_geography(area_data.areas, scenario.geography)
    assignment = areas.set_index("area_code").team_id.reindex(area_data.areas.area_code)
    check_plan(assignment, area_data.areas, geo, scenario.teams)

    manifest = json.loads((out / "manifest.json").read_text())
    for key in ("status", "objective", "bound", "gap", "seconds"):
        assert manifest[key] is not None, key
    assert manifest["status"] in {"optimal", "time_limit"}
    assert manifest["bound"] <= manifest["objective"]
    assert manifest["gap"] == pytest.approx(
        (manifest["objective"] - manifest["bound"]) / manifest["objective"]
    )
    if manifest["status"] == "optimal":
        assert manifest["gap"] <= scenario.solver.relative_gap + 1e-9
    assert manifest["links"][0]["name"].startswith("Langstone")
    assert len(manifest["inputs_sha256"]) >= 7
    assert manifest["versions"]["highs"]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    return path


HAVANT = "name: Havant test\ncouncils: [E07000090]\nsolver: {time_limit_seconds: 20}\n"


def test_validate_reports_groups(data_dir, capsys):
    assert main(["validate", str(SCENARIOS / "hampshire.yaml"), "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert '"areas": 865' in out and "valid" in out


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        ("name: x\ncouncils: [E10000014\n", 2, "not valid YAML"),
        ("name: x\ncouncils: [E10000099]\n", 2, "E10000099: not an English council code"),
        ("name: x\ncouncils: [E10000014]\nteam: {}\n", 2, "did you mean 'teams'"),
        (
            HAVANT + "teams: {min_population: 70000, max_population: 80000}\n",
            3,
            "Havant: 124,214 residents cannot be split into teams of 70,000-80,000",
        ),
    ],
)
def test_bad_input_exits_with_message_and_no_outputs(
    tmp_path, data_dir, capsys, text, code, message
):
    out = tmp_path / "out"
    path = write(tmp_path, text)
    assert main(["run", str(path), "--out", str(out), "--data-dir", str(data_dir)]) == code
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["scenario.yaml"]


def test_missing_data_dir_exits_2(tmp_path, capsys):
    path = write(tmp_path, HAVANT)
    assert (
        main(["run", str(path), "--out", str(tmp_path / "o"), "--data-dir", str(tmp_path / "none")])
        == 2
    )
    assert "does not exist" in capsys.readouterr().err


def test_small_run_is_reproducible(tmp_path, data_dir):
    path = write(tmp_path, HAVANT)
    for name in ("a", "b"):
        assert (
            main(["run", str(path), "--out", str(tmp_path / name), "--data-dir", str(data_dir)])
            == 0
        )
    for name in ("areas.csv", "teams.csv", "staffing.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    # every output but the manifest (timestamp, solve times) is byte-identical, and the
    # manifest's hashes are those of the files as written
    first, second = (json.loads((tmp_path / n / "manifest.json").read_text()) for n in "ab")
    files = sorted(
        p.name
        for p in (tmp_path / "a").iterdir()
        if p.name not in ("manifest.json", ".planning-output")  # the folder's own marker
    )
    assert sorted(first["outputs_sha256"]) == files and "teams.gpkg" in files
    assert first["outputs_sha256"] == second["outputs_sha256"]
    for name, digest in first["outputs_sha256"].items():
        assert hashlib.sha256((tmp_path / "a" / name).read_bytes()).hexdigest() == digest, name
    assert list(first["scenario_sha256"]) == ["scenario.yaml"]
    assert (
        first["scenario_sha256"]["scenario.yaml"] == hashlib.sha256(path.read_bytes()).hexdigest()
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first["created_utc"])
    for lib in ("geopandas", "shapely", "pyogrio", "gdal", "matplotlib", "openpyxl"):
        assert first["versions"][lib], lib
    assert first["data_dir"] == str(Path(data_dir).resolve())
    if first["planner_git"] is not None:  # run from a checkout
        assert re.fullmatch(r"[0-9a-f]{40}", first["planner_git"]["commit"])


@pytest.mark.slow
def test_hampshire_plan_social_work_fte_matches_published(hampshire_run, data_dir):
    """Issue 4's check on the real 34-team plan: with Hampshire's own 2025 rates, a caseload
    target equal to its published average (16.1) and the share of Family Help cases its own
    figures show held outside case-holding social workers (44%), the plan's social-work
    case-holding FTE is within 10% of the FTE its published figures imply (cases / caseload)."""
    from planning.config import WorkforceSettings
    from planning.workforce import published_rates, size_workforce

    areas = load_areas(["E10000014"], data_dir).areas
    plan = pd.read_csv(hampshire_run / "areas.csv").set_index("area_code").team_id
    rates = published_rates(["E10000014"], data_dir)
    target = float(rates.table.loc["E10000014", "caseload_fte"])
    assert target == pytest.approx(16.1)
    settings = WorkforceSettings(
        caseload_target_cases_per_fte=dict.fromkeys(
            ["family_practitioner", "social_worker", "lead_child_protection_practitioner"], target
        ),
        max_non_social_worker_share=0.44,  # (9,714 - (6,339 - 922)) / 9,714, from DfE figures
    )
    posts = size_workforce(areas, plan.reindex(areas.area_code), rates, settings)
    row = posts.comparison.set_index("council_code").loc["E10000014"]
    ratio = row.plan_social_work_case_holding_fte / row.published_implied_fte
    print(
        f"plan {row.plan_social_work_case_holding_fte:.1f} FTE vs published "
        f"{row.published_implied_fte:.1f} ({100 * (ratio - 1):+.1f}%)"
    )
    assert abs(ratio - 1) < 0.10


def test_unwritable_output_folder_is_a_message_not_a_traceback(tmp_path, data_dir, capsys):
    path = write(tmp_path, HAVANT)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code = main(["run", str(path), "--out", str(blocker / "out"), "--data-dir", str(data_dir)])
    err = capsys.readouterr().err
    assert code == 1
    assert "no outputs were written" in err and "Traceback" not in err


@pytest.mark.slow
def test_children_band_one_large_block_is_proven_within_the_gap(tmp_path, data_dir):
    """Issue 5's hard instance: Hampshire's 865 areas as one block (no nesting), teams of
    30-50k children 0-17, count free. The large-block path (star models over the capacitated
    assignment's centres, Lagrangian bound) must give a valid plan with its proof."""
    # the shipped file gives 120 s; 60 s here keeps the suite short and the proof within 2x the
    # target (12-07, alone: 1.40% at 60 s, 1.48% at 40 s, 0.91% at 120 s)
    path = tmp_path / "children_band_60s.yaml"
    path.write_text(
        f"extends: {SCENARIOS / 'hampshire_children_band.yaml'}\n"
        "solver: {time_limit_seconds: 60}\n"
    )
    out = tmp_path / "children"
    assert main(["run", str(path), "--out", str(out), "--data-dir", str(data_dir)]) == 0
    scenario = load_scenario(path)
    assert scenario.solver.time_limit_seconds == 60
    teams = pd.read_csv(out / "teams.csv")
    areas = pd.read_csv(out / "areas.csv")
    assert 6 <= len(teams) <= 9
    assert teams.children_0_17.between(30_000, 50_000).all()
    area_data = load_areas(scenario.councils, data_dir)
    geo = build_geography(area_data.areas, scenario.geography)
    assignment = areas.set_index("area_code").team_id.reindex(area_data.areas.area_code)
    check_plan(assignment, area_data.areas, geo, scenario.teams)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["bound"] <= manifest["objective"]
    assert manifest["gap"] == pytest.approx(
        (manifest["objective"] - manifest["bound"]) / manifest["objective"]
    )
    # the status follows the gap; how fast the gap closes is the benchmark's to measure
    # (benchmarks/allocate.py), so here only a margin is asked
    within = manifest["gap"] <= scenario.solver.relative_gap + 1e-9
    assert manifest["status"] == ("optimal" if within else "time_limit")
    assert manifest["gap"] <= 2 * scenario.solver.relative_gap
