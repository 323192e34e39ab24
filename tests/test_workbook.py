"""staffing.csv / staffing.xlsx / budget_curve.png: formulas recompute to the CSV's totals."""

from __future__ import annotations

import openpyxl
import pandas as pd
import pytest

from planning.config import CostSettings, SolverSettings, WorkforceSettings
from planning.costing import cost_plan
from planning.rounding import largest_remainder, nested_whole, whole
from planning.workbook import cost_figures, write_staffing
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


def header_row(ws, first: str = "Team") -> int:
    """The row of the first table header on a sheet whose first cell is ``first``."""
    for row in ws.iter_rows(min_col=1, max_col=1):
        if row[0].value == first:
            return row[0].row
    raise AssertionError(f"no {first!r} header in {ws.title}")


def totals_read_back(ws, header: int) -> dict[str, float]:
    """The 'Total' row under the table whose header is at row ``header``, as a reader without
    recalculation sees it (the workbook opened with data_only=True): {heading: value}."""
    names = [c.value for c in ws[header]]
    row = header + 1
    while ws.cell(row=row, column=1).value != "Total":
        row += 1
    values = [c.value for c in ws[row]]
    return {n: v for n, v in zip(names, values, strict=False) if n and v is not None}


def test_totals_are_cached_so_readers_without_recalculation_see_them(plan, tmp_path):
    posts, costs = plan
    written = write_staffing(
        tmp_path, posts, costs, "Three teams", {"scenario": "Three teams", "allocation gap": 0.012}
    )
    assert sorted(written) == ["budget_curve.png", "staffing.csv", "staffing.xlsx"]
    csv = pd.read_csv(tmp_path / "staffing.csv")
    assert list(csv.columns) == ["team_id", "role", "fte", "cases", "caseload_per_fte", "cost_gbp"]
    assert csv.cost_gbp.dtype.kind == "i"  # whole pounds, adding up to the shown total
    shown = cost_figures(costs)
    assert csv.cost_gbp.sum() == shown["total_cost_gbp"] == whole(costs.total_gbp)
    assert (csv.cost_gbp - costs.table.cost_gbp.to_numpy()).abs().max() < 1

    formulas = openpyxl.load_workbook(tmp_path / "staffing.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "staffing.xlsx", data_only=True)
    assert wb.sheetnames[:4] == ["summary", "teams", "assumptions", "run_info"]
    assert {"within_budget", "budget_curve"} <= set(wb.sheetnames)
    teams = totals_read_back(wb["teams"], 1)
    assert teams["FTE"] == pytest.approx(csv.fte.sum(), abs=1e-9)
    assert teams["Cases"] == pytest.approx(csv.cases.sum(), abs=1e-9)
    assert teams["Cost (£ a year)"] == csv.cost_gbp.sum()
    # the same cells still hold their formulas, for Excel and LibreOffice to recalculate
    last = formulas["teams"].max_row
    assert str(formulas["teams"].cell(row=last, column=9).value).startswith("=SUM(I2:I")

    summary = wb["summary"]
    key = {r[0]: r[1] for r in summary.iter_rows(min_row=4, max_col=2, values_only=True) if r[0]}
    assert key["Total cost (£ a year)"] == csv.cost_gbp.sum()
    assert key["Budget (£ a year)"] == 1_500_000
    assert key["Shortfall (£)"] == csv.cost_gbp.sum() - 1_500_000
    assert key["Budget position"] == "over budget"
    assert key["Rates year"] == 2025 and summary["B6"].number_format == "0"
    roles = totals_read_back(summary, header_row(summary, "Role"))
    assert roles["Cost (£ a year)"] == csv.cost_gbp.sum()
    per_team = totals_read_back(summary, header_row(summary, "Team"))
    assert per_team["Cost (£ a year)"] == csv.cost_gbp.sum()
    assert per_team["Total FTE"] == pytest.approx(csv.fte.sum())
    # per-team costs shown are the sums of the rows, and add up to the total shown
    team_rows = pd.read_excel(
        tmp_path / "staffing.xlsx", sheet_name="summary", header=header_row(summary) - 1
    )
    team_rows = team_rows[team_rows.Team != "Total"]
    assert team_rows["Cost (£ a year)"].sum() == csv.cost_gbp.sum()
    assert team_rows.set_index("Team")["Cost (£ a year)"].to_dict() == (
        csv.groupby("team_id").cost_gbp.sum().to_dict()
    )
    # stacked, not side by side: nothing right of the team table's columns
    assert summary.max_column == 9
    fit = totals_read_back(wb["within_budget"], 1)
    assert fit["Cost (£ a year)"] == whole(costs.within_budget.cost_gbp) <= 1_500_000
    assert key["Within budget: cost (£ a year)"] == fit["Cost (£ a year)"]

    run_info = [r for r in wb["run_info"].iter_rows(min_row=2, values_only=True)]
    assert [r[0] for r in run_info].count("scenario") == 1
    gap_row = next(i for i, r in enumerate(run_info, start=2) if r[0] == "allocation gap")
    assert wb["run_info"].cell(row=gap_row, column=2).number_format == "0.00%"

    for ws in wb.worksheets:
        headers = [c.value for c in ws[1 if ws.title != "summary" else header_row(ws)]]
        assert not [h for h in headers if h and "_" in h], ws.title  # human headings
        assert not ws.merged_cells.ranges, ws.title
        assert int(ws.page_setup.paperSize) == 9, ws.title  # A4
        assert ws.page_setup.fitToWidth == 1 and ws.sheet_properties.pageSetUpPr.fitToPage
        if ws.title != "summary":
            assert ws.freeze_panes == "A2", ws.title
            assert ws.print_title_rows == "$1:$1", ws.title
    assert wb["teams"].page_setup.orientation == "landscape"
    assert wb["run_info"].page_setup.orientation == "portrait"
    header = [c.value for c in wb["teams"][1]]
    cost_cell = wb["teams"].cell(row=2, column=header.index("Cost (£ a year)") + 1)
    assert "£" in cost_cell.number_format


def test_largest_remainder_keeps_the_total():
    parts = [20_487.5, 20_487.5, 20_487.5, 0.4, 0.1]
    rounded = largest_remainder(parts)
    assert rounded.sum() == whole(sum(parts)) == 61_463
    assert all(abs(r - p) < 1 for r, p in zip(rounded, parts, strict=True))
    assert rounded.tolist() == [20_488, 20_488, 20_487, 0, 0]  # ties to the earlier part
    assert whole(2.5) == 3 and whole(-2.5) == -3 and whole(0.1 + 0.2 + 0.2) == 1
    # nested: parts add to whole group totals, which add to the whole grand total
    values = [0.6, 0.6, 0.6, 0.4, 0.4, 0.4]
    groups = ["a", "a", "a", "b", "b", "b"]
    out = nested_whole(values, groups)
    assert out.sum() == 3 and out[:3].sum() in (1, 2) and out[3:].sum() in (1, 2)
    assert out[:3].sum() == 2  # 1.8 rounds to 2 by largest remainder, 1.2 to 1


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
