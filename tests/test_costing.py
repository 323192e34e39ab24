"""Costs and the budget envelope: unit costs and budget plans worked out by hand."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from planning.config import (
    ROLES,
    CostSettings,
    SolverSettings,
    WorkforceSettings,
    load_scenario,
)
from planning.costing import (
    _model,
    budget_curve,
    cost_plan,
    fit_to_budget,
    minimum_staffable_cost,
    staffing_summary,
    unit_costs,
)
from planning.errors import ConfigError, InfeasibleError
from planning.solve import Mip
from planning.workforce import Rates, size_workforce

SOLVER = SolverSettings(time_limit_seconds=10, relative_gap=0.0)
FLAT = dict.fromkeys(ROLES, 10_000.0)


def flat_costs(**extra) -> CostSettings:
    """Every FTE costs exactly £10,000 a year."""
    return CostSettings(
        salary_gbp=FLAT,
        on_cost_share=0,
        agency_share=0,
        non_pay_gbp_per_fte=0,
        budget_sweep_points=0,
        **extra,
    )


def two_teams():
    """
    Team A: 10,000 children -> 100 Family Help and 20 child protection cases;
    team B: 5,000 children -> 50 and 10. Social workers hold Family Help and lead child
    protection practitioners child protection, 10 cases per FTE, whole posts. Each team also
    has 1 manager, 1 senior practitioner and 1 business support post.

    Needed: A 10 + 2 + 3 = 15 posts, B 5 + 1 + 3 = 9 posts: 24 posts, £240,000.
    Smallest staffable plan: one post per role with cases: (2 + 3) x 2 = 10 posts, £100,000.
    """
    areas = pd.DataFrame(
        {
            "area_code": ["a1", "b1"],
            "council_code": "E10000001",
            "residents": [40_000, 20_000],
            "children_0_17": [10_000, 5_000],
            "imd_decile": 5,
        }
    )
    rates = Rates.fixed({"E10000001": {"children_in_need": 120, "child_protection_plans": 20}})
    settings = WorkforceSettings(
        caseload_target_cases_per_fte={
            "social_worker": 10,
            "lead_child_protection_practitioner": 10,
        },
        case_holders={
            "family_help": ["social_worker"],
            "child_protection": ["lead_child_protection_practitioner"],
        },
        non_social_worker_roles=[],
        fte_step=1.0,
        min_team_case_holding_fte=1,
        team_manager_span_fte=100,
        practitioner_fte_per_senior_practitioner=1000,
        practitioner_fte_per_business_support=1000,
    )
    return size_workforce(areas, pd.Series({"a1": "A", "b1": "B"}), rates, settings)


def test_unit_cost_by_hand():
    settings = CostSettings(
        salary_gbp={**FLAT, "social_worker": 40_000, "family_practitioner": 40_000},
        on_cost_share=0.25,
        vacancy_share=0.1,
        agency_share=0.2,
        agency_premium_share=0.17,
        non_pay_gbp_per_fte=1_000,
    )
    unit = unit_costs(settings)["unit_cost_gbp_per_fte"]
    # 40,000 x (0.9 x 1.25 + 0.2 x 0.17) + 1,000; family practitioners are not agency roles.
    assert unit["social_worker"] == 47_360
    assert unit["family_practitioner"] == 46_000


def test_plan_within_budget_reports_headroom():
    costs = cost_plan(two_teams(), flat_costs(budget_gbp=250_000), SOLVER)
    assert costs.total_gbp == 240_000 and costs.table.fte.sum() == 24
    assert costs.position == "within budget" and costs.headroom_gbp == 10_000
    assert costs.shortfall_gbp is None and costs.within_budget is None
    assert costs.by_team.set_index("team_id").cost_gbp.to_dict() == {"A": 150_000, "B": 90_000}


def test_budget_that_buys_eighteen_posts():
    """£180,000 buys 18 posts: 6 are managers and support, leaving 12 case holders for cells
    of 100, 20, 50 and 10 cases. Best worst coverage: 6, 2, 3, 1 posts -> 0.6 for both social
    worker cells, so the worst caseload is 100 / 6 = 16.7 against 10: pressure 5/3."""
    posts = two_teams()
    costs = cost_plan(posts, flat_costs(budget_gbp=180_000), SOLVER)
    assert costs.position == "over budget" and costs.shortfall_gbp == 60_000
    assert costs.headroom_gbp is None
    fit = costs.within_budget
    assert fit is not None and fit.cost_gbp == 180_000 and fit.cost_gbp <= fit.budget_gbp
    assert fit.worst_caseload_pressure == pytest.approx(5 / 3)
    assert fit.status == "optimal" and fit.objective == pytest.approx(0.6)
    assert fit.bound >= fit.objective - 1e-9 and fit.gap <= 1e-6
    got = fit.table.set_index(["team_id", "role"]).fte.to_dict()
    lcpp = "lead_child_protection_practitioner"
    assert (got[("A", "social_worker")], got[("A", lcpp)]) == (6, 2)
    assert (got[("B", "social_worker")], got[("B", lcpp)]) == (3, 1)
    assert costs.summary()["within_budget"]["cost_gbp"] == 180_000


def test_budget_below_smallest_staffable_plan_is_infeasible():
    posts = two_teams()
    assert minimum_staffable_cost(posts, flat_costs()) == 100_000
    with pytest.raises(InfeasibleError, match=r"costs.budget_gbp £99,999 is below £100,000") as err:
        cost_plan(posts, flat_costs(budget_gbp=99_999), SOLVER)
    assert err.value.exit_code == 3
    fit = fit_to_budget(posts, flat_costs(), 100_000, SOLVER)
    assert fit.cost_gbp == 100_000 and fit.worst_caseload_pressure == pytest.approx(10.0)


@pytest.mark.parametrize("budget", [100_000, 123_456, 179_999, 200_000, 239_999.5])
def test_over_budget_plan_is_never_reported_within(budget):
    costs = cost_plan(two_teams(), flat_costs(budget_gbp=budget), SOLVER)
    assert costs.position == "over budget"
    assert costs.shortfall_gbp == pytest.approx(240_000 - budget)
    assert costs.within_budget.cost_gbp <= budget


def test_budget_curve_falls_to_target_at_full_cost():
    curve = budget_curve(two_teams(), flat_costs(), SOLVER, points=3)
    assert curve.budget_gbp.tolist() == [120_000, 180_000, 240_000]  # from half the full cost
    assert curve.worst_caseload_pressure.is_monotonic_decreasing
    assert curve.worst_caseload_pressure.iloc[-1] == pytest.approx(1.0)
    assert curve.worst_caseload_pressure.iloc[1] == pytest.approx(5 / 3)
    assert (curve.cost_gbp <= curve.budget_gbp).all()


def test_missing_salary_is_a_config_error(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: t\ncouncils: [E10000014]\ncosts:\n  salary_gbp:\n    social_worker: 42000\n",
        encoding="utf-8",
    )
    with pytest.raises(
        ConfigError,
        match=r"costs: .*salary_gbp: no salary for family_practitioner"
        r", lead_child_protection_practitioner, senior_practitioner, team_manager, "
        r"business_support; every role needs one",
    ):
        load_scenario(path)


def test_zero_salary_is_a_config_error(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: t\ncouncils: [E10000014]\ncosts:\n  salary_gbp:\n"
        + "".join(f"    {r}: 30000\n" for r in FLAT if r != "team_manager")
        + "    team_manager: 0\n",
        encoding="utf-8",
    )
    with pytest.raises(
        ConfigError,
        match=r"costs\.salary_gbp\.team_manager: Input should be "
        r"greater than 0",
    ):
        load_scenario(path)


def test_exact_search_matches_highs_without_a_start():
    """The first phase's exact search and a cold HiGHS solve agree on a small random plan."""
    rng = np.random.default_rng(1)
    n = 12
    areas = pd.DataFrame(
        {
            "area_code": [f"a{k:02d}" for k in range(n)],
            "council_code": "E10000001",
            "residents": 4000,
            "children_0_17": rng.integers(300, 3000, n).astype(float),
            "imd_decile": rng.integers(1, 11, n),
        }
    )
    assignment = pd.Series({f"a{k:02d}": f"T{k % 4}" for k in range(n)})
    rates = Rates.fixed({"E10000001": {"children_in_need": 330, "child_protection_plans": 41}})
    posts = size_workforce(areas, assignment, rates, WorkforceSettings())
    model = _model(posts, CostSettings())
    full = model.cost_of(model.full)
    for share in (0.6, 0.8, 0.95):
        prob, _ = model.build(share * full)
        cold = Mip(prob).solve(time_limit=10, relative_gap_target=0.0)
        assert cold.status == "optimal"
        assert model.best_coverage(share * full) == pytest.approx(-cold.objective, rel=1e-7)


def test_manifest_entry_is_json_with_the_budget_position():
    posts = two_teams()
    entry = staffing_summary(posts, cost_plan(posts, flat_costs(budget_gbp=180_000), SOLVER))
    text = json.dumps(entry, allow_nan=False)
    assert entry["budget_position"] == "over budget" and entry["shortfall_gbp"] == 60_000
    assert entry["within_budget"]["cost_gbp"] == 180_000 and "published_comparison" in text
