"""staffing.csv / staffing.xlsx / budget_curve.png: formulas recompute to the CSV's totals."""

from __future__ import annotations

import re

import openpyxl
import pandas as pd
import pytest

from planning.config import CostSettings, SolverSettings, WorkforceSettings
from planning.costing import cost_plan
from planning.workbook import write_staffing
from planning.workforce import Rates, size_workforce

SOLVER = SolverSettings(time_limit_seconds=10, relative_gap=0.0)


@pytest.fixture(scope="module")
def plan():
    """Three teams (A, B, C) with default roles and costs, over a budget of £1.5m."""
    areas = pd.DataFrame(
        {
            "area_code": ["a1", "a2", "b1", "c1"],
            "council_code": "E10000001",
            "residents": [24_000, 16_000, 20_000, 2_000],
            "children_0_17": [6_000, 4_000, 5_000, 500],
            "imd_decile": [1, 4, 7, 10],
        }
    )
    assignment = pd.Series({"a1": "A", "a2": "A", "b1": "B", "c1": "C"})
    rates = Rates.fixed({"E10000001": {"children_in_need": 340, "child_protection_plans": 40}})
    posts = size_workforce(areas, assignment, rates, WorkforceSettings())
    costs = cost_plan(posts, CostSettings(budget_gbp=1_500_000, budget_sweep_points=3), SOLVER)
    return posts, costs


def evaluate(ws, value):
    """The value of a cell's formula: SUM or MAX over a same-sheet range, or a plain value."""
    if not (isinstance(value, str) and value.startswith("=")):
        return value
    match = re.fullmatch(r"=(SUM|MAX)\(([A-Z]+)(\d+):([A-Z]+)(\d+)\)", value)
    assert match, f"unexpected formula {value}"
    func, c1, r1, c2, r2 = match.groups()
    assert c1 == c2
    cells = [ws[f"{c1}{r}"].value for r in range(int(r1), int(r2) + 1)]
    numbers = [float(v) for v in cells if v is not None]
    return sum(numbers) if func == "SUM" else max(numbers)


def total_row(ws) -> dict[str, float]:
    """Every formula cell on a sheet, evaluated, keyed by its column's header."""
    totals = {}
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                header = ws.cell(row=1, column=cell.column).value
                totals[header] = evaluate(ws, cell.value)
    assert totals, f"no formulas in {ws.title}"
    return totals


def test_workbook_formulas_recompute_to_csv_totals(plan, tmp_path):
    posts, costs = plan
    written = write_staffing(tmp_path, posts, costs, "Three teams", {"seed": 0})
    assert sorted(written) == ["budget_curve.png", "staffing.csv", "staffing.xlsx"]
    csv = pd.read_csv(tmp_path / "staffing.csv")
    assert list(csv.columns) == ["team_id", "role", "fte", "cases", "caseload_per_fte", "cost_gbp"]
    assert csv.cost_gbp.sum() == costs.total_gbp

    wb = openpyxl.load_workbook(tmp_path / "staffing.xlsx")
    assert wb.sheetnames[:4] == ["summary", "teams", "assumptions", "run_info"]
    assert {"within_budget", "budget_curve"} <= set(wb.sheetnames)
    teams = total_row(wb["teams"])
    for col in ("fte", "cases", "cost_gbp"):
        assert teams[col] == pytest.approx(csv[col].sum(), abs=1e-6), col
    summary = total_row(wb["summary"])
    assert summary["cost_gbp"] == pytest.approx(csv.cost_gbp.sum(), abs=1e-6)
    assert summary["total_fte"] == pytest.approx(csv.fte.sum(), abs=1e-6)
    assert summary["role_cost_gbp"] == pytest.approx(csv.cost_gbp.sum(), abs=1e-6)
    block = {r[0].value: r[1] for r in wb["summary"].iter_rows(min_col=15, max_col=16)}
    assert evaluate(wb["summary"], block["total_cost_gbp"].value) == pytest.approx(
        csv.cost_gbp.sum()
    )
    assert block["budget_position"].value == "over budget"
    assert block["shortfall_gbp"].value == pytest.approx(costs.total_gbp - 1_500_000)
    fit = total_row(wb["within_budget"])
    assert fit["cost_gbp"] == pytest.approx(costs.within_budget.cost_gbp)
    assert fit["cost_gbp"] <= 1_500_000

    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2", ws.title
        assert not ws.merged_cells.ranges, ws.title
    header = [c.value for c in wb["teams"][1]]
    cost_cell = wb["teams"].cell(row=2, column=header.index("cost_gbp") + 1)
    assert "£" in cost_cell.number_format


def test_outputs_are_byte_stable(plan, tmp_path):
    posts, costs = plan
    first = write_staffing(tmp_path / "one", posts, costs, "Three teams", {"seed": 0})
    second = write_staffing(tmp_path / "two", posts, costs, "Three teams", {"seed": 0})
    for name in first:
        assert first[name].read_bytes() == second[name].read_bytes(), name


def test_no_partial_outputs_when_writing_fails(plan, tmp_path, monkeypatch):
    posts, costs = plan

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("planning.workbook.budget_figure", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        write_staffing(tmp_path, posts, costs, "Three teams", {})
    assert list(tmp_path.iterdir()) == []
