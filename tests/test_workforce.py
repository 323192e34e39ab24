"""Demand and posts: hand-worked cases, published rates, the Hampshire reality check, bad input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from planning.config import ROLES, WorkforceSettings, load_scenario
from planning.data import resolve_data_dir
from planning.errors import ConfigError, DataError
from planning.workforce import Rates, area_demand, published_rates, size_workforce

HAMPSHIRE = "E10000014"


def make_areas(
    children: dict[str, float], deciles: dict[str, int] | None = None, council: str = "E10000001"
) -> pd.DataFrame:
    deciles = deciles or {}
    return pd.DataFrame(
        {
            "area_code": list(children),
            "council_code": council,
            "residents": [4 * c for c in children.values()],
            "children_0_17": list(children.values()),
            "imd_decile": [deciles.get(code, 5) for code in children],
        }
    )


def fte(posts, team: str, role: str) -> float:
    rows = posts.table[(posts.table.team_id == team) & (posts.table.role == role)]
    return float(rows.fte.sum())


def test_deprivation_spread_keeps_the_council_total():
    """Two areas of 1,000 children, deciles 1 and 2, gradient x2: weights 2^9 and 2^8."""
    areas = make_areas({"E01000001": 1000, "E01000002": 1000}, {"E01000001": 1, "E01000002": 2})
    rates = Rates.fixed({"E10000001": {"children_in_need": 300, "child_protection_plans": 40}})
    demand = area_demand(areas, rates, WorkforceSettings(deprivation_gradient_per_decile=2.0))
    # Family Help 260 per 10k x 2,000 = 52 cases; child protection 40 per 10k x 2,000 = 8.
    assert demand.family_help.tolist() == pytest.approx([52 * 2 / 3, 52 / 3])
    assert demand.child_protection.tolist() == pytest.approx([8 * 2 / 3, 8 / 3])


def test_looked_after_and_early_help_change_family_help_cases():
    areas = make_areas({"E01000001": 10_000})
    rates = Rates.fixed(
        {"E10000001": {"children_in_need": 300, "child_protection_plans": 40, "looked_after": 60}}
    )
    settings = WorkforceSettings(looked_after_in_family_help=False, early_help_uplift_share=0.5)
    demand = area_demand(areas, rates, settings)
    assert demand.family_help.sum() == pytest.approx((300 - 40 - 60) * 1.5)
    assert demand.child_protection.sum() == pytest.approx(40)


def test_two_teams_exact_posts():
    """
    Team A: areas a1 (6,000 children) + a2 (4,000); team B: b1 (5,000); team C: c1 (500).
    Family Help 300 and child protection 40 per 10,000; no deprivation gradient.

    A: FH 300 -> family practitioners 40% = 120 / 20 = 6.0, social workers 180 / 15 = 12.0;
       CP 40 / 10 = 4.0 lead CP practitioners. 22 case-holding FTE -> 3 team managers (span 8),
       senior practitioners 22 / 6 = 3.67 -> 4.0, business support 22 / 8 = 2.75 -> 3.0.
    B: half of A: 3.0 + 6.0 + 2.0 = 11 -> managers 2, seniors 1.83 -> 2.0, support 1.375 -> 1.5.
    C: FP 6 / 20 -> 0.5, SW 9 / 15 -> 1.0, LCPP 2 / 10 -> 0.5 = 2.0, topped up to 4.0 with
       2.0 social workers; 1 manager, seniors 0.67 -> 1.0, support 0.5.
    """
    areas = make_areas({"a1": 6000, "a2": 4000, "b1": 5000, "c1": 500})
    assignment = pd.Series({"a1": "A", "a2": "A", "b1": "B", "c1": "C"})
    rates = Rates.fixed({"E10000001": {"children_in_need": 340, "child_protection_plans": 40}})
    settings = WorkforceSettings(
        deprivation_gradient_per_decile=1.0,
        caseload_target_cases_per_fte={
            "family_practitioner": 20,
            "social_worker": 15,
            "lead_child_protection_practitioner": 10,
        },
    )
    posts = size_workforce(areas, assignment, rates, settings)
    expected = {
        "A": [6.0, 12.0, 4.0, 4.0, 3.0, 3.0],
        "B": [3.0, 6.0, 2.0, 2.0, 2.0, 1.5],
        "C": [0.5, 3.0, 0.5, 1.0, 1.0, 0.5],
    }
    for team, values in expected.items():  # roles in ROLES order
        assert [fte(posts, team, r) for r in ROLES] == values, team
    a = posts.table[(posts.table.team_id == "A") & (posts.table.role == "social_worker")].iloc[0]
    assert a.cases == pytest.approx(180) and a.caseload_per_fte == pytest.approx(15)
    c = posts.table[(posts.table.team_id == "C") & (posts.table.role == "social_worker")].iloc[0]
    assert c.caseload_per_fte == pytest.approx(3.0)
    assert posts.teams.set_index("team_id").loc["A", "case_holding_fte"] == 22.0
    assert list(posts.table.team_id.unique()) == ["A", "B", "C"]


def test_assignment_must_cover_every_area():
    areas = make_areas({"a1": 1000, "a2": 1000})
    rates = Rates.fixed({"E10000001": {"children_in_need": 300, "child_protection_plans": 40}})
    with pytest.raises(DataError, match=r"1 area\(s\) have no team: a2"):
        size_workforce(areas, pd.Series({"a1": "A"}), rates, WorkforceSettings())


def test_published_rates_hampshire_2025():
    rates = published_rates([HAMPSHIRE], resolve_data_dir(), 2025)
    row = rates.table.loc[HAMPSHIRE]
    assert row.source == "council" and row.population_year == 2024
    assert (row.children_in_need, row.child_protection_plans) == (10_636, 922)
    assert row.children_0_17_published == 288_730
    assert row.children_in_need_per_10k == pytest.approx(368.37, abs=0.01)
    # The rate applied to the published children reproduces the published total.
    total = row.children_in_need_per_10k * row.children_0_17_published / 10_000
    assert total == pytest.approx(10_636)
    assert (row.caseload_fte, row.cases) == (16.1, 6339)


def test_latest_year_is_default_and_missing_council_falls_back_to_england():
    assert published_rates([HAMPSHIRE], resolve_data_dir()).year == 2025
    rates = published_rates([HAMPSHIRE], resolve_data_dir(), 2024)  # Hampshire 2024: 'u'
    row = rates.table.loc[HAMPSHIRE]
    assert row.source == "England"
    assert row.children_in_need_per_10k == pytest.approx(399_460 / 12_059_476 * 10_000)


def test_rates_year_without_figures_is_a_data_error():
    with pytest.raises(DataError, match=r"rates_year 2030.*years available: 2013-2025"):
        published_rates([HAMPSHIRE], resolve_data_dir(), 2030)


def test_hampshire_social_work_fte_matches_published_workforce():
    """Hampshire, teams by district, its 2025 rates and caseload 16.1 for every case holder:
    the plan's qualified social-work case-holding FTE is within 10% of cases / caseload."""
    from planning.data import load_areas

    areas = load_areas([HAMPSHIRE]).areas
    assignment = pd.Series(areas.district_code.to_numpy(), index=areas.area_code)
    rates = published_rates([HAMPSHIRE], resolve_data_dir())
    target = float(rates.table.loc[HAMPSHIRE, "caseload_fte"])
    settings = WorkforceSettings(
        caseload_target_cases_per_fte={
            "family_practitioner": target,
            "social_worker": target,
            "lead_child_protection_practitioner": target,
        }
    )
    posts = size_workforce(areas, assignment, rates, settings)
    row = posts.comparison.set_index("council_code").loc[HAMPSHIRE]
    assert row.published_implied_fte == pytest.approx(6339 / 16.1)
    assert abs(row.plan_social_work_case_holding_fte / row.published_implied_fte - 1) < 0.10
    # Modelled totals are the published rates times the areas' (mid-2020) children.
    assert row.plan_family_help_cases == pytest.approx(
        row.family_help_per_10k * row.children_0_17_areas / 10_000
    )


# --------------------------------------------------------------------------- settings


def write_scenario(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(f"name: t\ncouncils: [E10000014]\n{extra}", encoding="utf-8")
    return path


@pytest.mark.parametrize("value", [0, -3])
def test_non_positive_caseload_target_is_a_config_error(tmp_path, value):
    path = write_scenario(
        tmp_path,
        f"workforce:\n  caseload_target_cases_per_fte:\n    social_worker: {value}\n"
        "    family_practitioner: 18\n    lead_child_protection_practitioner: 12\n",
    )
    with pytest.raises(
        ConfigError,
        match=r"workforce\.caseload_target_cases_per_fte\."
        r"social_worker: Input should be greater than 0",
    ) as err:
        load_scenario(path)
    assert err.value.exit_code == 2


def test_case_holder_without_target_is_a_config_error(tmp_path):
    path = write_scenario(
        tmp_path, "workforce:\n  caseload_target_cases_per_fte:\n    social_worker: 15\n"
    )
    with pytest.raises(
        ConfigError,
        match=r"caseload_target_cases_per_fte\.family_practitioner: "
        r"family_practitioner holds family_help cases but has no caseload target",
    ):
        load_scenario(path)


def test_unknown_workforce_key_suggests_the_right_one(tmp_path):
    path = write_scenario(tmp_path, "workforce:\n  fte_stp: 1.0\n")
    with pytest.raises(ConfigError, match="did you mean 'fte_step'"):
        load_scenario(path)
