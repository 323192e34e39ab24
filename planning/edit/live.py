"""Live figures and checks of an edited plan: pure functions of an assignment.

``LiveContext`` holds the per-area arrays of a run (built once); ``team_figures`` gives each
team's residents, children, expected cases, FTE and problems (outside the band, in pieces on
the planner's adjacency with its links, across its district or grouping); ``plan_changes``
counts the areas, residents and children whose team changes against a reference plan (teams
matched as ``planning compare`` matches them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from planning.config import CASE_TYPES, TeamSettings, WorkforceSettings
from planning.pipeline import Result, allocation_table
from planning.studio import match_teams
from planning.workforce import Rates, size_workforce


@dataclass(frozen=True)
class LiveContext:
    """Everything the live checks read, per area in the areas table's order."""

    codes: tuple[str, ...]
    names: tuple[str, ...]
    neighbours: tuple[tuple[int, ...], ...]  # the planner's adjacency, links included
    weights: np.ndarray  # the band's basis
    work: np.ndarray | None  # the workload band's basis (teams.workload), if any
    residents: np.ndarray
    children: np.ndarray  # children 0-17
    cases: np.ndarray  # expected Family Help + child protection cases
    nest: tuple[str | None, ...]  # district or grouping of each area (None without nesting)
    settings: TeamSettings
    below_band: frozenset[str]  # teams allowed below the minimum (teams.undersized: one_team)
    areas: pd.DataFrame  # the areas table without geometry, for sizing posts
    rates: Rates
    workforce: WorkforceSettings
    optimised: pd.Series  # the run's plan: team per area code
    current: pd.Series | None  # the scenario's current plan, if any

    def index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.codes)}


def live_context(result: Result, current: pd.Series | None = None) -> LiveContext:
    """The live checks' arrays for a run (``current``: the scenario's current plan labels)."""
    areas = result.area_data.areas
    settings = result.scenario.teams
    table = allocation_table(result.scenario, result.area_data)
    demand = result.posts.demand.reindex(areas.area_code)
    cases = demand[list(CASE_TYPES)].sum(axis=1).to_numpy(float)
    if settings.nesting == "district":
        nest = tuple(areas.district_code.astype(str))
    elif settings.nesting == "groupings":
        group_of = {d: g.name for g in settings.groupings for d in g.districts}
        nest = tuple(areas.district_code.map(group_of).astype(str))
    else:
        nest = tuple(None for _ in range(len(areas)))
    return LiveContext(
        codes=tuple(areas.area_code.astype(str)),
        names=tuple(areas.area_name.astype(str)),
        neighbours=tuple(tuple(int(j) for j in n) for n in result.geo.neighbours()),
        weights=table[settings.population_basis].to_numpy(float),
        work=None if settings.workload is None else table[settings.workload.basis].to_numpy(float),
        residents=areas.residents.to_numpy(float),
        children=areas.children_0_17.to_numpy(float),
        cases=cases,
        nest=nest,
        settings=settings,
        below_band=frozenset(result.teams.below_band_teams),
        areas=pd.DataFrame(areas.drop(columns="geometry")),
        rates=result.rates,
        workforce=result.scenario.workforce,
        optimised=result.teams.assignment.astype(str),
        current=None if current is None else current.astype(str),
    )


def pieces(members: list[int], neighbours: tuple[tuple[int, ...], ...]) -> int:
    """How many connected pieces the areas ``members`` form on the adjacency."""
    left = set(members)
    count = 0
    while left:
        count += 1
        stack = [left.pop()]
        while stack:
            i = stack.pop()
            for j in neighbours[i]:
                if j in left:
                    left.remove(j)
                    stack.append(j)
    return count


def team_problems(ctx: LiveContext, team: str, members: list[int]) -> list[str]:
    """Why a team fails the plan's rules (empty when it passes), in the planner's words."""
    s = ctx.settings
    problems = []
    pop = float(ctx.weights[members].sum())
    basis = s.population_basis.replace("_", " ").replace("0 17", "0-17")
    low = 0.0 if team in ctx.below_band else s.min_population
    if pop < low - 1e-6:
        problems.append(f"below the band: {pop:,.0f} {basis} < {s.min_population:,.0f}")
    if pop > s.max_population + 1e-6:
        problems.append(f"above the band: {pop:,.0f} {basis} > {s.max_population:,.0f}")
    band = s.workload
    if band is not None and ctx.work is not None:
        work = float(ctx.work[members].sum())
        what = band.basis.replace("_", " ")
        if band.min is not None and team not in ctx.below_band and work < band.min - 1e-6:
            problems.append(f"below the workload band: {work:,.1f} {what} < {band.min:,.1f}")
        if band.max is not None and work > band.max + 1e-6:
            problems.append(f"above the workload band: {work:,.1f} {what} > {band.max:,.1f}")
    n = pieces(members, ctx.neighbours)
    if n > 1:
        problems.append(f"in {n} pieces (not contiguous)")
    nests = sorted({ctx.nest[i] for i in members if ctx.nest[i] is not None})
    if len(nests) > 1:
        what = "districts" if s.nesting == "district" else "groupings"
        problems.append(f"crosses {what}: {', '.join(nests)}")
    return problems


def team_fte(ctx: LiveContext, assignment: pd.Series) -> pd.Series:
    """Total FTE per team, sized exactly as the workforce stage sizes them."""
    posts = size_workforce(ctx.areas, assignment, ctx.rates, ctx.workforce)
    return posts.teams.set_index("team_id")["total_fte"]


def as_series(ctx: LiveContext, assignment: Mapping[str, str] | tuple[str, ...]) -> pd.Series:
    """An assignment (a tuple aligned with ``ctx.codes`` or a mapping) as a Series by code."""
    if isinstance(assignment, Mapping):
        values = [assignment[c] for c in ctx.codes]
    else:
        values = list(assignment)
    series = pd.Series(values, index=pd.Index(ctx.codes, name="area_code"), name="team_id")
    return series.astype(str)


def team_figures(ctx: LiveContext, assignment: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Per team: areas, residents, children 0-17, the band's population, expected cases, FTE
    and problems (a list of reasons; empty when the team passes every check)."""
    series = as_series(ctx, assignment)
    fte = team_fte(ctx, series)
    members: dict[str, list[int]] = {}
    for i, team in enumerate(assignment):
        members.setdefault(team, []).append(i)
    out = {}
    for team in sorted(members):
        m = members[team]
        out[team] = {
            "areas": len(m),
            "residents": round(float(ctx.residents[m].sum())),
            "children_0_17": round(float(ctx.children[m].sum())),
            "population": round(float(ctx.weights[m].sum())),
            "expected_cases": round(float(ctx.cases[m].sum()), 1),
            "fte": round(float(fte.get(team, 0.0)), 1),
            "problems": team_problems(ctx, team, m),
        }
    return out


def plan_changes(ctx: LiveContext, reference: pd.Series, assignment: tuple[str, ...]) -> dict:
    """Areas, residents and children whose team changes against ``reference`` (team labels by
    area code), after matching teams one to one by shared residents, as ``planning compare``."""
    other = as_series(ctx, assignment)
    first = reference.reindex(other.index).astype(str)
    weights = pd.Series(ctx.residents, index=other.index)
    matched = other.map(match_teams(first, other, weights))
    moved = (matched != first).to_numpy()
    return {
        "areas": int(moved.sum()),
        "residents": round(float(ctx.residents[moved].sum())),
        "children_0_17": round(float(ctx.children[moved].sum())),
    }


def plan_summary(ctx: LiveContext, assignment: tuple[str, ...]) -> dict[str, Any]:
    """Team figures and the changes against the optimised plan and the current plan."""
    teams = team_figures(ctx, assignment)
    return {
        "teams": teams,
        "problems": {t: f["problems"] for t, f in teams.items() if f["problems"]},
        "changes_vs_optimised": plan_changes(ctx, ctx.optimised, assignment),
        "changes_vs_current": (
            None if ctx.current is None else plan_changes(ctx, ctx.current, assignment)
        ),
    }
