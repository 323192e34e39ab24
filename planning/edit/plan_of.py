"""An edited assignment turned into a checked TeamPlan with its proof, and saved as a new run
folder with the same outputs as ``planning run``.

The edited plan's objective is the allocation's own (person-km to each team's best centre, plus
any change penalty); its bound is the optimised run's, so its gap says how far the edited plan
is from the best possible one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planning.allocate import TeamPlan, check_plan
from planning.config import WORKLOAD_BASES
from planning.errors import ConfigError, SolverError
from planning.pipeline import Result, allocation_table, result_for_plan
from planning.report import write_outputs
from planning.solve import relative_gap


def centre_costs(
    result: Result, assignment: pd.Series, current: pd.Series | None
) -> dict[str, tuple[int, float]]:
    """Each team's centre (the area index that makes it cheapest) and its cost in person-km on
    the band's basis, plus the scenario's change penalty against the current plan."""
    areas = allocation_table(result.scenario, result.area_data)
    settings = result.scenario.teams
    weights = areas[settings.population_basis].to_numpy(float)
    labels = None if current is None else current.reindex(areas.area_code).to_numpy()
    teams = assignment.reindex(areas.area_code).to_numpy()
    out = {}
    for team in sorted(set(teams)):
        members = np.flatnonzero(teams == team)
        cost = weights[members, None] * result.geo.distance_km(members, members)
        if labels is not None and settings.change_penalty_km_per_person > 0:
            moved = labels[members, None] != labels[None, members]
            cost = cost + settings.change_penalty_km_per_person * weights[members, None] * moved
        totals = cost.sum(axis=0)
        best = int(np.argmin(totals))
        out[str(team)] = (int(members[best]), float(totals[best]))
    return out


def teams_table(
    result: Result, assignment: pd.Series, centres: dict[str, tuple[int, float]]
) -> pd.DataFrame:
    """teams.csv's columns for an edited plan; each team's group is the one most of its areas
    had in the optimised plan (a team crossing groups is refused by the check, or flagged)."""
    areas = result.area_data.areas.set_index("area_code")
    base = result.teams
    group_of_team = base.teams.set_index("team_id")["group"]
    area_group = base.assignment.map(group_of_team)
    frame = areas.assign(team_id=assignment.reindex(areas.index), group=area_group)
    frame["imd_weighted"] = frame.imd_score * frame.residents
    rows = []
    for team, part in frame.groupby("team_id", sort=True):
        c = centres[str(team)][0]
        rows.append(
            {
                "team_id": str(team),
                "group": part["group"].mode().iloc[0],
                "n_areas": len(part),
                "residents": round(part.residents.sum()),
                "children_0_17": round(part.children_0_17.sum()),
                "imd_score_mean": round(part.imd_weighted.sum() / part.residents.sum(), 3),
                "centre_area_code": result.geo.codes[c],
                "centre_area_name": result.geo.names[c],
                "children_0_19": round(part.children_0_19.sum()),
                "children_0_24": round(part.children_0_24.sum()),
            }
        )
    teams = pd.DataFrame(rows)
    for col in WORKLOAD_BASES:  # with a workload band or basis, as the allocation writes them
        if col in frame:
            teams[col] = teams.team_id.map(frame.groupby("team_id")[col].sum()).round(2)
    return teams


def band_breaches(
    result: Result, table: pd.DataFrame, assignment: pd.Series, allowed_below: set[str]
) -> list[str]:
    """Teams outside the band or the workload band, in words (teams in ``allowed_below`` may
    be under the minimum)."""
    s = result.scenario.teams
    frame = table.set_index("area_code")
    team_of = assignment.reindex(frame.index)
    pops = frame[s.population_basis].groupby(team_of).sum()
    out = []
    for team, pop in pops.items():
        low = 0.0 if team in allowed_below else s.min_population
        if pop < low - 1e-6 or pop > s.max_population + 1e-6:
            out.append(
                f"{team}: {pop:,.0f} {s.population_basis} is outside the band "
                f"{s.min_population:,.0f}-{s.max_population:,.0f}"
            )
    band = s.workload
    if band is not None:
        work = frame[band.basis].groupby(team_of).sum()
        for team, value in work.items():
            low = 0.0 if team in allowed_below or band.min is None else band.min
            high = np.inf if band.max is None else band.max
            if not low - 1e-6 <= value <= high + 1e-6:
                out.append(f"{team}: {value:,.2f} {band.basis} is outside the workload band")
    return out


def edited_plan(
    result: Result,
    assignment: pd.Series,
    current: pd.Series | None,
    override_band: bool = False,
) -> tuple[TeamPlan, list[str]]:
    """The edited assignment as a TeamPlan checked by ``check_plan`` (band, contiguity,
    nesting), and the band breaches accepted by ``override_band``. A plan outside the band
    without the override, split or across its district or grouping is a ConfigError."""
    base = result.teams
    areas = allocation_table(result.scenario, result.area_data)
    assignment = assignment.reindex(areas.area_code).astype(str).rename("team_id")
    assignment.index.name = "area_code"
    below = [t for t in base.below_band_teams if t in set(assignment)]
    breaches = band_breaches(result, areas, assignment, set(below))
    if breaches and not override_band:
        raise ConfigError(
            "the edited plan breaks the band; save it only with the band override:", breaches
        )
    settings = result.scenario.teams
    if breaches:  # checked for contiguity and nesting, the band overridden
        settings = settings.model_copy(
            update={"min_population": 0.0, "max_population": 1e18, "workload": None}
        )
    try:
        check_plan(assignment, areas, result.geo, settings, below)
    except SolverError as exc:
        raise ConfigError("the edited plan fails the plan check:", exc.problems) from None
    centres = centre_costs(result, assignment, current)
    objective = sum(cost for _, cost in centres.values())
    teams = teams_table(result, assignment, centres)
    teams["below_band"] = teams.team_id.isin(below)
    gap = relative_gap(objective, base.bound) or 0.0
    status = "edited, band override" if breaches else "edited"
    plan = TeamPlan(
        assignment=assignment,
        teams=teams,
        status=status,
        objective=objective,
        bound=base.bound,
        gap=gap,
        seconds=0.0,
        population_basis=base.population_basis,
        blocks=base.blocks,
        pairs=base.pairs,
        below_band_teams=below,
        tuning=base.tuning,
        building_block=base.building_block,
    )
    return plan, breaches


def save_edited(
    result: Result,
    plan: TeamPlan,
    edit: dict[str, Any],
    out_dir: Path,
) -> tuple[Result, list[Path]]:
    """Write the edited plan as a new run folder, all or nothing, with ``current_plan.csv``
    (area_code, team_id) for a later scenario's ``teams.current_plan_csv``. Refuses a folder
    that already exists."""
    if out_dir.exists():
        raise ConfigError(f"{out_dir}: already exists; saving never overwrites, choose a new name")
    edited = result_for_plan(
        result.scenario, result.scenario_path, result.area_data, result.geo, plan, edit
    )

    def current_plan_csv(folder: Path) -> None:
        frame = plan.assignment.rename("team_id").reset_index()
        frame.sort_values("area_code").to_csv(
            folder / "current_plan.csv", index=False, lineterminator="\n"
        )

    written = write_outputs(edited, out_dir, extra=current_plan_csv)
    return edited, written
