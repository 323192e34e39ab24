"""One scenario per council from an England template.

The template is a scenario file without ``councils``: its band, population basis, hubs,
workforce, cost, front-door and solver settings apply to every council. Each council's councils,
geography (island links) and nesting come from ``planning init`` (``starter_scenario``), so a
two-tier county is nested by district (districts that cannot meet the band alone grouped with a
neighbour), a unitary council is planned whole, and a council below the band is one team.
``teams.nesting: none`` in the template plans every council whole.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from planning.config import Scenario, describe_validation_error, load_raw
from planning.errors import ConfigError
from planning.starter import starter_scenario

#: Keys a template may not set: they belong to one council, not to England.
COUNCIL_KEYS = ("councils", "data_dir")
#: Team settings that name districts or one council's plan.
COUNCIL_TEAM_KEYS = ("groupings", "district_limits", "total_teams", "current_plan_csv")
TEMPLATE_NESTING = ("district", "none")


def load_template(path: Path | str, example_council: str) -> dict[str, Any]:
    """The template's merged mapping, checked as a scenario for ``example_council``."""
    path = Path(path)
    raw = load_raw(path)
    problems = [
        f"{key}: set per council by `planning england`; remove it"
        for key in COUNCIL_KEYS
        if key in raw
    ]
    teams = raw.get("teams") or {}
    problems += [
        f"teams.{key}: names one council's districts or plan; remove it from the template"
        for key in COUNCIL_TEAM_KEYS
        if key in teams
    ]
    if teams.get("nesting", "district") not in TEMPLATE_NESTING:
        problems.append(
            f"teams.nesting: {teams.get('nesting')!r} in an England template; use 'district' "
            "(two-tier counties by district, unitary councils whole) or 'none' "
            "(every council whole)"
        )
    hubs = raw.get("hubs") or {}
    for key in ("localities", "sites_csv", "travel_time_csv"):
        if hubs.get(key):
            problems.append(f"hubs.{key}: one council's; remove it (each district is a locality)")
    if (raw.get("costs") or {}).get("budget_gbp") is not None:
        problems.append("costs.budget_gbp: a budget is one council's; remove it from the template")
    if problems:
        raise ConfigError(f"{path}: not an England template:", problems)
    try:
        Scenario.model_validate({**raw, "councils": [example_council]})
    except ValidationError as exc:
        raise describe_validation_error(exc, str(path)) from None
    return raw


def template_sha256(template: dict[str, Any]) -> str:
    """A hash of the template's merged settings (its files' layout and comments aside)."""
    text = json.dumps(template, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def council_scenario(
    template: dict[str, Any], code: str, name: str, data_dir: Path | str | None
) -> dict[str, Any]:
    """The scenario mapping for one council: the template with the council's starter filled in."""
    teams = template.get("teams") or {}
    defaults = Scenario.model_fields["teams"].default
    band = (
        float(teams.get("min_population", defaults.min_population)),
        float(teams.get("max_population", defaults.max_population)),
    )
    basis = teams.get("population_basis", defaults.population_basis)
    made = starter_scenario([code], data_dir, band, basis)
    starter = yaml.safe_load(made.text)
    scenario = copy.deepcopy(template)
    scenario["name"] = f"{name}: {template.get('name', 'England template')}"
    scenario["description"] = starter["description"].strip()
    scenario["councils"] = [code]
    scenario["geography"] = {**(template.get("geography") or {}), **starter["geography"]}
    nested = {
        key: starter["teams"][key] for key in ("nesting", "groupings") if key in starter["teams"]
    }
    if teams.get("nesting", "district") == "none":
        nested = {"nesting": "none"}
    scenario["teams"] = {**teams, **nested, "undersized": starter["teams"]["undersized"]}
    # one task per core: a council's sub-problems run one after another in its worker
    scenario["solver"] = {**(template.get("solver") or {}), "processes": 1}
    hubs = scenario.get("hubs")
    if hubs and hubs.get("community_hubs_per_locality"):
        # a district (each is a locality) cannot open more hubs than it has areas (sites)
        room = max(0, made.fewest_district_areas - int(hubs.get("main_hubs_per_locality", 1)))
        hubs["community_hubs_per_locality"] = min(hubs["community_hubs_per_locality"], room)
    return scenario


def scenario_yaml(scenario: dict[str, Any], template_path: Path, code: str) -> str:
    """The council's scenario as the YAML file written beside its run folder."""
    head = (
        f"# {code}: written by `planning england` from {template_path.name}; the band, hubs,\n"
        "# workforce and cost settings are the template's, councils, geography and nesting\n"
        "# are `planning init`'s for this council.\n"
    )
    return head + yaml.safe_dump(scenario, sort_keys=False, allow_unicode=True)
