"""The front door: Erlang C against a published worked example, against a well-kept library and a
seeded simulation; the staffing, its cost, its workbook sheet and Sefton end to end; bad input.

Published example (the one most contact-centre guides quote): Call Centre Helper, "Erlang C
Formula - Made Simple With an Easy Worked Example"
(https://www.callcentrehelper.com/erlang-c-formula-example-121281.htm): 100 calls in 30 minutes,
average handling time 180 s, target 80% answered within 20 s, maximum occupancy 85%, shrinkage
30%. Its figures, to the decimals published by the CRAN package ErlangC 0.1.0's README (2024-12-05,
https://CRAN.R-project.org/package=ErlangC) and the pyworkforce 0.5.2 tutorial
(https://pyworkforce.readthedocs.io/en/0.5.2/tutorials/erlangc_example.html):

    traffic 10 Erlangs; 11 agents: P(wait) 0.6821182, service level 0.3896138;
    14 agents (the answer): P(wait) 0.1741319, service level 0.88835, mean wait 7.83593701177724 s,
    occupancy 0.7142857; with 30% shrinkage, 20 positions.
"""

from __future__ import annotations

import dataclasses
import heapq
import json
import math
import re
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from scipy import stats

from planning.config import (
    SEFTON_CONTACTS_PER_REFERRAL,
    SEFTON_PEAK_DAY_FACTOR,
    CostSettings,
    FrontDoorSettings,
    SolverSettings,
    WorkforceSettings,
    load_scenario,
)
from planning.costing import cost_plan
from planning.data import read_arrivals_profile, read_referrals
from planning.errors import ConfigError, DataError, InfeasibleError
from planning.front_door import (
    WEEKS_PER_YEAR,
    Target,
    agents_needed,
    contacts_demand,
    default_profile,
    erlang_b,
    erlang_c,
    mean_wait_seconds,
    service_level,
    size_front_door,
)
from planning.pipeline import run_scenario
from planning.report import write_outputs
from planning.rounding import whole
from planning.studio import check_key, plan_metrics
from planning.workbook import cost_figures, csv_rows, role_costs, write_staffing
from planning.workforce import Rates, size_workforce

ROOT = Path(__file__).resolve().parents[1]
SEFTON = ROOT / "scenarios" / "sefton.yaml"


# --------------------------------------------------------------------------- published example


def test_erlang_c_matches_the_published_worked_example():
    traffic = 100 / 30 * 3  # 100 calls per 30 minutes x 3 minutes = 10 Erlangs
    assert traffic == pytest.approx(10)
    assert round(erlang_c(11, traffic), 7) == 0.6821182
    assert round(service_level(11, traffic, 180, 20), 7) == 0.3896138
    assert round(erlang_c(14, traffic), 7) == 0.1741319
    assert round(service_level(14, traffic, 180, 20), 5) == 0.88835
    assert mean_wait_seconds(14, traffic, 180) == pytest.approx(7.83593701177724, abs=1e-9)
    assert round(traffic / 14, 7) == 0.7142857
    assert agents_needed(traffic, 180, Target(0.8, 20, None, 0.85)) == 14
    assert math.ceil(14 / (1 - 0.3)) == 20  # the example's positions after 30% shrinkage


def test_the_published_example_through_the_front_door():
    """The same example as a one-hour front door: 200 calls, all by telephone, 3 minutes each;
    14 officers in the hour, 14 staff hours, 20 FTE of one paid hour after 30% shrinkage."""
    settings = FrontDoorSettings(
        weekly_contacts=200,
        days_per_week=1,
        opening_hours_per_day=1,
        channel_shares={"telephone": 1, "email": 0, "other": 0},
        call_handling_minutes=3,
        conversation_share=0,
        answered_within_share=0.8,
        answer_within_seconds=20,
        max_occupancy_share=0.85,
        shrinkage_share=0.3,
        fte_hours_per_week=1,
    )
    plan = size_front_door(settings, contacts_demand(settings), fte_step=1)
    hour = plan.intervals.iloc[0]
    assert hour["traffic_erlangs"] == pytest.approx(10)
    assert hour["phone_officers"] == 14
    assert round(hour["service_level"], 5) == 0.88835
    assert round(hour["probability_of_waiting"], 7) == 0.1741319
    assert round(hour["phone_occupancy"], 7) == 0.7142857
    assert plan.fte("contact_officer") == 20


# --------------------------------------------------------------------------- independent checks


def test_erlang_b_recursion_matches_scipy_poisson_for_large_and_small_systems():
    """Erlang B is P(X = N) / P(X <= N) for X ~ Poisson(A): scipy's Poisson, a different route,
    agrees to 1e-10 relative, also where factorials would overflow (N = 2,000)."""
    for agents, traffic in [(1, 0.5), (14, 10.0), (55, 48.0), (300, 280.5), (2000, 1950.0)]:
        expected = stats.poisson.pmf(agents, traffic) / stats.poisson.cdf(agents, traffic)
        assert erlang_b(agents, traffic) == pytest.approx(expected, rel=1e-10)
        c = erlang_c(agents, traffic)
        assert 0 < c < 1 and math.isfinite(mean_wait_seconds(agents, traffic, 180))


def simulate_mmc(calls_per_hour, aht_seconds, agents, n_calls, seed, within_seconds):
    """First-come first-served M/M/N by event times (numpy, fixed seed): the share of calls
    that wait, the share answered within ``within_seconds`` and the mean wait, after a warm-up
    of the first 5% of calls."""
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(3600.0 / calls_per_hour, n_calls))
    services = rng.exponential(aht_seconds, n_calls)
    free = [0.0] * agents
    waits = np.empty(n_calls)
    for i in range(n_calls):
        first = heapq.heappop(free)
        start = max(first, arrivals[i])
        waits[i] = start - arrivals[i]
        heapq.heappush(free, start + services[i])
    kept = waits[n_calls // 20 :]
    return float((kept > 0).mean()), float((kept <= within_seconds).mean()), float(kept.mean())


@pytest.mark.parametrize(
    ("calls_per_hour", "aht_seconds", "agents"),
    [(200, 180, 14), (6.09, 600, 3), (6.09, 600, 2)],  # the worked example; Sefton's busiest hour
)
def test_erlang_c_matches_a_seeded_simulation(calls_per_hour, aht_seconds, agents):
    """Tolerance: 0.01 on the shares and 5% on the mean wait, for 300,000 calls (with 200,000,
    seeds 0-3 strayed from Erlang C by at most 0.004 and 3.4%)."""
    traffic = calls_per_hour * aht_seconds / 3600
    waited, within, wait = simulate_mmc(calls_per_hour, aht_seconds, agents, 300_000, 2026, 20)
    assert waited == pytest.approx(erlang_c(agents, traffic), abs=0.01)
    assert within == pytest.approx(service_level(agents, traffic, aht_seconds, 20), abs=0.01)
    assert wait == pytest.approx(mean_wait_seconds(agents, traffic, aht_seconds), rel=0.05)


def test_agents_needed_is_the_fewest_meeting_every_target():
    for traffic in (0.3, 0.9, 4.2, 10.0, 37.5):
        for target in (Target(0.9, 20, None, 1.0), Target(None, 0, 5.0, 0.85)):
            n = agents_needed(traffic, 600, target)
            assert n > traffic and traffic / n <= target.max_occupancy_share + 1e-12

            def meets(k, t=target, traffic=traffic):
                sl_ok = t.answered_within_share is None or (
                    service_level(k, traffic, 600, t.answer_within_seconds)
                    >= t.answered_within_share
                )
                wait_ok = t.mean_wait_seconds is None or (
                    mean_wait_seconds(k, traffic, 600) <= t.mean_wait_seconds
                )
                return sl_ok and wait_ok and traffic / k <= t.max_occupancy_share

            assert meets(n) and not meets(n - 1)


# --------------------------------------------------------------------------- the staffing


def small_door(**extra) -> FrontDoorSettings:
    return FrontDoorSettings(weekly_contacts=326.3, **extra)


def test_staffing_per_hour_per_day_and_fte():
    settings = small_door()
    plan = size_front_door(settings, contacts_demand(settings), fte_step=0.5)
    hours = plan.intervals
    assert list(hours["hour"]) == [f"{h:02d}:00-{h + 1:02d}:00" for h in range(9, 17)]
    assert hours["contacts"].sum() == pytest.approx(326.3 / 5)
    assert hours["calls"].sum() == pytest.approx(326.3 / 5 * 0.56)
    assert hours["peak_calls"].sum() == pytest.approx(326.3 / 5 * 0.56 * 45 / 33)
    # the default profile peaks in the morning
    assert hours["contacts"].idxmax() == 1  # 10:00-11:00
    assert (hours["service_level"] >= 0.8 - 1e-12).all()
    assert (hours["phone_officers"] >= 1).all() and (hours["duty_social_workers"] >= 1).all()
    staff_hours = hours["contact_officers"].sum() * 5
    posts = plan.posts.set_index("role")
    assert posts.at["contact_officer", "staff_hours_per_week"] == pytest.approx(staff_hours)
    raw = staff_hours / (37 * 0.7)
    assert posts.at["contact_officer", "fte"] == math.ceil(raw / 0.5) * 0.5
    avg, peak = plan.day("average"), plan.day("peak")
    assert peak["service_level"] < avg["service_level"]
    assert peak["mean_wait_seconds"] > avg["mean_wait_seconds"]
    weights = hours["calls"] / hours["calls"].sum()
    assert avg["service_level"] == pytest.approx(float(weights @ hours["service_level"]))


def test_sizing_for_the_peak_day_meets_the_target_on_it():
    settings = small_door(size_for_day="peak")
    plan = size_front_door(settings, contacts_demand(settings))
    assert (plan.intervals["peak_service_level"] >= 0.8 - 1e-12).all()
    average = size_front_door(small_door(), contacts_demand(small_door()))
    assert plan.fte("contact_officer") >= average.fte("contact_officer")


def test_overloaded_peak_hours_are_reported_not_hidden():
    settings = FrontDoorSettings(
        weekly_contacts=2000,
        peak_day_factor=3,
        max_occupancy_share=1,
        answered_within_share=0.2,
        answer_within_seconds=0,
    )
    plan = size_front_door(settings, contacts_demand(settings))
    peak = plan.day("peak")
    assert peak["overloaded_hours"] > 0 and math.isinf(peak["mean_wait_seconds"])
    assert json.dumps(plan.summary(), allow_nan=False)  # inf is null in the manifest


def test_contacts_from_sefton_referrals(data_dir):
    referrals = read_referrals(data_dir, ["E08000014"])
    assert referrals.year == 2025
    assert referrals.table.at["E08000014", "referrals"] == 3764
    settings = FrontDoorSettings()
    demand = contacts_demand(settings, referrals.table, referrals.year)
    assert settings.contacts_per_referral == pytest.approx(979 / 193)
    assert demand.weekly_contacts == pytest.approx(3764 / WEEKS_PER_YEAR * 979 / 193)
    assert 360 < demand.weekly_contacts < 370  # against Sefton's own 315-337 a week
    assert pytest.approx(45 / 33) == SEFTON_PEAK_DAY_FACTOR
    assert round(SEFTON_CONTACTS_PER_REFERRAL, 4) == 5.0725


def test_arrivals_csv_is_used_and_checked(tmp_path):
    hours = list(range(9, 17))
    path = tmp_path / "arrivals.csv"
    path.write_text("hour,share\n" + "".join(f"{h},0.125\n" for h in hours))
    profile = read_arrivals_profile(path, hours)
    assert profile.tolist() == [0.125] * 8
    settings = small_door()
    plan = size_front_door(settings, contacts_demand(settings), profile, profile_source="csv")
    assert plan.intervals["contacts"].nunique() == 1

    path.write_text("hour,share\n" + "".join(f"{h},0.2\n" for h in hours[:5]))
    with pytest.raises(ConfigError, match=r"opening hour\(s\) with no share: 14:00, 15:00, 16:00"):
        read_arrivals_profile(path, hours)
    path.write_text("hour,share\n" + "".join(f"{h},0.1\n" for h in hours))
    with pytest.raises(ConfigError, match=r"shares must add up to 1; they add up to 0\.8"):
        read_arrivals_profile(path, hours)
    path.write_text("hour,share\n9,-0.1\n10,x\n")
    with pytest.raises(ConfigError, match="column share must be a number, at least 0"):
        read_arrivals_profile(path, hours)


def test_default_profile_adds_up_and_peaks_mid_morning():
    profile = default_profile(list(range(8, 20)))
    assert profile.sum() == pytest.approx(1)
    assert profile.idxmax() == 10


# --------------------------------------------------------------------------- bad input


def scenario_file(tmp_path: Path, front_door: str, costs: str = "") -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(f"name: t\ncouncils: [E08000014]\n{costs}front_door:\n{front_door}")
    return path


@pytest.mark.parametrize(
    ("front_door", "message"),
    [
        ("  weekly_contacts: 0\n", r"front_door\.weekly_contacts: Input should be greater than 0"),
        ("  weekly_contacts: -5\n", r"front_door\.weekly_contacts: Input should be greater than 0"),
        (
            "  call_handling_minutes: 0\n",
            r"front_door\.call_handling_minutes: Input should be greater than 0",
        ),
        (
            "  conversation_minutes: -1\n",
            r"front_door\.conversation_minutes: Input should be greater than 0",
        ),
        (
            "  channel_shares: {telephone: 0.6, email: 0.6, other: 0}\n",
            r"channel_shares: shares must add up to 1, these add up to 1\.2",
        ),
        (
            "  channel_shares: {telephone: 1}\n",
            r"give a share for every channel; missing email, other",
        ),
        ("  answered_within_share: null\n", "no service target"),
        ("  opens_at_hour: 20\n  opening_hours_per_day: 8\n", "runs past midnight"),
        ("  weekly_contact: 300\n", "did you mean 'weekly_contacts'"),
    ],
)
def test_bad_front_door_settings_are_named(tmp_path, front_door, message):
    with pytest.raises(ConfigError, match=message):
        load_scenario(scenario_file(tmp_path, front_door))


def test_front_door_roles_need_a_salary(tmp_path):
    salaries = "".join(
        f"    {r}: 30000\n"
        for r in (
            "family_practitioner",
            "social_worker",
            "lead_child_protection_practitioner",
            "senior_practitioner",
            "team_manager",
            "business_support",
        )
    )
    costs = "costs:\n  salary_gbp:\n" + salaries
    with pytest.raises(ConfigError, match="no salary for contact_officer, duty_social_worker"):
        load_scenario(scenario_file(tmp_path, "  weekly_contacts: 300\n", costs))
    # without a front door the teams' six salaries are enough
    path = tmp_path / "t.yaml"
    path.write_text("name: t\ncouncils: [E08000014]\n" + costs)
    load_scenario(path)


def test_unreachable_targets_say_what_would_be_reachable():
    with pytest.raises(InfeasibleError, match=r"answers every call within 20 s.*99% needs \d+"):
        settings = small_door(answered_within_share=1.0)
        size_front_door(settings, contacts_demand(settings))
    with pytest.raises(InfeasibleError, match=r"mean wait of 10 s needs \d+.*above 0"):
        settings = small_door(answered_within_share=None, mean_wait_seconds=0)
        size_front_door(settings, contacts_demand(settings))


def test_referrals_year_not_published_is_a_data_error(data_dir):
    with pytest.raises(DataError, match=r"referrals_year 2030.*years available: 2013-2025"):
        read_referrals(data_dir, ["E08000014"], 2030)
    with pytest.raises(DataError, match="E07000090: no row for 2025"):
        read_referrals(data_dir, ["E07000090"], 2025)


# --------------------------------------------------------------------------- cost and workbook


def _two_teams():
    areas = pd.DataFrame(
        {
            "area_code": ["a1", "b1"],
            "council_code": "E10000001",
            "residents": [40_000, 30_000],
            "children_0_17": [10_000, 5_000],
            "imd_decile": [3, 8],
        }
    )
    assignment = pd.Series({"a1": "A", "b1": "B"})
    rates = Rates.fixed({"E10000001": {"children_in_need": 340, "child_protection_plans": 40}})
    return size_workforce(areas, assignment, rates, WorkforceSettings())


SOLVER = SolverSettings(time_limit_seconds=10, relative_gap=0.0)


def test_front_door_is_costed_like_the_teams_and_comes_first_in_the_budget():
    posts = _two_teams()
    settings = small_door()
    door = size_front_door(settings, contacts_demand(settings))
    plain = cost_plan(posts, CostSettings(budget_sweep_points=0), SOLVER)
    costs = cost_plan(posts, CostSettings(budget_sweep_points=0), SOLVER, door)
    unit = costs.unit_costs.set_index("role")["unit_cost_gbp_per_fte"]
    # contact officers: £26,000 x 1.275 + £4,000 non-pay; duty social workers also carry agency
    assert unit["contact_officer"] == round(26_000 * 1.275 + 4_000)
    assert unit["duty_social_worker"] == round(42_000 * (1.275 + 0.162 * 0.17) + 4_000)
    assert unit["duty_social_worker"] == unit["social_worker"]
    expected = (
        door.fte("contact_officer") * unit["contact_officer"]
        + door.fte("duty_social_worker") * unit["duty_social_worker"]
    )
    assert costs.front_door_gbp == pytest.approx(expected)
    assert costs.total_gbp == pytest.approx(plain.total_gbp + expected)
    # over budget: the teams get what is left after the front door
    budget = plain.total_gbp  # covers the teams, not the front door too
    over = cost_plan(posts, CostSettings(budget_gbp=budget, budget_sweep_points=0), SOLVER, door)
    assert over.position == "over budget"
    assert over.shortfall_gbp == pytest.approx(expected)
    assert over.within_budget.cost_gbp <= budget - expected + 1e-6
    with pytest.raises(InfeasibleError, match="the front door's £"):
        cost_plan(posts, CostSettings(budget_gbp=expected, budget_sweep_points=0), SOLVER, door)


def _evaluate(wb, ws, value):
    """A formula's value: SUM or MAX over a same-sheet column range, or one cell of this sheet
    or another."""
    if not (isinstance(value, str) and value.startswith("=")):
        return value
    ref = re.fullmatch(r"=(?:'?([\w ]+)'?!)?([A-Z]+\d+)", value)
    if ref:
        sheet = ws if ref.group(1) is None else wb[ref.group(1)]
        return _evaluate(wb, sheet, sheet[ref.group(2)].value)
    match = re.fullmatch(r"=(SUM|MAX)\(([A-Z]+)(\d+):([A-Z]+)(\d+)\)", value)
    assert match, f"unexpected formula {value}"
    func, c1, r1, c2, r2 = match.groups()
    assert c1 == c2
    cells = [_evaluate(wb, ws, ws[f"{c1}{r}"].value) for r in range(int(r1), int(r2) + 1)]
    numbers = [float(v) for v in cells if v is not None]
    return sum(numbers) if func == "SUM" else max(numbers)


def _totals(wb, ws, first: str) -> dict[str, float]:
    """The evaluated 'Total' row of the table whose header row starts with ``first`` (the
    workbook's tables are stacked, with human headings): {heading: value}."""
    header = next(r[0].row for r in ws.iter_rows(min_col=1, max_col=1) if r[0].value == first)
    row = header + 1
    while ws.cell(row=row, column=1).value != "Total":
        row += 1
    names = [c.value for c in ws[header]]
    return {
        name: _evaluate(wb, ws, cell.value)
        for name, cell in zip(names, ws[row], strict=False)
        if name and isinstance(cell.value, str) and cell.value.startswith("=")
    }


def check_workbook(folder: Path) -> pd.DataFrame:
    """The workbook's front-door totals and the summary's totals recompute to staffing.csv's,
    in whole pounds, and readers that do not recalculate see the same values cached."""
    csv = pd.read_csv(folder / "staffing.csv")
    assert csv.cost_gbp.dtype.kind == "i"  # whole pounds, the front door's rows too
    door = csv[csv.team_id == "front door"]
    assert sorted(door.role) == ["contact officer", "duty social worker"]
    assert door.cases.isna().all()
    wb = openpyxl.load_workbook(folder / "staffing.xlsx")
    assert wb.sheetnames[:3] == ["summary", "teams", "front_door"]
    ws = wb["front_door"]
    posts = _totals(wb, ws, "Role")
    assert posts["FTE"] == pytest.approx(door.fte.sum())
    assert posts["Cost (£ a year)"] == door.cost_gbp.sum()
    hours = pd.read_csv(folder / "front_door.csv")
    per_hour = _totals(wb, ws, "Hour")
    assert per_hour["Contact officers"] == pytest.approx(hours.contact_officers.sum())
    assert per_hour["Calls"] == pytest.approx(hours.calls.sum())
    door_key = {r[0].value: r[1].value for r in ws.iter_rows(min_col=1, max_col=2)}
    assert _evaluate(wb, ws, door_key["Front door FTE"]) == pytest.approx(door.fte.sum())
    assert _evaluate(wb, ws, door_key["Front door cost (£ a year)"]) == door.cost_gbp.sum()
    summary = wb["summary"]
    teams = _totals(wb, summary, "Team")
    assert teams["Cost (£ a year)"] == csv.cost_gbp.sum()  # the Total row
    assert teams["Total FTE"] == pytest.approx(csv.fte.sum())
    assert _totals(wb, summary, "Role")["Cost (£ a year)"] == csv.cost_gbp.sum()
    key = {r[0].value: r[1].value for r in summary.iter_rows(min_col=1, max_col=2)}
    assert _evaluate(wb, summary, key["Total cost (£ a year)"]) == csv.cost_gbp.sum()
    assert _evaluate(wb, summary, key["Front door cost (£ a year)"]) == door.cost_gbp.sum()
    # every formula's value is cached beside it, for readers that do not recalculate
    cached = openpyxl.load_workbook(folder / "staffing.xlsx", data_only=True)
    for sheet in ("summary", "front_door"):
        for row in wb[sheet].iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    seen = cached[sheet][cell.coordinate].value
                    assert seen == pytest.approx(_evaluate(wb, wb[sheet], cell.value)), (
                        sheet,
                        cell.coordinate,
                    )
    return csv


def test_workbook_front_door_totals_recompute(tmp_path):
    posts = _two_teams()
    settings = small_door()
    door = size_front_door(settings, contacts_demand(settings))
    costs = cost_plan(posts, CostSettings(budget_sweep_points=2), SOLVER, door)
    written = write_staffing(tmp_path, posts, costs, "Two teams", {"seed": 0}, door)
    assert "front_door.csv" in written
    csv = check_workbook(tmp_path)
    assert csv.cost_gbp.sum() == pytest.approx(costs.total_gbp)
    shown = cost_figures(costs)
    assert csv.cost_gbp.sum() == shown["total_cost_gbp"] == whole(costs.total_gbp)
    door_rows = csv[csv.team_id == "front door"]
    assert shown["front_door_cost_gbp"] == door_rows.cost_gbp.sum()
    assert shown["teams_cost_gbp"] + shown["front_door_cost_gbp"] == shown["total_cost_gbp"]


def test_front_door_pounds_make_the_whole_pound_total_with_the_teams():
    """Fractional front-door pounds are rounded by largest remainder to the plan's whole-pound
    total less the teams', so staffing.csv, the roles and the headline agree to the pound."""
    posts = _two_teams()
    settings = small_door()
    door = size_front_door(settings, contacts_demand(settings))
    costs = cost_plan(posts, CostSettings(budget_sweep_points=0), SOLVER, door)
    frame = costs.front_door.copy()
    frame["cost_gbp"] = frame["cost_gbp"] + [0.4, 0.3]  # pounds that do not round alike
    exact = float(costs.table["cost_gbp"].sum() + frame["cost_gbp"].sum())
    odd = dataclasses.replace(costs, front_door=frame, total_gbp=exact)
    rows = csv_rows(odd)
    assert rows.cost_gbp.dtype.kind == "i"
    shown = cost_figures(odd)
    assert rows.cost_gbp.sum() == shown["total_cost_gbp"] == whole(exact)
    door_rows = rows[rows.team_id == "front door"]
    assert np.abs(door_rows.cost_gbp.to_numpy() - frame["cost_gbp"].to_numpy()).max() < 1
    assert shown["front_door_cost_gbp"] == door_rows.cost_gbp.sum()
    roles = role_costs(odd).set_index("role")
    assert list(roles.index[-2:]) == ["contact officer", "duty social worker"]
    assert roles.cost_gbp.sum() == shown["total_cost_gbp"]


# --------------------------------------------------------------------------- Sefton end to end


@pytest.fixture(scope="module")
def sefton_run(tmp_path_factory, data_dir):
    """Sefton's shipped scenario run and written as `planning run` does, with a 15 s allocation
    limit (the front door does not depend on the patches): the Result and the run folder."""
    folder = tmp_path_factory.mktemp("sefton")
    scenario = folder / "sefton_quick.yaml"
    scenario.write_text(
        f"extends: {SEFTON}\nsolver: {{time_limit_seconds: 15}}\n"
        "costs: {budget_sweep_points: 2}\n"
    )
    out = folder / "run"
    result = run_scenario(scenario, data_dir)
    write_outputs(result, out)
    return result, out


@pytest.mark.slow
def test_sefton_writes_front_door_staffing_and_cost(sefton_run):
    _, sefton_run = sefton_run
    csv = check_workbook(sefton_run)
    door = csv[csv.team_id == "front door"].set_index("role")
    # 326.3 contacts a week, 90% of calls within 20 s: 6.5 contact officer, 3 duty social
    # worker FTE (README, "Front door")
    assert door.at["contact officer", "fte"] == 6.5
    assert door.at["duty social worker", "fte"] == 3.0
    manifest = json.loads((sefton_run / "manifest.json").read_text())
    front = manifest["front_door"]
    assert front["weekly_contacts"] == 326.3
    assert front["target"] == "90% of calls answered within 20 s"
    average = next(d for d in front["days"] if d["day"] == "average")
    peak = next(d for d in front["days"] if d["day"] == "peak")
    assert average["service_level"] >= 0.9 and peak["service_level"] < average["service_level"]
    assert average["mean_wait_seconds"] > 1  # Sefton reports under one second: more staff
    staffing = manifest["staffing"]
    assert staffing["front_door_cost_gbp"] == pytest.approx(door.cost_gbp.sum())
    assert staffing["total_cost_gbp"] == pytest.approx(csv.cost_gbp.sum())
    page = (sefton_run / "report.html").read_text(encoding="utf-8")
    assert "Front door</h2>" in page and 'id="front-door"' in page
    assert "6.5 contact officer FTE" in page


@pytest.mark.slow
def test_sefton_front_door_in_the_studio_metrics(sefton_run):
    result, _ = sefton_run
    metrics = {m: v for section, m, v in plan_metrics(result) if section == "front_door"}
    assert metrics["front_door_contact_officer_fte"] == 6.5
    assert metrics["front_door_duty_social_worker_fte"] == 3.0
    assert metrics["front_door_cost_gbp"] == round(result.costs.front_door_gbp)
    check_key("front_door.answered_within_share")
    with pytest.raises(ConfigError, match="did you mean 'mean_wait_seconds'"):
        check_key("front_door.mean_wait_second")
