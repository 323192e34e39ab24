"""Scenario files: schema, typo suggestions, extends, and malformed YAML."""

from __future__ import annotations

from pathlib import Path

import pytest

from planning.config import load_scenario
from planning.errors import ConfigError

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


TEMPLATES = {"england.yaml"}  # `planning england` templates: scenarios without councils


@pytest.mark.parametrize(
    "name", sorted(p.name for p in SCENARIOS.glob("*.yaml") if p.name not in TEMPLATES)
)
def test_shipped_scenarios_validate(name):
    scenario = load_scenario(SCENARIOS / name)
    assert scenario.name and scenario.councils


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_shipped_templates_validate_for_a_council(name):
    from planning.england.template import load_template

    template = load_template(SCENARIOS / name, "E06000017")
    assert "councils" not in template and template["teams"]["nesting"] == "district"


def test_hampshire_scenario_has_nine_groupings_and_34_teams():
    s = load_scenario(SCENARIOS / "hampshire.yaml")
    assert len(s.teams.groupings) == 9
    assert sum(len(g.districts) for g in s.teams.groupings) == 11
    assert s.teams.total_teams == 34
    assert (s.teams.min_teams_per_group, s.teams.max_teams_per_group) == (3, 5)


def test_children_band_extends_hampshire_and_overrides():
    s = load_scenario(SCENARIOS / "hampshire_children_band.yaml")
    assert s.teams.population_basis == "children_0_17"
    assert s.teams.nesting == "none" and s.teams.total_teams is None
    assert s.councils == ["E10000014"]
    assert s.geography.links[0].name.startswith("Langstone")


def test_unknown_key_suggests_nearest(tmp_path):
    path = write(tmp_path, "s.yaml", "name: x\ncouncils: [E10000014]\nteams:\n  min_populaton: 1\n")
    with pytest.raises(ConfigError) as err:
        load_scenario(path)
    assert "teams.min_populaton: unknown setting; did you mean 'min_population'?" in str(err.value)
    assert err.value.exit_code == 2


def test_every_problem_reported_at_once(tmp_path):
    path = write(tmp_path, "s.yaml", "councils: [Hampshire]\nsolver: {relative_gap: 2}\n")
    with pytest.raises(ConfigError) as err:
        load_scenario(path)
    text = str(err.value)
    assert "name: required setting is missing" in text
    assert "councils.0" in text and "solver.relative_gap" in text


def test_band_must_be_ordered(tmp_path):
    path = write(
        tmp_path,
        "s.yaml",
        "name: x\ncouncils: [E10000014]\nteams: {min_population: 50000, max_population: 30000}\n",
    )
    with pytest.raises(ConfigError, match="must be below max_population"):
        load_scenario(path)


def test_malformed_yaml_names_line(tmp_path):
    path = write(tmp_path, "bad.yaml", "name: x\ncouncils: [E10000014\nteams: {}\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d+"):
        load_scenario(path)


def test_extends_loop_is_reported(tmp_path):
    write(tmp_path, "a.yaml", "extends: b.yaml\nname: a\n")
    write(tmp_path, "b.yaml", "extends: a.yaml\nname: b\n")
    with pytest.raises(ConfigError, match="loops"):
        load_scenario(tmp_path / "a.yaml")


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_scenario(tmp_path / "nope.yaml")
