"""Staffing outputs for finance: staffing.csv, staffing.xlsx and budget_curve.png.

The CSV and the workbook's ``teams`` sheet hold the same rows (sorted by team, then role) with the
same rounded figures, so the workbook's SUM formulas recompute to the CSV's totals; with a front
door, the CSV's two ``front door`` rows are the ``front_door`` sheet's posts, and the summary
reads that sheet's totals by formula. Money is in whole pounds by one rule (``planning.rounding``):
the rows add up to the headline total, front door included. Outputs are
byte-stable for the same inputs: fixed workbook dates, fixed zip entry times, no PNG timestamp.
Files are written to a temporary folder and moved into place only when all are written.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import math
import os
import re
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from planning import front_door as fd
from planning.costing import Costs
from planning.front_door import FrontDoorPlan
from planning.rounding import largest_remainder, whole
from planning.workforce import POST_COLUMNS, ROLE_NAMES, Posts

log = logging.getLogger(__name__)

CSV_COLUMNS = ["team_id", "role", "fte", "cases", "caseload_per_fte", "cost_gbp"]
#: Display names of every role, the teams' and the front door's.
ALL_ROLE_NAMES = {**ROLE_NAMES, **fd.ROLE_NAMES}
FIXED_TIME = dt.datetime(2000, 1, 1)
GBP = '"£"#,##0'
PERCENT = "0.00%"
FORMATS = {
    "gbp": GBP,
    "fte": "0.0",
    "cases": "#,##0.0",
    "caseload": "0.00",
    "pressure": "0.00",
    "count": "#,##0",
    "rate": "0.0",
    "share": "0.000",
}
#: Column headings as a reader sees them; a column not listed gets its name in words.
HEADINGS = {
    "team_id": "Team",
    "role": "Role",
    "fte": "FTE",
    "cases": "Cases",
    "caseload_per_fte": "Caseload per FTE",
    "target_caseload": "Target caseload per FTE",
    "caseload_pressure": "Caseload pressure (caseload / target)",
    "unit_cost_gbp": "Cost per FTE (£ a year)",
    "cost_gbp": "Cost (£ a year)",
    "areas": "Areas",
    "children_0_17": "Children 0-17",
    "family_help_cases": "Family Help cases",
    "child_protection_cases": "Child protection cases",
    "case_holding_fte": "Case-holding FTE",
    "total_fte": "Total FTE",
    "worst_caseload_pressure": "Worst caseload pressure",
    "budget_gbp": "Budget (£ a year)",
    "worst_caseload_per_fte": "Worst caseload per FTE",
    "worst_role": "Role with the worst pressure",
    "pressure_bound": "Pressure bound (best possible)",
    "status": "Solver status",
    "gap": "Gap",
    "section": "Section",
    "setting": "Setting",
    "value": "Value",
    "item": "Item",
    # the front_door sheet
    "hour": "Hour",
    "traffic_erlangs": "Traffic (Erlangs)",
    "peak_traffic_erlangs": "Peak traffic (Erlangs)",
    "mean_wait_seconds": "Mean wait (s)",
    "peak_mean_wait_seconds": "Peak mean wait (s)",
    "staff_hours_per_week": "Staff hours a week",
    "fte_before_rounding": "FTE before rounding",
    "most_on_duty": "Most on duty",
}
#: Sheets with more columns than this print landscape.
PORTRAIT_COLUMNS = 5


def heading(name: str) -> str:
    """A column name for readers: cost_gbp -> 'Cost (£ a year)', children_0_19 -> 'Children
    0-19'."""
    if name in HEADINGS:
        return HEADINGS[name]
    text = re.sub(r"(\d+)_(\d+)", r"\1-\2", name)
    text = re.sub(r"_gbp$", " (£)", text).replace("_", " ")
    return text[:1].upper() + text[1:]


def staffing_rows(table: pd.DataFrame, total: int | None = None) -> pd.DataFrame:
    """Rows of staffing.csv (and the workbook's teams sheet): display role names, rounded.

    Costs are whole pounds by largest remainder, so the rows add up exactly to the plan's total
    in whole pounds (``rounding.whole`` of the exact total, or ``total``), the same figure the
    report shows.
    """
    out = table.copy()
    out["role"] = out["role"].map(ROLE_NAMES).fillna(out["role"])
    out["fte"] = out["fte"].astype(float)
    out["cases"] = out["cases"].astype(float).round(1)
    out["caseload_per_fte"] = out["caseload_per_fte"].astype(float).round(2)
    out["target_caseload"] = out["target_caseload"].astype(float).round(2)
    out["caseload_pressure"] = out["caseload_pressure"].astype(float).round(3)
    if "cost_gbp" in out:
        out["cost_gbp"] = largest_remainder(out["cost_gbp"].to_numpy(float), total)
    if "unit_cost_gbp" in out:
        out["unit_cost_gbp"] = [whole(v) for v in out["unit_cost_gbp"]]
    return out.reset_index(drop=True)


def front_door_costs(costs: Costs) -> pd.DataFrame | None:
    """The front door's posts (``Costs.front_door``) with whole-pound unit costs and costs, or
    None without a front door.

    The teams' rows add up to the teams' total in whole pounds; the front door's rows are
    rounded by largest remainder to the rest of the plan's whole-pound total (``whole`` of the
    exact total, front door included), so the teams and the front door together add up to the
    headline figure.
    """
    door = costs.front_door
    if door is None:
        return None
    teams = int(staffing_rows(costs.table)["cost_gbp"].sum())
    out = door.copy()
    out["cost_gbp"] = largest_remainder(
        door["cost_gbp"].to_numpy(float), whole(costs.total_gbp) - teams
    )
    out["unit_cost_gbp"] = [whole(v) for v in door["unit_cost_gbp"]]
    return out.reset_index(drop=True)


def front_door_rows(costs: Costs) -> pd.DataFrame:
    """staffing.csv's rows for the front door's posts (team_id 'front door'; no cases), in
    whole pounds (``front_door_costs``)."""
    door = front_door_costs(costs)
    if door is None:
        return pd.DataFrame(columns=CSV_COLUMNS)
    return pd.DataFrame(
        {
            "team_id": fd.FRONT_DOOR_ID,
            "role": door["role"].map(ALL_ROLE_NAMES).to_numpy(),
            "fte": door["fte"].astype(float).to_numpy(),
            "cases": np.nan,
            "caseload_per_fte": np.nan,
            "cost_gbp": door["cost_gbp"].astype("int64").to_numpy(),
        }
    )


def csv_rows(costs: Costs) -> pd.DataFrame:
    """Every row of staffing.csv: the teams' posts, then the front door's. Their whole-pound
    costs add up to the plan's total, front door included, in whole pounds."""
    rows = staffing_rows(costs.table)[CSV_COLUMNS]
    if costs.front_door is None:
        return rows
    return pd.concat([rows, front_door_rows(costs)], ignore_index=True)


def team_costs(table: pd.DataFrame) -> pd.Series:
    """Whole-pound cost per team: the sum of its rounded rows (adds up to the shown total)."""
    return staffing_rows(table).groupby("team_id")["cost_gbp"].sum()


def role_costs(costs: Costs) -> pd.DataFrame:
    """FTE and whole-pound cost per role (display names, plan order: the teams' roles, then the
    front door's), from the rounded rows of staffing.csv."""
    rows = csv_rows(costs)
    sums = rows.groupby("role", sort=False)[["fte", "cost_gbp"]].sum()
    order = [ALL_ROLE_NAMES.get(r, r) for r in costs.by_role["role"]]
    return sums.reindex(order).rename_axis("role").reset_index()


def cost_figures(costs: Costs) -> dict[str, Any]:
    """The headline money figures in whole pounds, each derived the same way everywhere.

    The total is the sum of staffing.csv's rounded rows, front door included (``whole`` of the
    exact total); with a front door, ``teams_cost_gbp`` and ``front_door_cost_gbp`` are its
    two parts. Headroom and shortfall are differences of the shown (rounded) budget and total, so
    the three figures a reader sees always add up.
    """
    rows = csv_rows(costs)
    total = int(rows["cost_gbp"].sum())
    budget = None if costs.budget_gbp is None else whole(costs.budget_gbp)
    fit = costs.within_budget
    fit_cost = None if fit is None else int(staffing_rows(fit.table)["cost_gbp"].sum())
    parts: dict[str, Any] = {}
    if costs.front_door is not None:
        door = int(rows.loc[rows["team_id"] == fd.FRONT_DOOR_ID, "cost_gbp"].sum())
        parts = {"teams_cost_gbp": total - door, "front_door_cost_gbp": door}
    return {
        "total_cost_gbp": total,
        **parts,
        "budget_gbp": budget,
        "budget_position": costs.position,
        "headroom_gbp": None if costs.headroom_gbp is None or budget is None else budget - total,
        "shortfall_gbp": None if costs.shortfall_gbp is None or budget is None else total - budget,
        "minimum_staffable_cost_gbp": whole(costs.minimum_gbp),
        "within_budget_cost_gbp": fit_cost,
    }


# --------------------------------------------------------------------------- sheets


def _cell_value(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _table(
    ws: Worksheet,
    frame: pd.DataFrame,
    formats: dict[str, str],
    *,
    row: int = 1,
    title: str | None = None,
    totals: dict[str, str] | None = None,
    widths: dict[str, float] | None = None,
) -> tuple[int, int]:
    """Write an optional bold title, a header of human headings and rows from ``row``; then a
    'Total' row with formulas (``totals``: column -> SUM or MAX). Returns the header row's
    number and the total row's (or the last row's)."""
    bold = Font(bold=True)
    if title:
        ws.cell(row=row, column=1, value=title).font = Font(bold=True, size=12)
        row += 1
    header = row
    for j, name in enumerate(frame.columns, start=1):
        text = heading(str(name))
        ws.cell(row=header, column=j, value=text).font = bold
        letter = get_column_letter(j)
        width = (widths or {}).get(name, min(max(10.0, len(text) + 2.0), 30.0))
        ws.column_dimensions[letter].width = max(ws.column_dimensions[letter].width or 0, width)
    for i, values in enumerate(frame.itertuples(index=False), start=header + 1):
        for j, name in enumerate(frame.columns):
            cell = ws.cell(row=i, column=1 + j, value=_cell_value(values[j]))
            if name in formats:
                cell.number_format = formats[name]
    last = header + len(frame)
    if not totals:
        return header, last
    total_row = last + 1
    ws.cell(row=total_row, column=1, value="Total").font = bold
    for j, name in enumerate(frame.columns, start=1):
        if name in totals:
            letter = get_column_letter(j)
            cell = ws.cell(
                row=total_row,
                column=j,
                value=f"={totals[name]}({letter}{header + 1}:{letter}{last})",
            )
            cell.font = bold
            if name in formats:
                cell.number_format = formats[name]
    return header, total_row


def _print_setup(ws: Worksheet, header_row: int | None = 1) -> None:
    """A4, fitted to the page width, landscape when wide; header row repeated on every page."""
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    wide = (ws.max_column or 1) > PORTRAIT_COLUMNS
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE if wide else ws.ORIENTATION_PORTRAIT
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.gridLines = False
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.page_margins.top = ws.page_margins.bottom = 0.6
    if header_row is not None:
        ws.print_title_rows = f"{header_row}:{header_row}"
    ws.oddFooter.center.text = "&A: page &P of &N"


def _post_formats() -> dict[str, str]:
    return {
        "fte": FORMATS["fte"],
        "cases": FORMATS["cases"],
        "caseload_per_fte": FORMATS["caseload"],
        "target_caseload": FORMATS["caseload"],
        "caseload_pressure": FORMATS["pressure"],
        "unit_cost_gbp": GBP,
        "cost_gbp": GBP,
    }


POST_SHEET_COLUMNS = [*POST_COLUMNS, "unit_cost_gbp", "cost_gbp"]


def _posts_sheet(ws: Worksheet, table: pd.DataFrame) -> None:
    rows = staffing_rows(table)[POST_SHEET_COLUMNS]
    _table(
        ws,
        rows,
        _post_formats(),
        totals={"fte": "SUM", "cases": "SUM", "cost_gbp": "SUM"},
        widths={"role": 34.0, "team_id": 10.0},
    )
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(rows.columns))}{len(rows) + 1}"
    _print_setup(ws)


def _summary_sheet(
    ws: Worksheet,
    posts: Posts,
    costs: Costs,
    scenario_name: str,
    door_totals: dict[str, str] | None = None,
) -> None:
    """Key figures, then cost by role, then one row per team: stacked, one table under another.

    With a front door, the team table ends with a 'front door' row whose FTE and cost are
    formulas reading the front_door sheet's totals (``door_totals``), and the key figures give
    its cost by the same reference, so the totals still recompute to staffing.csv's."""
    rows = staffing_rows(costs.table)
    teams = posts.teams.set_index("team_id")
    per_team = pd.DataFrame(
        {
            "team_id": teams.index,
            "areas": teams["areas"].to_numpy(),
            "children_0_17": teams["children_0_17"].round(0).to_numpy(),
            "family_help_cases": teams["family_help_cases"].round(1).to_numpy(),
            "child_protection_cases": teams["child_protection_cases"].round(1).to_numpy(),
            "case_holding_fte": teams["case_holding_fte"].to_numpy(),
            "total_fte": rows.groupby("team_id")["fte"].sum().reindex(teams.index).to_numpy(),
            "cost_gbp": rows.groupby("team_id")["cost_gbp"].sum().reindex(teams.index).to_numpy(),
            "worst_caseload_pressure": teams["worst_caseload_pressure"].round(3).to_numpy(),
        }
    )
    if door_totals:
        door_row = pd.DataFrame([{"team_id": fd.FRONT_DOOR_ID}], columns=per_team.columns)
        per_team = pd.concat([per_team.astype(object), door_row.astype(object)], ignore_index=True)
    team_formats = {
        "children_0_17": FORMATS["count"],
        "family_help_cases": FORMATS["cases"],
        "child_protection_cases": FORMATS["cases"],
        "case_holding_fte": FORMATS["fte"],
        "total_fte": FORMATS["fte"],
        "cost_gbp": GBP,
        "worst_caseload_pressure": FORMATS["pressure"],
    }
    by_role = role_costs(costs)
    figures = cost_figures(costs)
    fit = costs.within_budget
    ws.cell(row=1, column=1, value=f"Staffing: {scenario_name}").font = Font(bold=True, size=14)

    block: list[tuple[str, Any, str | None]] = [
        ("Scenario", scenario_name, None),
        ("Rates year", posts.rates.year, "0"),
        ("Total cost (£ a year)", None, GBP),  # a formula: the team table's total, below
        ("Budget (£ a year)", figures["budget_gbp"], GBP),
        ("Budget position", costs.position, None),
        ("Headroom (£)", figures["headroom_gbp"], GBP),
        ("Shortfall (£)", figures["shortfall_gbp"], GBP),
        ("Minimum staffable cost (£ a year)", figures["minimum_staffable_cost_gbp"], GBP),
    ]
    if door_totals:  # a formula: the front_door sheet's cost total
        block.append(("Front door cost (£ a year)", f"={door_totals['cost_gbp']}", GBP))
    block += [
        (
            # the teams' posts the budget buys (the within_budget sheet), after the front door
            "Within budget: teams' cost (£ a year)"
            if door_totals
            else "Within budget: cost (£ a year)",
            figures["within_budget_cost_gbp"],
            GBP,
        ),
        ("Within budget: FTE", float(fit.table["fte"].sum()) if fit else None, FORMATS["fte"]),
        (
            "Within budget: worst caseload pressure",
            round(fit.worst_caseload_pressure, 3) if fit else None,
            FORMATS["pressure"],
        ),
    ]
    key = pd.DataFrame([(k, v) for k, v, _ in block], columns=["item", "value"])
    header, last = _table(ws, key, {}, row=3, title="Key figures")
    for i, (_, _, fmt) in enumerate(block, start=header + 1):
        ws.cell(row=i, column=2).alignment = Alignment(horizontal="right")
        if fmt:
            ws.cell(row=i, column=2).number_format = fmt
    _, role_total = _table(
        ws,
        by_role,
        {"fte": FORMATS["fte"], "cost_gbp": GBP},
        row=last + 2,
        title="FTE and cost by role",
        totals={"fte": "SUM", "cost_gbp": "SUM"},
    )
    sums = {
        c: "SUM"
        for c in [
            "areas",
            "children_0_17",
            "family_help_cases",
            "child_protection_cases",
            "case_holding_fte",
            "total_fte",
            "cost_gbp",
        ]
    }
    _, team_total = _table(
        ws,
        per_team,
        team_formats,
        row=role_total + 2,
        title="Teams",
        totals={**sums, "worst_caseload_pressure": "MAX"},
    )
    if door_totals:
        for name in ("total_fte", "cost_gbp"):
            cell = ws.cell(
                row=team_total - 1,
                column=per_team.columns.get_loc(name) + 1,
                value=f"={door_totals[name]}",
            )
            cell.number_format = team_formats[name]
    cost_letter = get_column_letter(per_team.columns.get_loc("cost_gbp") + 1)
    ws.cell(row=header + 3, column=2, value=f"={cost_letter}{team_total}")
    ws.column_dimensions["A"].width = 40.0
    ws.column_dimensions["B"].width = max(ws.column_dimensions["B"].width, 22.0)
    _print_setup(ws, header_row=None)


def _front_door_sheet(ws: Worksheet, plan: FrontDoorPlan, costs: Costs) -> dict[str, str]:
    """Key figures, the posts with their cost, then per opening hour (average day, and the peak
    day with the same officers): stacked, one table under another, as on the summary sheet.
    Totals are SUM formulas (their values cached like the other sheets'); returns the cells
    holding the posts' FTE and cost totals (as 'front_door'!D9), for the summary sheet."""
    door = front_door_costs(costs)
    assert door is not None
    s, d = plan.settings, plan.demand
    avg, peak = plan.day("average"), plan.day("peak")
    ws.cell(row=1, column=1, value="Front door").font = Font(bold=True, size=14)

    block: list[tuple[str, Any, str | None]] = [
        (
            "Model",
            "Erlang C per opening hour (no abandonment); workload for email, other, conversations",
            None,
        ),
        ("Service target", fd.Target.of(s).text(), None),
        ("Sized for the day", s.size_for_day, None),
        ("Contacts a week", round(d.weekly_contacts, 2), FORMATS["cases"]),
        ("Contacts source", d.source, None),
        (
            "Referrals a week",
            None if d.referrals_per_week is None else round(d.referrals_per_week, 2),
            FORMATS["cases"],
        ),
        ("Arrivals profile", plan.profile_source, None),
        ("Peak day factor", round(s.peak_day_factor, 4), "0.00"),
        ("Shrinkage", s.shrinkage_share, "0.0%"),
        ("Average day: service level", round(avg["service_level"], 4), "0.0%"),
        ("Average day: mean wait (s)", _cell_value(round(avg["mean_wait_seconds"], 2)), "0.0"),
        ("Average day: phone occupancy", round(avg["phone_occupancy"], 4), "0.0%"),
        ("Peak day: service level", round(peak["service_level"], 4), "0.0%"),
        ("Peak day: mean wait (s)", _cell_value(round(peak["mean_wait_seconds"], 2)), "0.0"),
        ("Peak day: phone occupancy", round(peak["phone_occupancy"], 4), "0.0%"),
        ("Peak day: overloaded hours", peak["overloaded_hours"], "0"),
        ("Front door FTE", None, FORMATS["fte"]),  # formulas: the posts table's totals, below
        ("Front door cost (£ a year)", None, GBP),
    ]
    key = pd.DataFrame([(k, v) for k, v, _ in block], columns=["item", "value"])
    header, last = _table(ws, key, {}, row=3, title="Key figures")
    for i, (_, _, fmt) in enumerate(block, start=header + 1):
        ws.cell(row=i, column=2).alignment = Alignment(horizontal="right")
        if fmt:
            ws.cell(row=i, column=2).number_format = fmt

    posts = pd.DataFrame(
        {
            "role": door["role"].map(ALL_ROLE_NAMES).to_numpy(),
            "staff_hours_per_week": door["staff_hours_per_week"].round(2).to_numpy(),
            "fte_before_rounding": door["fte_before_rounding"].round(3).to_numpy(),
            "fte": door["fte"].astype(float).to_numpy(),
            "most_on_duty": door["most_on_duty"].to_numpy(),
            "unit_cost_gbp": door["unit_cost_gbp"].to_numpy(),
            "cost_gbp": door["cost_gbp"].to_numpy(),
        }
    )
    _, posts_total = _table(
        ws,
        posts,
        {
            "staff_hours_per_week": "0.0",
            "fte_before_rounding": "0.00",
            "fte": FORMATS["fte"],
            "most_on_duty": "0",
            "unit_cost_gbp": GBP,
            "cost_gbp": GBP,
        },
        row=last + 2,
        title="Posts and cost",
        totals={"staff_hours_per_week": "SUM", "fte": "SUM", "cost_gbp": "SUM"},
    )
    cells = {
        name: f"{get_column_letter(posts.columns.get_loc(name) + 1)}{posts_total}"
        for name in ("fte", "cost_gbp")
    }
    ws.cell(row=last - 1, column=2, value=f"={cells['fte']}")
    ws.cell(row=last, column=2, value=f"={cells['cost_gbp']}")

    hours = fd.interval_rows(plan)
    sums = [
        c
        for c in hours.columns
        if c not in ("hour", "peak_phone_officers_needed")
        and not c.endswith(("service_level", "wait_seconds", "occupancy", "of_waiting"))
    ]
    formats = {
        c: FORMATS["cases"]
        for c in ("contacts", "calls", "emails_and_other", "conversations", "peak_calls")
    }
    formats.update({c: "0.00" for c in hours.columns if c.endswith(("erlangs", "officers"))})
    formats.update({"duty_social_workers": "0.00", "contact_officers": "0.00"})
    formats.update({c: "0.0%" for c in hours.columns if c.endswith(("level", "occupancy"))})
    formats.update({c: "0.0%" for c in hours.columns if c.endswith("of_waiting")})
    formats.update({c: "0.0" for c in hours.columns if c.endswith("wait_seconds")})
    _table(
        ws,
        hours,
        formats,
        row=posts_total + 2,
        title="Per opening hour (front_door.csv; peak columns with the same officers)",
        totals=dict.fromkeys(sums, "SUM"),
        widths={"hour": 14.0},
    )
    ws.column_dimensions["A"].width = 40.0
    ws.column_dimensions["B"].width = max(ws.column_dimensions["B"].width, 40.0)
    _print_setup(ws, header_row=None)
    refs = {name: f"'{ws.title}'!{cell}" for name, cell in cells.items()}
    refs["total_fte"] = refs["fte"]
    return refs


def _flatten(prefix: str, value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        out = []
        for key in value:
            out += _flatten(f"{prefix}.{key}", value[key])
        return out
    if isinstance(value, list | tuple):
        return [(prefix, ", ".join(map(str, value)))]
    return [(prefix, value)]


def _assumptions_sheet(
    ws: Worksheet, posts: Posts, costs: Costs, front_door: FrontDoorPlan | None = None
) -> None:
    rows: list[tuple[str, str, Any]] = []
    models: list[tuple[str, Any]] = [("workforce", posts.settings), ("costs", costs.settings)]
    if front_door is not None:
        models.append(("front_door", front_door.settings))
    for section, model in models:
        for key, value in model.model_dump(mode="json").items():
            for name, item in _flatten(key, value):
                rows.append((section, name, item))
    for unit in costs.unit_costs.itertuples(index=False):
        for name in ("salary_gbp", "agency_share", "unit_cost_gbp_per_fte"):
            rows.append(("unit cost", f"{unit.role}.{name}", getattr(unit, name)))
    for record in posts.rates.table.reset_index().to_dict("records"):
        code = record["council_code"]
        for key, value in record.items():
            if key != "council_code":
                rows.append((f"published {code}", key, value))
    for record in posts.comparison.to_dict("records"):
        code = record["council_code"]
        for key, value in record.items():
            if key != "council_code":
                rows.append((f"comparison {code}", key, value))
    frame = pd.DataFrame(
        [(s, k, round(v, 4) if isinstance(v, float) else v) for s, k, v in rows],
        columns=["section", "setting", "value"],
    )
    _table(ws, frame, {}, widths={"section": 24.0, "setting": 52.0, "value": 24.0})
    for i, (_, name, _) in enumerate(rows, start=2):
        if name.endswith("year"):
            ws.cell(row=i, column=3).number_format = "0"
    ws.freeze_panes = "A2"
    _print_setup(ws)


def _run_info_sheet(
    ws: Worksheet, scenario_name: str, costs: Costs, run_info: dict[str, Any]
) -> None:
    items: list[tuple[str, Any]] = [("scenario", scenario_name)]
    for key in run_info:  # in the caller's order: status and gap first, then versions
        if key != "scenario":
            items += _flatten(key, run_info[key])
    fit = costs.within_budget
    if fit is not None:
        items += [
            ("budget programme: status", fit.status),
            ("budget programme: objective (worst coverage)", fit.objective),
            ("budget programme: bound (worst coverage)", fit.bound),
            ("budget programme: gap", fit.gap),
            ("budget programme: pressure bound", fit.pressure_bound),
        ]
    frame = pd.DataFrame(
        [(k, v if isinstance(v, int | float | str) or v is None else str(v)) for k, v in items],
        columns=["item", "value"],
    )
    _table(ws, frame, {}, widths={"item": 48.0, "value": 60.0})
    for i, (key, value) in enumerate(items, start=2):
        cell = ws.cell(row=i, column=2)
        if key.endswith("gap") and isinstance(value, int | float):
            cell.number_format = PERCENT
        cell.alignment = Alignment(horizontal="left")
    ws.freeze_panes = "A2"
    _print_setup(ws)


def _curve_sheet(ws: Worksheet, curve: pd.DataFrame) -> None:
    frame = curve.drop(columns=["seconds"], errors="ignore").copy()
    frame["worst_role"] = frame["worst_role"].map(ROLE_NAMES).fillna(frame["worst_role"])
    for col in ("budget_gbp", "cost_gbp"):
        frame[col] = [whole(v) for v in frame[col]]
    for col in ("worst_caseload_pressure", "worst_caseload_per_fte", "pressure_bound", "gap"):
        frame[col] = frame[col].astype(float).round(4)
    _table(
        ws,
        frame,
        {
            "budget_gbp": GBP,
            "cost_gbp": GBP,
            "fte": FORMATS["fte"],
            "worst_caseload_pressure": FORMATS["pressure"],
            "worst_caseload_per_fte": FORMATS["caseload"],
            "pressure_bound": FORMATS["pressure"],
            "gap": PERCENT,
        },
        widths={"worst_role": 34.0},
    )
    ws.freeze_panes = "A2"
    _print_setup(ws)


def build_workbook(
    posts: Posts,
    costs: Costs,
    scenario_name: str,
    run_info: dict[str, Any],
    front_door: FrontDoorPlan | None = None,
) -> Workbook:
    """The finance workbook: summary, teams, assumptions, run_info (and the budget sheets, and
    front_door when there is a front door)."""
    wb = Workbook()
    summary = wb.active
    summary.title = "summary"
    teams = wb.create_sheet("teams")
    door_totals = None
    if front_door is not None and costs.front_door is not None:
        door_totals = _front_door_sheet(wb.create_sheet("front_door"), front_door, costs)
    _summary_sheet(summary, posts, costs, scenario_name, door_totals)
    _posts_sheet(teams, costs.table)
    _assumptions_sheet(wb.create_sheet("assumptions"), posts, costs, front_door)
    _run_info_sheet(wb.create_sheet("run_info"), scenario_name, costs, run_info)
    if costs.within_budget is not None:
        _posts_sheet(wb.create_sheet("within_budget"), costs.within_budget.table)
    if costs.curve is not None and len(costs.curve):
        _curve_sheet(wb.create_sheet("budget_curve"), costs.curve)
    props = wb.properties
    props.creator = "planning"
    props.lastModifiedBy = "planning"
    props.title = f"Staffing: {scenario_name}"
    props.created = FIXED_TIME
    props.modified = FIXED_TIME
    return wb


# --------------------------------------------------------------------------- cached values

_FORMULA = re.compile(
    r"=(?:(SUM|MAX)\(([A-Z]+)(\d+):([A-Z]+)(\d+)\)|(?:'([^']+)'!|(\w+)!)?([A-Z]+)(\d+))"
)


def formula_value(ws: Worksheet, formula: str) -> float | int | None:
    """The value of one of the workbook's own formulas: SUM or MAX over a column range of the
    same sheet, or a reference to one cell, of this sheet or another ('front_door'!D9), which
    may itself be a formula."""
    match = _FORMULA.fullmatch(formula)
    if not match:
        raise ValueError(f"{ws.title}: no cached value for formula {formula!r}")
    func, c1, r1, c2, r2, quoted, sheet, ref_col, ref_row = match.groups()
    if ref_col:
        name = quoted or sheet
        target = ws if name is None else ws.parent[name]
        value = target[f"{ref_col}{ref_row}"].value
        if isinstance(value, str) and value[:1] == "=":
            return formula_value(target, value)
        return value
    if c1 != c2:
        raise ValueError(f"{ws.title}: {formula!r} spans columns")
    numbers = []
    for r in range(int(r1), int(r2) + 1):
        value = ws[f"{c1}{r}"].value
        if isinstance(value, str) and value[:1] == "=":
            value = formula_value(ws, value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            numbers.append(value)
    if not numbers:
        return None
    if func == "MAX":
        return max(numbers)
    if all(isinstance(v, int) for v in numbers):
        return sum(numbers)
    return round(math.fsum(numbers), 9)


def cached_values(wb: Workbook) -> dict[str, dict[str, float | int | None]]:
    """Every formula cell's value, by worksheet XML path and cell reference."""
    out: dict[str, dict[str, float | int | None]] = {}
    for k, ws in enumerate(wb.worksheets, start=1):
        values = {}
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    try:
                        values[cell.coordinate] = formula_value(ws, cell.value)
                    except ValueError as exc:  # left for the spreadsheet to calculate
                        log.warning("staffing.xlsx: %s", exc)
        out[f"xl/worksheets/sheet{k}.xml"] = values
    return out


def _number_text(value: float | int) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def _with_cached_values(xml: bytes, values: dict[str, float | int | None]) -> bytes:
    """Fill each formula cell's empty ``<v/>`` with its value, so readers that do not
    recalculate (pandas, openpyxl ``data_only=True``, viewers) see the totals."""

    def fill(match: re.Match) -> bytes:
        ref = match.group(2).decode()
        value = values.get(ref)
        if value is None:
            return match.group(1)
        return match.group(1) + b"<v>" + _number_text(value).encode() + b"</v>"

    filled = re.sub(rb'(<c r="([A-Z]+\d+)"[^>]*><f>[^<]*</f>)<v\s*/>', fill, xml)
    return filled


def _stable_xlsx(wb: Workbook) -> bytes:
    """Workbook bytes with fixed zip entry times, a fixed 'modified' date and the formulas'
    values cached beside them."""
    cached = cached_values(wb)
    raw = io.BytesIO()
    wb.save(raw)
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rb"\g<1>" + stamp.encode() + rb"\g<2>",
                    data,
                )
            if info.filename in cached:
                data = _with_cached_values(data, cached[info.filename])
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            dst.writestr(entry, data)
    return out.getvalue()


def budget_figure(costs: Costs, scenario_name: str) -> Figure:
    """Budget (£m a year) against the worst caseload pressure it can achieve."""
    fig = Figure(figsize=(8, 5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    curve = costs.curve if costs.curve is not None else pd.DataFrame()
    if len(curve):
        ax.plot(
            curve["budget_gbp"] / 1e6,
            curve["worst_caseload_pressure"],
            marker="o",
            color="#1f4e79",
            label="worst caseload pressure achievable",
        )
    ax.axhline(1.0, color="#555555", linestyle=":", label="caseload target (pressure 1)")
    ax.axvline(
        costs.total_gbp / 1e6,
        color="#2e7d32",
        linestyle="--",
        label=f"full plan £{costs.total_gbp / 1e6:,.1f}m",
    )
    if costs.budget_gbp is not None:
        ax.axvline(
            costs.budget_gbp / 1e6,
            color="#c62828",
            linestyle="-.",
            label=f"budget £{costs.budget_gbp / 1e6:,.1f}m ({costs.position})",
        )
    ax.set_xlabel("budget (£ million a year)")
    ax.set_ylabel("worst caseload per FTE / target")
    ax.set_title(f"Budget and caseload pressure: {scenario_name}", fontsize=11)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


def write_staffing(
    out_dir: Path | str,
    posts: Posts,
    costs: Costs,
    scenario_name: str,
    run_info: dict[str, Any],
    front_door: FrontDoorPlan | None = None,
) -> dict[str, Path]:
    """Write staffing.csv, staffing.xlsx and budget_curve.png (when there is a curve), and
    front_door.csv (with a front door), into ``out_dir``; all or nothing. Returns the paths
    written, by file name."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".staffing-", dir=out_dir))
    try:
        csv_rows(costs).to_csv(tmp / "staffing.csv", index=False, lineterminator="\n")
        if front_door is not None:
            fd.interval_rows(front_door).to_csv(
                tmp / "front_door.csv", index=False, lineterminator="\n"
            )
        wb = build_workbook(posts, costs, scenario_name, run_info, front_door)
        (tmp / "staffing.xlsx").write_bytes(_stable_xlsx(wb))
        if costs.curve is not None and len(costs.curve):
            budget_figure(costs, scenario_name).savefig(
                tmp / "budget_curve.png", metadata={"Software": None}
            )
        written = {}
        for path in sorted(tmp.iterdir()):
            target = out_dir / path.name
            os.replace(path, target)
            written[path.name] = target
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("staffing: wrote %s to %s", ", ".join(written), out_dir)
    return written
