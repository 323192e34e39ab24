"""Any English council, first time: `planning init` then `planning run`, on the real data.

A handful of diverse councils that finish in seconds: a small unitary (Rutland, one team), a
unitary of a few teams (Hartlepool), a London borough (Kingston upon Thames), and the two councils
below the band on their own (the City of London and the Isles of Scilly, one flagged team each).
Every plan is re-checked on the real adjacency, and the overall bound is re-derived from the
manifest's per-pair table.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from planning.allocate import check_plan, choose_counts
from planning.cli import main
from planning.config import load_scenario
from planning.data import load_areas
from planning.geography import build_geography
from planning.starter import starter_scenario

COUNCILS = {
    "E06000017": "Rutland",
    "E06000001": "Hartlepool",
    "E09000021": "Kingston upon Thames",
    "E09000001": "City of London",
    "E06000053": "Isles of Scilly",
}
UNDERSIZED = {"E09000001", "E06000053"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("councils")
    out = {}
    for code in COUNCILS:
        scenario = root / f"{code}.yaml"
        assert main(["init", code, "--out", str(scenario), "--data-dir", str(data_dir)]) == 0
        folder = root / code
        args = ["run", str(scenario), "--out", str(folder), "--data-dir", str(data_dir)]
        assert main(args) == 0, code
        out[code] = (scenario, folder)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("code", sorted(COUNCILS))
def test_starter_scenario_runs_unchanged_and_its_plan_checks(runs, code, data_dir):
    scenario_path, folder = runs[code]
    scenario = load_scenario(scenario_path)
    assert scenario.councils == [code]
    assert scenario.teams.undersized == ("one_team" if code in UNDERSIZED else "fail")
    manifest = json.loads((folder / "manifest.json").read_text())
    teams = pd.read_csv(folder / "teams.csv")
    areas = pd.read_csv(folder / "areas.csv")
    area_data = load_areas(scenario.councils, data_dir)
    geo = build_geography(area_data.areas, scenario.geography)
    assignment = areas.set_index("area_code").team_id.reindex(area_data.areas.area_code)
    below = sorted(teams.team_id[teams.below_band])
    assert below == manifest["below_band_teams"]
    check_plan(assignment, area_data.areas, geo, scenario.teams, below)
    if code in UNDERSIZED:
        assert len(teams) == 1 and below == ["T01"]
    else:
        assert not below and teams.residents.between(30_000, 50_000).all()

    # the bound is the cheapest choice of counts over the pairs' bounds, from the manifest alone
    groups: dict[str, dict[int, float]] = {}
    for pair in manifest["allocation_pairs"]:
        bound = float("inf") if pair["bound"] is None else pair["bound"]
        groups.setdefault(pair["group"], {})[pair["teams"]] = bound
    rederived = choose_counts(list(groups.values()), None)
    assert rederived is not None
    assert rederived[0] == pytest.approx(manifest["bound"], rel=1e-9, abs=1e-9)
    assert manifest["bound"] <= manifest["objective"] + 1e-6
    assert manifest["bound"] > 0 or manifest["objective"] == 0
    chosen = [p for p in manifest["allocation_pairs"] if p["chosen"]]
    assert sum(p["teams"] for p in chosen) == len(teams)
    assert manifest["status"] in ("optimal", "time_limit")
    if manifest["status"] == "optimal":
        assert manifest["gap"] <= scenario.solver.relative_gap + 1e-12
    assert_holders_rederive(manifest, rederived[1], list(groups))


def assert_holders_rederive(manifest: dict, bound_counts: list[int], groups: list[str]) -> None:
    """The bound at the plan's own counts and the pairs holding the rest, from the manifest."""
    chosen = {p["group"]: p for p in manifest["allocation_pairs"] if p["chosen"]}
    own = min(manifest["objective"], sum(p["bound"] for p in chosen.values()))
    assert manifest["allocation_bound_at_plan_counts"] == pytest.approx(own, rel=1e-12)
    assert manifest["bound"] <= own + 1e-6
    assert manifest["allocation_gap_at_plan_counts"] <= manifest["gap"] + 1e-12
    held = [(g, c) for g, c in zip(groups, bound_counts, strict=True) if chosen[g]["teams"] != c]
    holders = manifest["allocation_bound_holders"]
    assert [(h["group"], h["teams"]) for h in holders] == held
    for h in holders:
        assert h["plan_teams"] == chosen[h["group"]]["teams"]


@pytest.mark.slow
def test_a_gap_held_by_another_count_is_named(tmp_path, data_dir):
    """Knowsley (100 areas, 154,516 residents) in 15 s: its 4-team plan is proven within 1% of
    every 4-team plan, but at 5 teams (each within 516 residents of the band's floor, on
    average) no plan near the LP bound is found or ruled out, so that count holds the overall
    bound. The manifest, the run's line and the report say so."""
    scenario = tmp_path / "knowsley.yaml"
    assert main(["init", "E08000011", "--out", str(scenario), "--data-dir", str(data_dir)]) == 0
    text = scenario.read_text().replace("time_limit_seconds: 60", "time_limit_seconds: 15")
    scenario.write_text(text)
    folder = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(folder), "--data-dir", str(data_dir)]) == 0
    manifest = json.loads((folder / "manifest.json").read_text())
    groups: dict[str, dict[int, float]] = {}
    for pair in manifest["allocation_pairs"]:
        bound = float("inf") if pair["bound"] is None else pair["bound"]
        groups.setdefault(pair["group"], {})[pair["teams"]] = bound
    rederived = choose_counts(list(groups.values()), None)
    assert rederived is not None and rederived[0] == pytest.approx(manifest["bound"], rel=1e-9)
    assert_holders_rederive(manifest, rederived[1], list(groups))
    (holder,) = manifest["allocation_bound_holders"]
    assert (holder["group"], holder["teams"], holder["plan_teams"]) == ("Knowsley", 5, 4)
    assert manifest["allocation_gap_at_plan_counts"] <= 0.01 < manifest["gap"]
    report = (folder / "report.html").read_text()
    assert "With this plan&#x27;s own team counts" in report or "With this plan's own" in report
    assert "Knowsley at 5 teams (this plan has 4)" in report


@pytest.mark.slow
def test_a_count_outside_the_plan_is_ruled_out_below_its_cutoff(tmp_path, data_dir):
    """Suffolk (449 areas in 5 districts) with the defaults: a district's count that the plan
    does not use but whose bound held the gap is ruled out below its cutoff (no plan there
    costs less), which proves the plan within 1% well inside the 60 s. The manifest shows the
    pair, its bound at least the cutoff, and the overall bound re-derives from every pair."""
    scenario = tmp_path / "suffolk.yaml"
    assert main(["init", "E10000029", "--out", str(scenario), "--data-dir", str(data_dir)]) == 0
    folder = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(folder), "--data-dir", str(data_dir)]) == 0
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "optimal" and manifest["gap"] <= 0.01
    pairs = manifest["allocation_pairs"]
    ruled = [p for p in pairs if p["ruled_out_below"] is not None]
    # a count outside the plan; the plan's own pairs may be proven below their own cutoff too
    assert any(not p["chosen"] for p in ruled)
    assert all(p["bound"] >= p["ruled_out_below"] - 1e-6 for p in ruled)
    groups: dict[str, dict[int, float]] = {}
    for pair in pairs:
        bound = float("inf") if pair["bound"] is None else pair["bound"]
        groups.setdefault(pair["group"], {})[pair["teams"]] = bound
    rederived = choose_counts(list(groups.values()), None)
    assert rederived is not None and rederived[0] == pytest.approx(manifest["bound"], rel=1e-9)
    assert_holders_rederive(manifest, rederived[1], list(groups))
    assert any(h["ruled_out_below"] is not None for h in manifest["allocation_bound_holders"])


@pytest.mark.slow
def test_init_groups_districts_that_cannot_meet_the_band_alone(data_dir):
    """Leicestershire's Melton (51,742 residents) and Oadby and Wigston (57,749) fit no count of
    30,000-50,000 on their own: each is grouped with a touching district, the rest stand alone."""
    starter = starter_scenario(["E10000018"], data_dir)
    assert starter.nesting == "groupings"
    merged = [codes for _, codes in starter.groupings if len(codes) > 1]
    flat = {c for codes in merged for c in codes}
    assert "E07000133" in flat and "E07000135" in flat
    singles = [codes for _, codes in starter.groupings if len(codes) == 1]
    assert len(singles) + sum(len(c) for c in merged) == 7


def test_init_refuses_to_replace_a_file(tmp_path, data_dir, capsys):
    mine = tmp_path / "mine.yaml"
    mine.write_text("my notes\n")
    code = main(["init", "E06000017", "--out", str(mine), "--data-dir", str(data_dir)])
    assert code == 2
    assert "already exists" in capsys.readouterr().err
    assert mine.read_text() == "my notes\n"
