"""run_scenario: the stages in order, logging counts after each. Computes; never writes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from planning.allocate import TeamPlan, allocate_teams, feasible_blocks
from planning.config import Scenario, load_scenario
from planning.costing import Costs, cost_plan
from planning.data import AreaData, load_areas
from planning.geography import Geography, build_geography
from planning.hubs import HubPlan, place_hubs, resolve_localities
from planning.workforce import Posts, Rates, published_rates, size_workforce

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Result:
    """Everything one scenario run produced, ready for the report to write."""

    scenario: Scenario
    scenario_path: Path
    area_data: AreaData
    geo: Geography
    teams: TeamPlan
    hubs: HubPlan | None
    rates: Rates
    posts: Posts
    costs: Costs


def _data_dir(scenario: Scenario, scenario_path: Path, data_dir: Path | str | None):
    if data_dir is not None:
        return data_dir
    if scenario.data_dir is not None:
        return scenario_path.parent / scenario.data_dir
    return None


def validate_scenario(path: Path | str, data_dir: Path | str | None = None) -> dict:
    """Schema and data checks without solving: areas join, geography links, band feasibility."""
    path = Path(path)
    scenario = load_scenario(path)
    area_data = load_areas(scenario.councils, _data_dir(scenario, path, data_dir))
    geo = build_geography(area_data.areas, scenario.geography)
    blocks = feasible_blocks(area_data.areas, scenario.teams)
    if scenario.hubs is not None:
        resolve_localities(area_data.areas, scenario.hubs)
    published_rates(sorted(area_data.areas.council_code.unique()), area_data.data_dir,
                    scenario.workforce.rates_year)
    return {
        "scenario": scenario.name,
        "areas": len(area_data.areas),
        "districts": int(area_data.areas.district_code.nunique()),
        "links": len(geo.links),
        "groups": {b.name: list(b.counts) for b in blocks},
    }


def run_scenario(path: Path | str, data_dir: Path | str | None = None) -> Result:
    """Read a scenario and run every stage: areas, geography, teams, hubs, workforce, costs."""
    path = Path(path)
    scenario = load_scenario(path)
    area_data = load_areas(scenario.councils, _data_dir(scenario, path, data_dir))
    areas = area_data.areas
    geo = build_geography(areas, scenario.geography)
    teams = allocate_teams(areas, geo, scenario.teams, scenario.solver)
    log.info("teams: %d teams, gap %.3f%%", len(teams.teams), 100 * teams.gap)
    hubs = None
    if scenario.hubs is not None:
        hubs = place_hubs(areas, geo, teams.assignment, scenario.hubs, scenario.solver,
                          default_basis=scenario.teams.population_basis, base_dir=path.parent)
        log.info("hubs: %d hubs in %d localities", len(hubs.hubs), hubs.hubs.locality.nunique())
    rates = published_rates(sorted(areas.council_code.unique()), area_data.data_dir,
                            scenario.workforce.rates_year)
    posts = size_workforce(areas, teams.assignment, rates, scenario.workforce)
    costs = cost_plan(posts, scenario.costs, scenario.solver)
    log.info("workforce: %.1f FTE", posts.total_fte)
    return Result(scenario, path, area_data, geo, teams, hubs, rates, posts, costs)
