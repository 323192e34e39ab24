"""A block-by-block solution turned into the plan people read: team ids, the teams table, and
the independent check that every team is in its band, contiguous and within its group."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from planning.allocate.blocks import Block
from planning.allocate.nodes import Nodes
from planning.config import WORKLOAD_BASES, TeamSettings
from planning.errors import SolverError
from planning.geography import Geography, components


@dataclass(frozen=True)
class TeamPlan:
    """Areas allocated to teams, the teams table, and the solver's evidence."""

    assignment: pd.Series  # index area_code, values team_id
    teams: pd.DataFrame
    status: str
    objective: float
    bound: float
    gap: float
    seconds: float
    population_basis: str
    blocks: list[dict] = field(default_factory=list)  # the chosen count of every block
    pairs: list[dict] = field(default_factory=list)  # every (block, count) considered
    below_band_teams: list[str] = field(default_factory=list)  # teams.undersized: one_team
    tuning: dict = field(default_factory=dict)
    changed_areas: int | None = None  # with a current plan: areas whose team changes
    changed_residents: float | None = None
    changed_children: float | None = None
    building_block: str = "lsoa"  # lsoa, or ward: every ward kept whole
    nodes: int | None = None  # units the model placed whole (areas, wards, locked groups)
    ward_joins: list[str] = field(default_factory=list)  # wards in pieces joined to stay whole
    locks: list[dict] = field(default_factory=list)  # teams.fixed_areas_csv labels
    # the best possible plan with the plan's own team counts, and the pairs whose other counts
    # hold the overall bound below it (None and [] for an edited plan)
    count_bound: float | None = None
    count_gap: float | None = None
    bound_holders: list[dict] = field(default_factory=list)


def holder_text(row: dict) -> str:
    """One row of ``TeamPlan.bound_holders`` for a reader: the group, its count in the overall
    bound and the plan's, and what is known at that count."""
    below = row.get("ruled_out_below")
    if row["objective"] is not None:
        known = f"the best plan found there costs {row['objective']:,.0f}"
    elif below is None:
        known = "no plan was found there and none was ruled out"
    else:
        known = "no plan was found there"
    ruled = "" if below is None else f"; no plan there costs less than {below:,.0f}"
    return (
        f"{row['group']} at {row['teams']} teams (this plan has {row['plan_teams']}): bound "
        f"{row['bound']:,.0f}; {known}{ruled}"
    )


def assemble(
    areas: pd.DataFrame,
    geo: Geography,
    blocks: list[Block],
    plans: list[np.ndarray],
    settings: TeamSettings,
    nodes: Nodes | None = None,
) -> tuple[pd.Series, pd.DataFrame]:
    """Team ids (T01...) by block, then north to south by centre; the teams table; checks."""
    team_of = np.empty(len(areas), dtype=object)
    centre_of = np.empty(len(areas), dtype=int)
    group_of = np.empty(len(areas), dtype=object)
    number = 0
    below: list[str] = []
    for blk, plan in zip(blocks, plans, strict=True):
        centres = blk.members[plan]
        order = sorted(np.unique(centres), key=lambda c: (-geo.y_m[c], geo.x_m[c]))
        for c in order:
            number += 1
            members = blk.members[centres == c]
            team_of[members] = f"T{number:02d}"
            if blk.undersized:
                below.append(f"T{number:02d}")
            centre_of[members] = c
            group_of[members] = blk.name
    frame = pd.DataFrame(
        {
            "team_id": team_of,
            "group": group_of,
            "centre_area_code": geo.codes[centre_of],
            "centre_area_name": geo.names[centre_of],
            "residents": areas.residents.to_numpy(),
            "children_0_17": areas.children_0_17.to_numpy(),
            "children_0_19": areas.children_0_19.to_numpy(),
            "children_0_24": areas.children_0_24.to_numpy(),
            "imd_score": areas.imd_score.to_numpy(),
        }
    )
    frame["imd_weighted"] = frame.imd_score * frame.residents
    teams = (
        frame.groupby("team_id", sort=True)
        .agg(
            group=("group", "first"),
            n_areas=("team_id", "size"),
            residents=("residents", "sum"),
            children_0_17=("children_0_17", "sum"),
            children_0_19=("children_0_19", "sum"),
            children_0_24=("children_0_24", "sum"),
            imd_weighted=("imd_weighted", "sum"),
            centre_area_code=("centre_area_code", "first"),
            centre_area_name=("centre_area_name", "first"),
        )
        .reset_index()
    )
    teams["imd_score_mean"] = (teams.imd_weighted / teams.residents).round(3)
    for col in ("residents", "children_0_17", "children_0_19", "children_0_24"):
        teams[col] = teams[col].round().astype(int)
    teams = teams[
        [
            "team_id",
            "group",
            "n_areas",
            "residents",
            "children_0_17",
            "imd_score_mean",
            "centre_area_code",
            "centre_area_name",
            "children_0_19",
            "children_0_24",
        ]
    ]
    assignment = pd.Series(team_of, index=areas.area_code.to_numpy(), name="team_id")
    assignment.index.name = "area_code"
    for col in WORKLOAD_BASES:
        if col in areas:
            per_team = pd.Series(areas[col].to_numpy(float), index=team_of).groupby(level=0).sum()
            teams[col] = teams.team_id.map(per_team).round(2)
    teams["below_band"] = teams.team_id.isin(below)
    check_plan(assignment, areas, geo, settings, below, nodes)
    return assignment, teams


def check_plan(
    assignment: pd.Series,
    areas: pd.DataFrame,
    geo: Geography,
    settings: TeamSettings,
    below_band: list[str] | tuple[str, ...] = (),
    nodes: Nodes | None = None,
) -> None:
    """Raise SolverError if any team is outside the band (or the workload band), split, or
    crosses its group, or if areas that must stay together (``nodes``) are in several teams.

    ``below_band`` teams (blocks below the band on their own, with ``teams.undersized:
    one_team``) may fall under the minimum, never over the maximum."""
    problems = []
    if below_band and settings.undersized != "one_team":
        problems.append(f"teams {', '.join(below_band)} are below the band but undersized is fail")
    weights = areas[settings.population_basis].to_numpy(float)
    teams = assignment.to_numpy()
    for team in sorted(set(teams)):
        members = np.flatnonzero(teams == team)
        pop = weights[members].sum()
        low = 0.0 if team in below_band else settings.min_population
        if not low - 1e-6 <= pop <= settings.max_population + 1e-6:
            problems.append(f"{team}: {pop:,.0f} {settings.population_basis} is outside the band")
        inside = np.isin(geo.edges, members).all(axis=1)
        local = {a: k for k, a in enumerate(members)}
        sub = np.array([[local[a], local[b]] for a, b in geo.edges[inside]]).reshape(-1, 2)
        if components(len(members), sub).max() > 0:
            problems.append(f"{team}: not contiguous")
        if settings.nesting == "district" and areas.district_code.iloc[members].nunique() > 1:
            problems.append(f"{team}: crosses districts")
        band = settings.workload
        if band is not None:
            work = areas[band.basis].to_numpy(float)[members].sum()
            low = 0.0 if team in below_band or band.min is None else band.min
            high = np.inf if band.max is None else band.max
            if not low - 1e-6 <= work <= high + 1e-6:
                problems.append(f"{team}: {work:,.2f} {band.basis} is outside the workload band")
    if nodes is not None and not nodes.is_identity:
        per_node = pd.Series(teams).groupby(nodes.of_area).nunique()
        for u in per_node.index[per_node > 1]:
            problems.append(f"{nodes.name[u]}: split between teams")
    if settings.nesting == "groupings":
        group_of = {d: g.name for g in settings.groupings for d in g.districts}
        groups = areas.district_code.map(group_of).to_numpy()
        for team in sorted(set(teams)):
            if len(set(groups[teams == team])) > 1:
                problems.append(f"{team}: crosses groupings")
    if problems:
        raise SolverError(
            "the solver's plan breaks its own constraints; nothing was written:", problems
        )
