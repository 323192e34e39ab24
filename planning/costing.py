"""What the posts cost per year, and how far a budget envelope stretches.

A funded FTE of a role costs, per year and rounded to whole pounds::

    salary x ((1 - vacancy_share) x (1 + on_cost_share) + agency_share x agency_premium_share)
    + non_pay_gbp_per_fte

(``agency_share`` only for ``agency_roles``): uncovered vacancies save pay and on-costs, an agency
worker costs an employed post plus the premium on basic pay, and non-pay is spent on every post.

When the budget does not cover the plan, an integer programme (PuLP model, HiGHS via
``planning.solve``) chooses posts per team and case-holding role, with managers and support by the
same ratios as the plan, to make the worst caseload pressure (caseload per FTE / target) as low as
the budget allows; a second solve keeps that worst pressure and spends what is left on covering as
many cases at target as it can. The first solve starts from the exact optimum of a search over the
cells' caseload breakpoints (``_BudgetModel.best_coverage``), so a time limit never costs quality,
and HiGHS proves it. Status, objective, bound and gap are HiGHS's own.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pulp

from planning.config import FRONT_DOOR_ROLES, CostSettings, SolverSettings, WorkforceSettings
from planning.errors import ConfigError, InfeasibleError, SolverError
from planning.front_door import FrontDoorPlan
from planning.solve import Mip, SolveResult
from planning.workforce import (
    CASE_HOLDING,
    POST_COLUMNS,
    ROLE_ORDER,
    Posts,
    ceil_step,
    sort_posts,
    support_posts,
)

log = logging.getLogger(__name__)

SUPPORT_ROLES = ("senior_practitioner", "team_manager", "business_support")
#: The budget curve starts at this share of the full plan's cost.
SWEEP_FROM_SHARE = 0.5


# --------------------------------------------------------------------------- unit costs


def unit_costs(settings: CostSettings, roles: list[str] | None = None) -> pd.DataFrame:
    """Cost per funded FTE per year for each role (index role), with the parts it is made of."""
    roles = list(settings.salary_gbp) if roles is None else roles
    missing = [r for r in roles if r not in settings.salary_gbp]
    if missing:
        raise ConfigError(
            "costs.salary_gbp: no salary for role(s) the plan staffs:",
            [f"costs.salary_gbp.{r}: set the basic salary per FTE (£/year)" for r in missing],
        )
    rows = []
    for role in roles:
        salary = float(settings.salary_gbp[role])  # type: ignore[index]
        agency = settings.agency_share if role in settings.agency_roles else 0.0
        pay = salary * (
            (1 - settings.vacancy_share) * (1 + settings.on_cost_share)
            + agency * settings.agency_premium_share
        )
        rows.append(
            {
                "role": role,
                "salary_gbp": salary,
                "on_cost_share": settings.on_cost_share,
                "vacancy_share": settings.vacancy_share,
                "agency_share": agency,
                "agency_premium_share": settings.agency_premium_share,
                "non_pay_gbp": settings.non_pay_gbp_per_fte,
                "unit_cost_gbp_per_fte": float(round(pay + settings.non_pay_gbp_per_fte)),
            }
        )
    return pd.DataFrame(rows).set_index("role")


def _priced(table: pd.DataFrame, unit: pd.Series) -> pd.DataFrame:
    out = table.copy()
    out["unit_cost_gbp"] = out["role"].map(unit)
    out["cost_gbp"] = out["fte"] * out["unit_cost_gbp"]
    return out


# --------------------------------------------------------------------------- budget programme


@dataclass(frozen=True)
class BudgetPlan:
    """Posts the budget buys, spread to make the worst caseload pressure as low as possible.

    ``table`` has the posts columns plus unit_cost_gbp and cost_gbp. ``objective`` and ``bound``
    are HiGHS's, for the worst coverage (FTE x target / cases, maximised); the pressure bound is
    the lowest worst pressure any plan within the budget could reach.
    """

    budget_gbp: float
    table: pd.DataFrame
    cost_gbp: float
    worst_caseload_pressure: float
    pressure_bound: float | None
    status: str
    objective: float | None
    bound: float | None
    gap: float | None
    seconds: float

    @property
    def headroom_gbp(self) -> float:
        return self.budget_gbp - self.cost_gbp


@dataclass(frozen=True)
class _Cell:
    team_id: str
    role: str
    cases: float
    target: float


class _BudgetModel:
    """The budget integer programme over one plan's teams and case-holding cells."""

    def __init__(self, posts: Posts, unit: pd.Series) -> None:
        self.settings: WorkforceSettings = posts.settings
        self.unit = unit
        holders = posts.table[posts.table["role"].isin(CASE_HOLDING)]
        self.cells = [
            _Cell(str(r.team_id), str(r.role), float(r.cases), float(r.target_caseload))
            for r in holders.itertuples()
        ]
        self.teams = sorted({c.team_id for c in self.cells} | set(posts.table["team_id"]))
        self.full = {(str(r.team_id), str(r.role)): float(r.fte) for r in posts.table.itertuples()}
        self.by_team: dict[str, list[_Cell]] = {t: [] for t in self.teams}
        for c in self.cells:
            self.by_team[c.team_id].append(c)

    # ---- the smallest staffable plan, in closed form

    def cheapest_plan(self, coverage: float = 0.0) -> dict[tuple[str, str], float]:
        """The cheapest plan whose every case-holding cell has at least ``coverage`` (FTE x
        target / cases; at least one step where there are cases): FTE per (team, role).

        Exact, team by team: the fewest steps per cell, topped up to the minimum team size with
        the team's cheapest case-holding role, then managers and support by ratio (their cost
        only grows with case-holding FTE). ``coverage`` 0 gives the smallest staffable plan.
        """
        s = self.settings
        plan: dict[tuple[str, str], float] = {}
        for team in self.teams:
            cells = self.by_team[team]
            for c in cells:
                steps = math.ceil(c.cases * coverage / (s.fte_step * c.target) - 1e-9)
                plan[(team, c.role)] = s.fte_step * max(1 if c.cases > 0 else 0, steps)
            short = s.min_team_case_holding_fte - sum(plan[(team, c.role)] for c in cells)
            if short > 1e-9 and cells:
                cheapest = min(cells, key=lambda c: (self.unit[c.role], c.role))
                plan[(team, cheapest.role)] += ceil_step(short, s.fte_step)
            holding = sum(plan[(team, c.role)] for c in cells)
            for role, fte in support_posts(holding, s).items():
                plan[(team, role)] = fte
        return plan

    def minimum_plan(self) -> dict[tuple[str, str], float]:
        """The smallest staffable plan: one step per role with cases, then as cheapest_plan."""
        return self.cheapest_plan(0.0)

    def best_coverage(self, budget: float) -> float:
        """The highest worst coverage any plan within the budget reaches (exact).

        The cheapest plan's cost only grows with the coverage asked for, and a plan's worst
        coverage is always one of the cells' breakpoints (steps x step x target / cases), so a
        binary search over the breakpoints finds the optimum of the budget programme's first
        phase; the programme then starts from it and HiGHS proves it.
        """
        s = self.settings
        high = 1.0
        while self.cost_of(self.cheapest_plan(high)) <= budget and high < 1e6:
            high *= 2
        candidates = {0.0}
        for c in self.cells:
            if c.cases > 0:
                unit = s.fte_step * c.target / c.cases
                candidates.update(k * unit for k in range(1, math.ceil(high / unit) + 1))
        ordered = sorted(candidates)
        lo, hi = 0, len(ordered) - 1  # ordered[lo] is affordable (budget >= minimum plan)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.cost_of(self.cheapest_plan(ordered[mid])) <= budget:
                lo = mid
            else:
                hi = mid - 1
        return ordered[lo]

    def cost_of(self, plan: dict[tuple[str, str], float]) -> float:
        return float(sum(fte * self.unit[role] for (_, role), fte in plan.items()))

    # ---- the integer programme

    def build(
        self, budget: float, worst_coverage_at_least: float | None = None
    ) -> tuple[pulp.LpProblem, dict[str, Any]]:
        """Phase 1 (no floor): maximise the worst coverage. Phase 2 (floor given): keep it and
        maximise cases covered at target, then spend least."""
        s = self.settings
        step = s.fte_step
        prob = pulp.LpProblem("budget_posts", pulp.LpMinimize)
        n = {}
        for k, c in enumerate(self.cells):
            n[(c.team_id, c.role)] = pulp.LpVariable(
                f"n_{k:04d}", lowBound=1 if c.cases > 0 else 0, cat=pulp.LpInteger
            )
        idx = {team: j for j, team in enumerate(self.teams)}
        manager = {
            t: pulp.LpVariable(f"m_{idx[t]:04d}", lowBound=1, cat=pulp.LpInteger)
            for t in self.teams
        }
        senior = {
            t: pulp.LpVariable(f"s_{idx[t]:04d}", lowBound=0, cat=pulp.LpInteger)
            for t in self.teams
        }
        support = {
            t: pulp.LpVariable(f"b_{idx[t]:04d}", lowBound=0, cat=pulp.LpInteger)
            for t in self.teams
        }
        worst = pulp.LpVariable("w", lowBound=worst_coverage_at_least or 0.0)
        for c in self.cells:
            if c.cases > 0:
                prob += step * c.target * n[(c.team_id, c.role)] - c.cases * worst >= 0
        for t in self.teams:
            holding = step * pulp.lpSum(v for (team, _), v in n.items() if team == t)
            prob += holding >= s.min_team_case_holding_fte
            prob += s.team_manager_span_fte * manager[t] - holding >= 0
            prob += s.practitioner_fte_per_senior_practitioner * step * senior[t] - holding >= 0
            prob += s.practitioner_fte_per_business_support * step * support[t] - holding >= 0
        u = self.unit
        cost = (
            pulp.lpSum(u[role] * step * v for (_, role), v in n.items())
            + pulp.lpSum(u["team_manager"] * v for v in manager.values())
            + pulp.lpSum(u["senior_practitioner"] * step * v for v in senior.values())
            + pulp.lpSum(u["business_support"] * step * v for v in support.values())
        )
        prob += cost <= budget
        covered = {}
        if worst_coverage_at_least is None:
            prob += -worst
        else:
            for k, c in enumerate(self.cells):
                if c.cases > 0:
                    var = pulp.LpVariable(f"c_{k:04d}", lowBound=0, upBound=1)
                    prob += c.cases * var - step * c.target * n[(c.team_id, c.role)] <= 0
                    covered[k] = var
            total_cases = sum(c.cases for c in self.cells) or 1.0
            prob += (
                -pulp.lpSum(c.cases * covered[k] for k, c in enumerate(self.cells) if k in covered)
                / total_cases
                + 1e-6 * cost / budget
            )
        return prob, {"n": n, "m": manager, "s": senior, "b": support, "w": worst}

    def warm_start(
        self,
        mip: Mip,
        parts: dict[str, Any],
        plan: dict[tuple[str, str], float],
    ) -> np.ndarray:
        """A start vector for ``mip`` from a plan (FTE per team and role)."""
        step = self.settings.fte_step
        values = np.zeros(len(mip.variables))
        for key, var in parts["n"].items():
            values[mip.index[id(var)]] = round(plan.get(key, 0.0) / step)
        for t in self.teams:
            values[mip.index[id(parts["m"][t])]] = plan[(t, "team_manager")]
            values[mip.index[id(parts["s"][t])]] = round(plan[(t, "senior_practitioner")] / step)
            values[mip.index[id(parts["b"][t])]] = round(plan[(t, "business_support")] / step)
        coverage = [
            step * c.target * round(plan.get((c.team_id, c.role), 0.0) / step) / c.cases
            for c in self.cells
            if c.cases > 0
        ]
        values[mip.index[id(parts["w"])]] = min(coverage) if coverage else 0.0
        return values

    def read_plan(
        self, mip: Mip, parts: dict[str, Any], result: SolveResult
    ) -> dict[tuple[str, str], float]:
        step = self.settings.fte_step
        assert result.values is not None
        plan = {key: step * round(mip.value_of(result.values, v)) for key, v in parts["n"].items()}
        for t in self.teams:
            plan[(t, "team_manager")] = float(round(mip.value_of(result.values, parts["m"][t])))
            plan[(t, "senior_practitioner")] = step * round(
                mip.value_of(result.values, parts["s"][t])
            )
            plan[(t, "business_support")] = step * round(mip.value_of(result.values, parts["b"][t]))
        return plan

    def worst_pressure(self, plan: dict[tuple[str, str], float]) -> float:
        loads = [
            c.cases / (plan[(c.team_id, c.role)] * c.target)
            if plan[(c.team_id, c.role)]
            else math.inf
            for c in self.cells
            if c.cases > 0
        ]
        return max(loads) if loads else 0.0

    def table(self, plan: dict[tuple[str, str], float]) -> pd.DataFrame:
        cases = {(c.team_id, c.role): c for c in self.cells}
        rows = []
        for (team, role), fte in plan.items():
            cell = cases.get((team, role))
            if cell is None:
                rows.append((team, role, fte, 0.0, np.nan, np.nan, np.nan))
                continue
            load = cell.cases / fte if fte else (math.inf if cell.cases else 0.0)
            rows.append((team, role, fte, cell.cases, load, cell.target, load / cell.target))
        return _priced(sort_posts(pd.DataFrame(rows, columns=POST_COLUMNS)), self.unit)

    def solve(
        self, budget: float, solver: SolverSettings, *, spend_rest: bool = True
    ) -> BudgetPlan:
        """Both phases at one budget (the second only with ``spend_rest``)."""
        minimum = self.minimum_plan()
        minimum_cost = self.cost_of(minimum)
        if budget < minimum_cost:
            raise InfeasibleError(
                f"costs.budget_gbp £{budget:,.0f} is below £{minimum_cost:,.0f}, the cost of the "
                f"smallest staffable plan for these {len(self.teams)} teams (one "
                f"{self.settings.fte_step:g} FTE post per case-holding role with cases, at least "
                f"{self.settings.min_team_case_holding_fte:g} case-holding FTE, a team manager, "
                "senior practitioners and business support by ratio). Raise the budget to at "
                f"least £{minimum_cost:,.0f}, or plan fewer teams."
            )
        limit = solver.time_limit_seconds * (0.6 if spend_rest else 1.0)
        prob, parts = self.build(budget)
        mip = Mip(prob, threads=solver.threads, seed=solver.seed)
        start = self.cheapest_plan(self.best_coverage(budget))
        first = mip.solve(
            time_limit=limit,
            relative_gap_target=solver.relative_gap,
            warm_start=self.warm_start(mip, parts, start),
        )
        if not first.has_solution:
            raise SolverError(
                f"the budget programme at £{budget:,.0f} ended '{first.status}' without a plan "
                f"in {first.seconds:.1f} s; raise solver.time_limit_seconds"
            )
        plan = self.read_plan(mip, parts, first)
        if self.worst_coverage(plan) < self.worst_coverage(start) - 1e-9:
            log.warning(
                "HiGHS returned a worse plan than its start at £%s; keeping the start",
                f"{budget:,.0f}",
            )
            plan = start
        seconds = first.seconds
        if spend_rest:
            floor = self.worst_coverage(plan)
            prob2, parts2 = self.build(budget, worst_coverage_at_least=floor * (1 - 1e-9))
            mip2 = Mip(prob2, threads=solver.threads, seed=solver.seed)
            second = mip2.solve(
                time_limit=max(0.5, solver.time_limit_seconds - seconds),
                relative_gap_target=solver.relative_gap,
                warm_start=self.warm_start(mip2, parts2, plan),
            )
            seconds += second.seconds
            if second.has_solution:
                better = self.read_plan(mip2, parts2, second)
                if self.worst_pressure(better) <= self.worst_pressure(plan) + 1e-9:
                    plan = better
        table = self.table(plan)
        cost = float(table["cost_gbp"].sum())
        if cost > budget:
            raise SolverError(
                f"the budget programme returned a plan costing £{cost:,.2f}, over the budget of "
                f"£{budget:,.2f}; this is a bug: please report it with the scenario"
            )
        bound = -first.bound if first.bound is not None else None
        result = BudgetPlan(
            budget_gbp=budget,
            table=table,
            cost_gbp=cost,
            worst_caseload_pressure=self.worst_pressure(plan),
            pressure_bound=(1.0 / bound if bound and bound > 0 else None),
            status=first.status,
            objective=-first.objective if first.objective is not None else None,
            bound=bound,
            gap=first.gap,
            seconds=seconds,
        )
        log.info(
            "budget £%s: %.1f FTE cost £%s; worst caseload pressure %.3f (bound %s), %s, gap %s, "
            "%.2f s",
            f"{budget:,.0f}",
            table["fte"].sum(),
            f"{cost:,.0f}",
            result.worst_caseload_pressure,
            f"{result.pressure_bound:.3f}" if result.pressure_bound else "none",
            result.status,
            f"{result.gap:.4f}" if result.gap is not None else "none",
            seconds,
        )
        return result

    def worst_coverage(self, plan: dict[tuple[str, str], float]) -> float:
        pressure = self.worst_pressure(plan)
        return 1.0 / pressure if pressure > 0 else 0.0


def _model(posts: Posts, settings: CostSettings) -> _BudgetModel:
    unit = unit_costs(settings, sorted(set(posts.table["role"]) | set(SUPPORT_ROLES)))
    return _BudgetModel(posts, unit["unit_cost_gbp_per_fte"])


def minimum_staffable_cost(posts: Posts, settings: CostSettings) -> float:
    """Cost per year (£) of the smallest plan that staffs every team (see _BudgetModel)."""
    model = _model(posts, settings)
    return model.cost_of(model.minimum_plan())


def fit_to_budget(
    posts: Posts, settings: CostSettings, budget_gbp: float, solver: SolverSettings | None = None
) -> BudgetPlan:
    """Spread the posts a budget buys across teams to minimise the worst caseload pressure.

    Raises InfeasibleError when the budget is below the smallest staffable plan's cost.
    """
    return _model(posts, settings).solve(budget_gbp, solver or SolverSettings())


def budget_curve(
    posts: Posts,
    settings: CostSettings,
    solver: SolverSettings | None = None,
    points: int | None = None,
) -> pd.DataFrame:
    """Achievable worst caseload pressure at evenly spaced budgets from half the full plan's cost
    (or the smallest staffable plan's, if more) to the full plan's, plus the budget envelope if
    set (``points`` defaults to ``budget_sweep_points``)."""
    solver = solver or SolverSettings()
    points = settings.budget_sweep_points if points is None else points
    model = _model(posts, settings)
    high = model.cost_of(model.full)
    low = max(model.cost_of(model.minimum_plan()), SWEEP_FROM_SHARE * high)
    budgets = [high] if points == 1 else list(np.linspace(low, high, points)) if points else []
    if settings.budget_gbp is not None and settings.budget_gbp >= low and budgets:
        budgets = sorted({*budgets, settings.budget_gbp})
    each = SolverSettings(
        **{**solver.model_dump(), "time_limit_seconds": solver.time_limit_seconds / max(1, points)}
    )
    rows = []
    for budget in budgets:
        plan = model.solve(float(budget), each, spend_rest=False)
        worst = plan.table.loc[plan.table["caseload_pressure"].idxmax()]
        rows.append(
            {
                "budget_gbp": float(budget),
                "cost_gbp": plan.cost_gbp,
                "fte": float(plan.table["fte"].sum()),
                "worst_caseload_pressure": plan.worst_caseload_pressure,
                "worst_caseload_per_fte": float(worst["caseload_per_fte"]),
                "worst_role": str(worst["role"]),
                "pressure_bound": plan.pressure_bound,
                "status": plan.status,
                "gap": plan.gap,
                "seconds": plan.seconds,
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "budget_gbp",
            "cost_gbp",
            "fte",
            "worst_caseload_pressure",
            "worst_caseload_per_fte",
            "worst_role",
            "pressure_bound",
            "status",
            "gap",
            "seconds",
        ],
    )


# --------------------------------------------------------------------------- the plan's cost


@dataclass(frozen=True)
class Costs:
    """The plan's cost per team, role and in total (£/year), and its budget position.

    ``position`` is 'within budget' (``headroom_gbp`` >= 0), 'over budget' (``shortfall_gbp`` > 0,
    and ``within_budget`` holds what the budget buys) or 'no budget set'.
    """

    table: pd.DataFrame
    by_team: pd.DataFrame
    by_role: pd.DataFrame
    unit_costs: pd.DataFrame
    total_gbp: float
    budget_gbp: float | None
    position: str
    headroom_gbp: float | None
    shortfall_gbp: float | None
    minimum_gbp: float
    within_budget: BudgetPlan | None
    curve: pd.DataFrame | None
    settings: CostSettings
    #: The front door's posts (role, fte, staff hours, unit_cost_gbp, cost_gbp), or None.
    front_door: pd.DataFrame | None = None

    @property
    def front_door_gbp(self) -> float:
        return 0.0 if self.front_door is None else float(self.front_door["cost_gbp"].sum())

    @property
    def front_door_fte(self) -> float:
        return 0.0 if self.front_door is None else float(self.front_door["fte"].sum())

    @property
    def teams_gbp(self) -> float:
        return float(self.table["cost_gbp"].sum())

    def summary(self) -> dict[str, Any]:
        """Totals and budget position, JSON-ready, for the manifest. Totals include the front
        door's posts when there is one (``teams_*`` and ``front_door_*`` give the parts)."""
        fit = self.within_budget
        parts = {}
        if self.front_door is not None:
            parts = {
                "teams_cost_gbp": self.teams_gbp,
                "teams_fte": float(self.table["fte"].sum()),
                "front_door_cost_gbp": self.front_door_gbp,
                "front_door_fte": self.front_door_fte,
            }
        return {
            "total_cost_gbp": self.total_gbp,
            "total_fte": float(self.table["fte"].sum()) + self.front_door_fte,
            **parts,
            "case_holding_fte": float(
                self.table.loc[self.table["role"].isin(CASE_HOLDING), "fte"].sum()
            ),
            "budget_gbp": self.budget_gbp,
            "budget_position": self.position,
            "headroom_gbp": self.headroom_gbp,
            "shortfall_gbp": self.shortfall_gbp,
            "minimum_staffable_cost_gbp": self.minimum_gbp,
            "within_budget": None
            if fit is None
            else {
                "cost_gbp": fit.cost_gbp,
                "fte": float(fit.table["fte"].sum()),
                "worst_caseload_pressure": fit.worst_caseload_pressure,
                "pressure_bound": fit.pressure_bound,
                "status": fit.status,
                "objective": fit.objective,
                "bound": fit.bound,
                "gap": fit.gap,
                "seconds": round(fit.seconds, 3),
            },
        }


def price_front_door(plan: FrontDoorPlan, settings: CostSettings) -> pd.DataFrame:
    """The front door's posts priced with the teams' cost settings (same salary, on-cost,
    vacancy, agency and non-pay logic): role, fte, staff hours, unit_cost_gbp, cost_gbp."""
    unit = unit_costs(settings, list(FRONT_DOOR_ROLES))["unit_cost_gbp_per_fte"]
    table = plan.posts.copy()
    table["unit_cost_gbp"] = table["role"].map(unit)
    table["cost_gbp"] = table["fte"] * table["unit_cost_gbp"]
    return table


def cost_plan(
    posts: Posts,
    settings: CostSettings,
    solver: SolverSettings | None = None,
    front_door: FrontDoorPlan | None = None,
) -> Costs:
    """Price the posts; against a budget, report headroom, or the shortfall and what it buys.

    The front door's posts (if any) are priced alike and are a fixed first call on the budget:
    when the plan is over budget, the teams get what is left after the front door. Also sweeps
    ``budget_sweep_points`` budgets for the budget curve. Raises InfeasibleError when the budget
    is below the smallest staffable plan.
    """
    solver = solver or SolverSettings()
    roles = sorted(set(posts.table["role"]) | set(SUPPORT_ROLES))
    unit = unit_costs(settings, roles)
    table = _priced(posts.table, unit["unit_cost_gbp_per_fte"])
    door = price_front_door(front_door, settings) if front_door is not None else None
    door_gbp = 0.0 if door is None else float(door["cost_gbp"].sum())
    if door is not None:
        unit = pd.concat([unit, unit_costs(settings, list(FRONT_DOOR_ROLES))])
    total = float(table["cost_gbp"].sum()) + door_gbp
    minimum = minimum_staffable_cost(posts, settings) + door_gbp
    budget = settings.budget_gbp
    within_budget = None
    headroom = shortfall = None
    if budget is None:
        position = "no budget set"
    elif total <= budget:
        position, headroom = "within budget", budget - total
    else:
        position, shortfall = "over budget", total - budget
        if door is not None and budget < minimum:
            raise InfeasibleError(
                f"costs.budget_gbp £{budget:,.0f} is below £{minimum:,.0f}: the front door's "
                f"£{door_gbp:,.0f} plus £{minimum - door_gbp:,.0f} for the smallest staffable "
                f"plan of the {posts.teams.shape[0]} teams. Raise the budget to at least "
                f"£{minimum:,.0f}, or lower the front door's service target."
            )
        within_budget = fit_to_budget(posts, settings, budget - door_gbp, solver)
    by_team = table.groupby("team_id")[["fte", "cost_gbp"]].sum().reset_index()
    by_role = (
        table.groupby("role")[["fte", "cost_gbp"]]
        .sum()
        .reindex([r for r in unit.index if r in set(table["role"])])
        .rename_axis("role")
        .reset_index()
    )
    by_role = by_role.sort_values("role", key=lambda s: s.map(ROLE_ORDER)).reset_index(drop=True)
    if door is not None:
        by_role = pd.concat([by_role, door[["role", "fte", "cost_gbp"]]], ignore_index=True)
    curve = None
    if settings.budget_sweep_points:
        teams_budget = budget - door_gbp if budget is not None and budget > door_gbp else None
        team_settings = settings.model_copy(update={"budget_gbp": teams_budget})
        curve = budget_curve(posts, team_settings, solver)
        if door is not None:  # the curve's budgets and costs include the front door
            curve["budget_gbp"] += door_gbp
            curve["cost_gbp"] += door_gbp
            curve["fte"] += float(door["fte"].sum())
    log.info(
        "costs: £%s a year for %.1f FTE%s; %s%s",
        f"{total:,.0f}",
        table["fte"].sum() + (0.0 if door is None else float(door["fte"].sum())),
        "" if door is None else f" (front door £{door_gbp:,.0f})",
        position,
        f" (headroom £{headroom:,.0f})"
        if headroom is not None
        else f" (shortfall £{shortfall:,.0f})"
        if shortfall is not None
        else "",
    )
    return Costs(
        table=table,
        by_team=by_team,
        by_role=by_role,
        unit_costs=unit.reset_index(),
        total_gbp=total,
        budget_gbp=budget,
        position=position,
        headroom_gbp=headroom,
        shortfall_gbp=shortfall,
        minimum_gbp=minimum,
        within_budget=within_budget,
        curve=curve,
        settings=settings,
        front_door=door,
    )


def json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def staffing_summary(posts: Posts, costs: Costs) -> dict[str, Any]:
    """The manifest's staffing entry: rates used, the published comparison, totals and the
    budget position (JSON-ready: NaN as null)."""
    return json_ready(
        {
            "rates_year": posts.rates.year,
            "teams": int(posts.teams.shape[0]),
            "published_comparison": posts.comparison.to_dict("records"),
            **costs.summary(),
        }
    )
