"""Scenario studio: compare and sweep (settings, team matching, real Staffordshire runs).

The first tests are instant; the last run Staffordshire (the quickest real scenario, ~15 s a run)
through the library and the command line.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import openpyxl
import pandas as pd
import pytest

from planning.cli import main
from planning.errors import ConfigError
from planning.pipeline import STAGES
from planning.rounding import whole
from planning.studio import (
    check_key,
    compare_scenarios,
    match_teams,
    parse_set,
    sweep_variants,
    team_changes,
    write_compare,
)

ROOT = Path(__file__).resolve().parents[1]
STAFFS = ROOT / "scenarios" / "staffordshire.yaml"
HAMPSHIRE = ROOT / "scenarios" / "hampshire.yaml"


# --------------------------------------------------------------------------- --set parsing


def test_parse_set_reads_values_as_yaml():
    assert parse_set("teams.max_population=45000,50000").values == (45000, 50000)
    assert parse_set("costs.budget_gbp=25e6, 2.5e7 ,null").values == (25e6, 25e6, None)
    assert parse_set("hubs.team_base_at_main_hub=true,false").values == (True, False)
    assert parse_set("councils=[E10000028],[E10000014, E08000014]").values == (
        ["E10000028"],
        ["E10000014", "E08000014"],
    )


@pytest.mark.parametrize(
    "text, message",
    [
        ("teams.max_population", "expected key=value1,value2"),
        ("=1,2", "expected key=value1,value2"),
        ("teams..max=1", "expected key=value1,value2"),
        ("teams.max_population=1,,2", "empty value"),
        ("teams.max_population=[1,", "cannot read the value"),
    ],
)
def test_parse_set_rejects_malformed_options(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_set(text)


def test_unknown_keys_are_named_with_the_nearest_setting():
    check_key("workforce.caseload_target_cases_per_fte.social_worker")  # a mapping's key: ok
    check_key("teams.groupings.0.max_teams")
    with pytest.raises(
        ConfigError,
        match=r"'max_populaton' is not a setting under teams; "
        r"did you mean 'max_population'",
    ):
        check_key("teams.max_populaton")
    with pytest.raises(
        ConfigError,
        match=r"'team' is not a setting under the top level; did "
        r"you mean 'teams'",
    ):
        check_key("team.max_population")


def test_variants_keep_defaults_beside_the_setting_they_change():
    """Setting one role's caseload target keeps the other roles' (default) targets."""
    variants = sweep_variants(
        STAFFS,
        [
            parse_set("workforce.caseload_target_cases_per_fte.social_worker=14,16"),
            parse_set("costs.budget_gbp=25e6"),
        ],
    )
    assert [v.label for v in variants] == [
        "workforce.caseload_target_cases_per_fte.social_worker=14; costs.budget_gbp=25000000.0",
        "workforce.caseload_target_cases_per_fte.social_worker=16; costs.budget_gbp=25000000.0",
    ]
    targets = [v.scenario.workforce.caseload_target_cases_per_fte for v in variants]
    assert [t["social_worker"] for t in targets] == [14, 16]
    assert all(t["family_practitioner"] == 18.0 for t in targets)
    assert all(v.scenario.costs.budget_gbp == 25e6 for v in variants)
    assert all(v.scenario.teams.max_population == 12000 for v in variants)  # from the file
    assert "[workforce.caseload" in variants[0].scenario.name


def test_variants_of_a_list_item_and_a_grid():
    variants = sweep_variants(
        HAMPSHIRE,
        [
            parse_set("teams.groupings.3.max_teams=4,5"),
            parse_set("teams.max_population=48000,50000"),
        ],
    )
    assert len(variants) == 4
    groups = [v.scenario.teams.groupings[3] for v in variants]
    assert [g.max_teams for g in groups] == [4, 4, 5, 5]
    assert {g.name for g in groups} == {"Fareham and Gosport"}


def test_bad_values_are_reported_together_naming_key_and_value():
    with pytest.raises(ConfigError) as info:
        sweep_variants(STAFFS, [parse_set("teams.max_population=5000,abc,20000")])
    text = str(info.value)
    assert "2 problem(s)" in text
    assert (
        "--set teams.max_population=5000: teams: Value error, min_population (6,000) must be "
        "below max_population (5,000)" in text
    )
    assert (
        "--set teams.max_population=abc: teams.max_population: Value error, must be a "
        "number such as 45000 or 0.5, not the text 'abc'" in text
    )
    with pytest.raises(ConfigError, match=r"social_workr.*Input should be 'family_practitioner'"):
        sweep_variants(
            STAFFS, [parse_set("workforce.caseload_target_cases_per_fte.social_workr=14")]
        )
    with pytest.raises(ConfigError, match=r"names costs\.budget_gbp more than once"):
        sweep_variants(
            STAFFS, [parse_set("costs.budget_gbp=1e6"), parse_set("costs.budget_gbp=2e6")]
        )
    with pytest.raises(ConfigError, match=r"there is no item 0 \(the list has 0\)"):
        sweep_variants(STAFFS, [parse_set("hubs.localities.0.name=x")])


def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        main(["sweep", str(STAFFS), "--set", "teams.max_populaton=45000", "--out", str(out)]) == 2
    )
    assert "did you mean 'max_population'" in capsys.readouterr().err
    assert main(["compare", str(STAFFS), "--out", str(out)]) == 2
    assert "at least two scenario files" in capsys.readouterr().err
    broken = tmp_path / "broken.yaml"
    broken.write_text(f"extends: {STAFFS}\nteams: {{max_populaton: 1}}\n")
    missing = tmp_path / "missing.yaml"
    assert main(["compare", str(STAFFS), str(broken), str(missing), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "2 problem(s)" in err and "did you mean 'max_population'" in err
    assert "scenario file not found" in err
    assert not out.exists() and list(tmp_path.iterdir()) == [broken]


# --------------------------------------------------------------------------- changes of team


def _plan(teams: str, areas: pd.DataFrame):
    assignment = pd.Series(list(teams), index=areas.area_code)
    return SimpleNamespace(
        area_data=SimpleNamespace(areas=areas), teams=SimpleNamespace(assignment=assignment)
    )


@pytest.fixture
def strip():
    """Six areas in a row, 100 residents each except a4 (300)::

    a1 a2 a3 a4 a5 a6
    """
    return pd.DataFrame(
        {
            "area_code": [f"a{i}" for i in range(1, 7)],
            "area_name": list("ABCDEF"),
            "district_name": "D",
            "residents": [100, 100, 100, 300, 100, 100],
            "children_0_17": [20, 20, 20, 60, 20, 20],
        }
    )


def test_renumbering_alone_is_not_a_change(strip):
    first = _plan("XXXYYY", strip)
    other = _plan("QQQPPP", strip)  # same patches, other names
    changes = team_changes(first, other)
    assert not changes.changed.any()
    assert match_teams(
        first.teams.assignment, other.teams.assignment, strip.set_index("area_code").residents
    ) == {"Q": "X", "P": "Y"}


def test_moved_areas_are_counted_after_matching(strip):
    first = _plan("XXXYYY", strip)
    other = _plan("PPQQQQ", strip)  # a3 moves from the X patch to the Y patch
    changes = team_changes(first, other).set_index("area_code")
    assert changes.changed.tolist() == [False, False, True, False, False, False]
    assert changes.loc["a3", "matched_first_team"] == "Y"
    three = _plan("XXYYZZ", strip)  # a third team: its areas change, the matched ones do not
    changes = team_changes(first, three).set_index("area_code")
    assert changes.loc[changes.changed].index.tolist() == ["a3", "a5", "a6"]


# --------------------------------------------------------------------------- real runs


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """Staffordshire as shipped against a narrower band (at most 9,000 children 0-19, which the
    shipped plan breaks, so some areas must change team)."""
    folder = tmp_path_factory.mktemp("compare")
    variant = folder / "staffs_narrow.yaml"
    variant.write_text(
        f"extends: {STAFFS}\nname: Staffordshire, narrower band\nteams: {{max_population: 9000}}\n"
    )
    steps: list[str] = []
    comparison = compare_scenarios([STAFFS, variant], progress=steps.append)
    written = write_compare(comparison, folder / "out", progress=steps.append)
    return comparison, folder / "out", written, steps


@pytest.mark.slow
def test_compare_writes_side_by_side_tables_maps_and_run_folders(compared):
    comparison, out, written, steps = compared
    assert comparison.labels == ["staffordshire", "staffs_narrow"]
    assert sorted(p.name for p in written) == [
        "changed_areas_staffs_narrow.png",
        "compare.csv",
        "compare.xlsx",
        "staffordshire",
        "staffs_narrow",
    ]
    assert len(steps) == 2 * (len(STAGES) + 1)
    table = pd.read_csv(out / "compare.csv").set_index("metric")
    assert list(table.columns) == ["section", "staffordshire", "staffs_narrow"]
    for metric in [
        "teams",
        "residents_per_team_min",
        "residents_per_team_mean",
        "residents_per_team_max",
        "children_0_17_per_team_max",
        "objective_person_km",
        "gap",
        "hub_mean_distance_km",
        "hub_p90_distance_km",
        "fte_social_worker",
        "fte_team_manager",
        "total_fte",
        "total_cost_gbp",
        "headroom_gbp",
        "areas_changing_team_vs_first",
        "residents_changing_team_vs_first",
    ]:
        assert metric in table.index, metric
    first, narrow = (comparison.results[k] for k in comparison.labels)
    assert int(table.at["teams", "staffordshire"]) == len(first.teams.teams)
    assert float(table.at["children_0_19_per_team_max", "staffs_narrow"]) <= 9000
    assert float(table.at["total_cost_gbp", "staffordshire"]) == whole(first.costs.total_gbp)
    assert int(table.at["areas_changing_team_vs_first", "staffordshire"]) == 0
    moved = comparison.changes["staffs_narrow"]
    assert int(table.at["areas_changing_team_vs_first", "staffs_narrow"]) == moved.changed.sum()
    assert 0 < moved.changed.sum() < len(moved)

    book = openpyxl.load_workbook(out / "compare.xlsx")
    assert book.sheetnames == ["compare", "teams", "changed_areas"]
    assert book["compare"].freeze_panes == "A2"
    assert book["changed_areas"].max_row == moved.changed.sum() + 1
    assert book["teams"].max_row == len(first.teams.teams) + len(narrow.teams.teams) + 1
    for label in comparison.labels:
        run = out / label
        for name in (
            "areas.csv",
            "teams.csv",
            "staffing.csv",
            "manifest.json",
            "report.html",
            "map.html",
            "teams.png",
        ):
            assert (run / name).is_file(), (label, name)
        assert json.loads((run / "manifest.json").read_text())["teams"] == len(
            comparison.results[label].teams.teams
        )
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".out-")]  # staging gone


@pytest.mark.slow
def test_sweep_reruns_only_what_changes(tmp_path, capsys):
    """A workforce and cost sweep allocates teams and places hubs once; the CLI writes the table
    and chart and shows progress on stderr."""
    out = tmp_path / "sweep"
    code = main(
        [
            "sweep",
            str(STAFFS),
            "--set",
            "workforce.caseload_target_cases_per_fte.social_worker=14,16",
            "--set",
            "costs.budget_gbp=26e6",
            "--out",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    listed = sorted(p.name for p in out.iterdir() if p.name != ".planning-output")
    assert listed == ["sweep.csv", "sweep.png", "sweep.xlsx"]
    table = pd.read_csv(out / "sweep.csv")
    assert len(table) == 2
    assert table["stages_reused"].fillna("").tolist() == ["", "areas, geography, teams, hubs"]
    assert table["workforce.caseload_target_cases_per_fte.social_worker"].tolist() == [14, 16]
    assert (table["costs.budget_gbp"] == 26e6).all()
    assert table["teams"].nunique() == 1 and table["objective_person_km"].nunique() == 1
    assert table.at[0, "fte_social_worker"] > table.at[1, "fte_social_worker"]
    assert table.at[0, "total_cost_gbp"] > table.at[1, "total_cost_gbp"]
    assert set(table["budget_position"]) <= {"within budget", "over budget"}
    assert "12/12" in captured.err  # the progress bar reached its end
