"""run_scenario: the stages in order, logging counts after each. Computes; never writes.

Each stage can be cached by the settings it reads (pass the same ``cache`` dict to later runs):
a sweep that varies only workforce or cost settings allocates teams and places hubs once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from planning.allocate import TeamPlan, allocate_teams, feasible_blocks
from planning.checks import read_csv
from planning.config import WORKLOAD_BASES, Scenario, load_scenario
from planning.costing import Costs, cost_plan
from planning.data import (
    AreaData,
    load_areas,
    read_arrivals_profile,
    read_current_plan,
    read_locks,
    read_referrals,
    resolve_districts,
)
from planning.errors import PlanningError
from planning.front_door import FrontDoorPlan, contacts_demand, open_hours, size_front_door
from planning.geography import Geography, build_geography
from planning.hubs import HubPlan, check_hub_inputs, place_hubs
from planning.rounding import whole
from planning.workforce import Posts, Rates, area_workload, published_rates, size_workforce

log = logging.getLogger(__name__)

#: Stages of a run, in order; ``progress`` is called once per stage with "label: stage".
STAGES = ("areas", "geography", "teams", "hubs", "workforce", "costs")


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
    front_door: FrontDoorPlan | None = None
    edit: dict[str, Any] | None = None  # a plan edited by hand: locks, moves, band override


def data_dir_for(scenario: Scenario, scenario_path: Path, data_dir: Path | str | None):
    """--data-dir, else the scenario's data_dir (relative to its file), else None (the default)."""
    if data_dir is not None:
        return data_dir
    if scenario.data_dir is not None:
        return scenario_path.parent / scenario.data_dir
    return None


def current_plan(scenario: Scenario, scenario_path: Path, areas) -> Any:
    """The scenario's current plan (team label per area), read relative to its file, or None."""
    if scenario.teams.current_plan_csv is None:
        return None
    return read_current_plan(scenario_path.parent / scenario.teams.current_plan_csv, areas)


def fixed_areas(scenario: Scenario, scenario_path: Path, areas) -> Any:
    """The scenario's locks (a label per area code), read relative to its file, or None."""
    if scenario.teams.fixed_areas_csv is None:
        return None
    return read_locks(scenario_path.parent / scenario.teams.fixed_areas_csv, areas)


def front_door_plan(
    scenario: Scenario, scenario_path: Path, area_data: AreaData, rates: Rates
) -> FrontDoorPlan | None:
    """The scenario's front-door staffing (None without a ``front_door:`` section).

    Contacts are the scenario's, or the councils' published referrals (DfE C1) times contacts
    per referral; a council the scenario covers only part of contributes its referrals in
    proportion to the children (0-17) in the scenario's areas against its published children.
    """
    settings = scenario.front_door
    if settings is None:
        return None
    referrals = None
    year = None
    if settings.weekly_contacts is None:
        areas = area_data.areas
        codes = sorted(areas["council_code"].unique())
        read = read_referrals(area_data.data_dir, codes, settings.referrals_year)
        referrals, year = read.table.copy(), read.year
        shares = []
        for code in codes:
            districts = set(resolve_districts([code], area_data.data_dir)["district_code"])
            mine = areas[areas["council_code"] == code]
            if districts <= set(mine["district_code"]):
                shares.append(1.0)
            else:
                published = float(rates.table.at[code, "children_0_17_published"])
                shares.append(min(1.0, float(mine["children_0_17"].sum()) / published))
        referrals["share"] = shares
    profile = None
    source = None
    if settings.arrivals_csv is not None:
        csv = scenario_path.parent / settings.arrivals_csv
        profile = read_arrivals_profile(csv, open_hours(settings))
        source = f"arrivals_csv {settings.arrivals_csv}"
    demand = contacts_demand(settings, referrals, year)
    return size_front_door(
        settings, demand, profile, fte_step=scenario.workforce.fte_step, profile_source=source
    )


#: The files a scenario may name, by section and setting, with the columns each must have.
INPUT_FILES = {
    ("teams", "current_plan_csv"): ["area_code", "team_id"],
    ("teams", "fixed_areas_csv"): ["area_code", "team"],
    ("hubs", "sites_csv"): ["site_name"],
    ("hubs", "travel_time_csv"): ["area_code"],
    ("front_door", "arrivals_csv"): ["hour", "share"],
}


def input_file_problems(scenario: Scenario, scenario_path: Path | str) -> list[str]:
    """What is wrong with the files the scenario names (missing, unreadable, a column missing),
    read relative to its file; ``compare`` and ``sweep`` check these for every scenario or
    variant before running any. The rows are checked when the run reads them."""
    problems = []
    for (section, setting), columns in INPUT_FILES.items():
        part = getattr(scenario, section)
        name = getattr(part, setting, None) if part is not None else None
        if name is None:
            continue
        try:
            read_csv(Path(scenario_path).parent / name, f"{section}.{setting}", columns)
        except PlanningError as exc:
            problems.append(str(exc))
    return problems


def validate_scenario(path: Path | str, data_dir: Path | str | None = None) -> dict:
    """Schema and data checks without solving: areas join, geography links, band (and workload
    band) feasibility, and every file the run reads (current plan, locks, sites, travel times,
    arrivals, published rates)."""
    path = Path(path)
    scenario = load_scenario(path)
    area_data = load_areas(scenario.councils, data_dir_for(scenario, path, data_dir))
    geo = build_geography(area_data.areas, scenario.geography)
    table = allocation_table(scenario, area_data)  # with the workload a workload band reads
    blocks = feasible_blocks(table, scenario.teams)
    current_plan(scenario, path, area_data.areas)
    fixed_areas(scenario, path, area_data.areas)
    sites = None
    if scenario.hubs is not None:
        sites = check_hub_inputs(area_data.areas, scenario.hubs, path.parent)
    rates = published_rates(
        sorted(area_data.areas.council_code.unique()),
        area_data.data_dir,
        scenario.workforce.rates_year,
    )
    door = front_door_plan(scenario, path, area_data, rates)
    return {
        "scenario": scenario.name,
        "areas": len(area_data.areas),
        "districts": int(area_data.areas.district_code.nunique()),
        "links": len(geo.links),
        "groups": {b.name: list(b.counts) for b in blocks},
        **({} if sites is None else {"candidate_sites": sites}),
        **(
            {}
            if door is None
            else {
                "front_door_weekly_contacts": round(door.demand.weekly_contacts, 1),
                "front_door_fte": {r.role: r.fte for r in door.posts.itertuples()},
            }
        ),
    }


def _key(*parts: Any) -> str:
    return json.dumps(parts, sort_keys=True, default=str)


def run_stages(
    scenario: Scenario,
    scenario_path: Path | str,
    data_dir: Path | str | None = None,
    cache: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    label: str = "",
) -> tuple[Result, list[str]]:
    """Run a validated scenario's stages, reusing any stage whose inputs are in ``cache``.

    Returns the Result and the names of the stages reused. Each stage's key is the settings it
    reads plus its upstream stages' keys; relative paths are read from ``scenario_path``'s folder.
    """
    path = Path(scenario_path)
    cache = {} if cache is None else cache
    dump = scenario.model_dump(mode="json")
    data_arg = data_dir_for(scenario, path, data_dir)
    reused: list[str] = []
    k_areas = _key("areas", str(data_arg), dump["councils"])
    k_geo = _key("geography", k_areas, dump["geography"])
    k_load = _key("workload", k_areas, dump["workforce"]) if scenario.teams.uses_workload else ""
    k_teams = _key(
        "teams", k_geo, k_load, dump["teams"], dump["solver"], str(path.resolve().parent)
    )
    k_hubs = _key("hubs", k_teams, dump["hubs"], dump["solver"])
    k_work = _key(
        "workforce", k_teams, dump["workforce"], dump["front_door"], str(path.resolve().parent)
    )
    k_costs = _key("costs", k_work, dump["costs"], dump["solver"])

    def stage(name: str, key: str, compute: Callable[[], Any]) -> Any:
        if key in cache:
            reused.append(name)
            value = cache[key]
        else:
            value = cache[key] = compute()
        if progress is not None:
            progress(f"{label}: {name}" if label else name)
        return value

    area_data = stage("areas", k_areas, lambda: load_areas(scenario.councils, data_arg))
    areas = area_data.areas
    geo = stage("geography", k_geo, lambda: build_geography(areas, scenario.geography))

    if k_load:  # the areas with their workload, for a workload band or basis
        if k_load not in cache:
            cache[k_load] = allocation_table(scenario, area_data)
        areas = cache[k_load]
        area_data = replace(area_data, areas=areas)

    def teams_stage() -> TeamPlan:
        return allocation_stage(scenario, path, areas, geo)

    teams = stage("teams", k_teams, teams_stage)

    hubs = stage("hubs", k_hubs, lambda: hubs_stage(scenario, path, areas, geo, teams))
    rates, posts, door = stage(
        "workforce", k_work, lambda: workforce_stage(scenario, path, area_data, teams)
    )
    costs = stage("costs", k_costs, lambda: cost_plan(posts, scenario.costs, scenario.solver, door))
    log.info(
        "%s: %d teams, %.1f FTE, £%s a year; reused %s",
        label or scenario.name,
        len(teams.teams),
        posts.total_fte,
        f"{whole(costs.total_gbp):,}",
        ", ".join(reused) or "nothing",
    )
    return Result(scenario, path, area_data, geo, teams, hubs, rates, posts, costs, door), reused


def allocation_table(scenario: Scenario, area_data: AreaData) -> pd.DataFrame:
    """The areas table the allocation reads: with each area's workload when the scenario's
    band basis or workload band needs it."""
    areas = area_data.areas
    if not scenario.teams.uses_workload or set(WORKLOAD_BASES) <= set(areas.columns):
        return areas
    rates = published_rates(
        sorted(areas.council_code.unique()), area_data.data_dir, scenario.workforce.rates_year
    )
    return area_workload(areas, rates, scenario.workforce)


def allocation_stage(
    scenario: Scenario, path: Path, table: pd.DataFrame, geo: Geography
) -> TeamPlan:
    """The teams stage: the scenario's current plan and locks read relative to its file, then
    ``allocate_teams`` over ``table`` (see ``allocation_table``)."""
    current = current_plan(scenario, path, table)
    locks = fixed_areas(scenario, path, table)
    plan = allocate_teams(table, geo, scenario.teams, scenario.solver, current, locks=locks)
    log.info("teams: %d teams, gap %.3f%%", len(plan.teams), 100 * plan.gap)
    return plan


def hubs_stage(
    scenario: Scenario, path: Path, areas: Any, geo: Geography, teams: TeamPlan
) -> HubPlan | None:
    """The hubs stage for a team plan (None when the scenario places no hubs)."""
    if scenario.hubs is None:
        return None
    plan = place_hubs(
        areas,
        geo,
        teams.assignment,
        scenario.hubs,
        scenario.solver,
        default_basis=scenario.teams.population_basis,
        base_dir=path.parent,
    )
    log.info("hubs: %d hubs in %d localities", len(plan.hubs), plan.hubs.locality.nunique())
    return plan


def workforce_stage(
    scenario: Scenario, path: Path, area_data: AreaData, teams: TeamPlan
) -> tuple[Rates, Posts, FrontDoorPlan | None]:
    """The workforce stage for a team plan: published rates, posts per team, the front door."""
    areas = area_data.areas
    rates = published_rates(
        sorted(areas.council_code.unique()), area_data.data_dir, scenario.workforce.rates_year
    )
    posts = size_workforce(areas, teams.assignment, rates, scenario.workforce)
    return rates, posts, front_door_plan(scenario, path, area_data, rates)


def result_for_plan(
    scenario: Scenario,
    scenario_path: Path | str,
    area_data: AreaData,
    geo: Geography,
    teams: TeamPlan,
    edit: dict[str, Any] | None = None,
) -> Result:
    """The stages after allocation (hubs, workforce with the front door, costs) for a team plan
    given from outside, e.g. one edited by hand (``planning edit``); ``edit`` is recorded in the
    manifest. Computes; never writes."""
    path = Path(scenario_path)
    hubs = hubs_stage(scenario, path, area_data.areas, geo, teams)
    rates, posts, door = workforce_stage(scenario, path, area_data, teams)
    costs = cost_plan(posts, scenario.costs, scenario.solver, door)
    return Result(scenario, path, area_data, geo, teams, hubs, rates, posts, costs, door, edit)


def run_scenario(path: Path | str, data_dir: Path | str | None = None) -> Result:
    """Read a scenario and run every stage: areas, geography, teams, hubs, workforce (with the
    front door), costs."""
    path = Path(path)
    return run_stages(load_scenario(path), path, data_dir)[0]
