"""Staffing outputs for finance: staffing.csv, staffing.xlsx and budget_curve.png.

The CSV and the workbook's ``teams`` sheet hold the same rows (sorted by team, then role) with the
same rounded figures, so the workbook's SUM formulas recompute to the CSV's totals. Outputs are
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
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from planning import front_door as fd
from planning.costing import Costs
from planning.front_door import FrontDoorPlan
from planning.workforce import POST_COLUMNS, ROLE_NAMES, Posts

log = logging.getLogger(__name__)

CSV_COLUMNS = ["team_id", "role", "fte", "cases", "caseload_per_fte", "cost_gbp"]
#: Display names of every role, the teams' and the front door's.
ALL_ROLE_NAMES = {**ROLE_NAMES, **fd.ROLE_NAMES}
FIXED_TIME = dt.datetime(2000, 1, 1)
GBP = '"£"#,##0'
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


def front_door_rows(costs: Costs) -> pd.DataFrame:
    """staffing.csv's rows for the front door's posts (team_id 'front door'; no cases)."""
    door = costs.front_door
    if door is None:
        return pd.DataFrame(columns=CSV_COLUMNS)
    return pd.DataFrame(
        {
            "team_id": fd.FRONT_DOOR_ID,
            "role": door["role"].map(ALL_ROLE_NAMES).to_numpy(),
            "fte": door["fte"].astype(float).to_numpy(),
            "cases": np.nan,
            "caseload_per_fte": np.nan,
            "cost_gbp": door["cost_gbp"].astype(float).to_numpy(),
        }
    )


def csv_rows(costs: Costs) -> pd.DataFrame:
    """Every row of staffing.csv: the teams' posts, then the front door's."""
    rows = staffing_rows(costs.table)[CSV_COLUMNS]
    if costs.front_door is None:
        return rows
    return pd.concat([rows, front_door_rows(costs)], ignore_index=True)


def staffing_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Rows of staffing.csv (and the workbook's teams sheet): display role names, rounded."""
    out = table.copy()
    out["role"] = out["role"].map(ROLE_NAMES).fillna(out["role"])
    out["fte"] = out["fte"].astype(float)
    out["cases"] = out["cases"].astype(float).round(1)
    out["caseload_per_fte"] = out["caseload_per_fte"].astype(float).round(2)
    out["target_caseload"] = out["target_caseload"].astype(float).round(2)
    out["caseload_pressure"] = out["caseload_pressure"].astype(float).round(3)
    return out.reset_index(drop=True)


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
    col: int = 1,
    totals: dict[str, str] | None = None,
    widths: dict[str, float] | None = None,
) -> int:
    """Write a header and rows from row 1 at column ``col``; a 'Total' row with formulas
    (``totals``: column -> SUM or MAX). Returns the total row's number (or the last row)."""
    bold = Font(bold=True)
    for j, name in enumerate(frame.columns):
        cell = ws.cell(row=1, column=col + j, value=name)
        cell.font = bold
        width = (widths or {}).get(name, max(12.0, len(name) + 2.0))
        ws.column_dimensions[get_column_letter(col + j)].width = width
    for i, row in enumerate(frame.itertuples(index=False), start=2):
        for j, name in enumerate(frame.columns):
            cell = ws.cell(row=i, column=col + j, value=_cell_value(row[j]))
            if name in formats:
                cell.number_format = formats[name]
    last = len(frame) + 1
    if not totals:
        return last
    total_row = last + 1
    ws.cell(row=total_row, column=col, value="Total").font = bold
    for j, name in enumerate(frame.columns):
        if name in totals:
            letter = get_column_letter(col + j)
            cell = ws.cell(
                row=total_row, column=col + j, value=f"={totals[name]}({letter}2:{letter}{last})"
            )
            cell.font = bold
            if name in formats:
                cell.number_format = formats[name]
    return total_row


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
        widths={"role": 34.0, "team_id": 16.0},
    )
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(rows.columns))}{len(rows) + 1}"


def _summary_sheet(
    ws: Worksheet,
    posts: Posts,
    costs: Costs,
    scenario_name: str,
    door_totals: dict[str, str] | None = None,
) -> None:
    """Per team (plus a 'front door' row whose FTE and cost are formulas reading the front_door
    sheet's totals, ``door_totals``), per role, and the budget position."""
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
    formats = {
        "children_0_17": FORMATS["count"],
        "family_help_cases": FORMATS["cases"],
        "child_protection_cases": FORMATS["cases"],
        "case_holding_fte": FORMATS["fte"],
        "total_fte": FORMATS["fte"],
        "cost_gbp": GBP,
        "worst_caseload_pressure": FORMATS["pressure"],
    }
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
    total_row = _table(
        ws,
        per_team,
        formats,
        totals={**sums, "worst_caseload_pressure": "MAX"},
        widths={"team_id": 16.0},
    )
    if door_totals:
        door_row_number = total_row - 1
        for name in ("total_fte", "cost_gbp"):
            cell = ws.cell(
                row=door_row_number,
                column=per_team.columns.get_loc(name) + 1,
                value=f"={door_totals[name]}",
            )
            cell.number_format = formats[name]

    role_col = len(per_team.columns) + 2
    by_role = pd.DataFrame(
        {
            "role": [ALL_ROLE_NAMES.get(r, r) for r in costs.by_role["role"]],
            "role_fte": costs.by_role["fte"].to_numpy(),
            "role_cost_gbp": costs.by_role["cost_gbp"].to_numpy(),
        }
    )
    _table(
        ws,
        by_role,
        {"role_fte": FORMATS["fte"], "role_cost_gbp": GBP},
        col=role_col,
        totals={"role_fte": "SUM", "role_cost_gbp": "SUM"},
        widths={"role": 34.0},
    )

    key_col = role_col + len(by_role.columns) + 1
    cost_letter = get_column_letter(per_team.columns.get_loc("cost_gbp") + 1)
    fit = costs.within_budget
    block: list[tuple[str, Any, str | None]] = [
        ("scenario", scenario_name, None),
        ("rates_year", posts.rates.year, None),
        ("total_cost_gbp", f"=SUM({cost_letter}2:{cost_letter}{total_row - 1})", GBP),
        ("budget_gbp", costs.budget_gbp, GBP),
        ("budget_position", costs.position, None),
        ("headroom_gbp", costs.headroom_gbp, GBP),
        ("shortfall_gbp", costs.shortfall_gbp, GBP),
        ("minimum_staffable_cost_gbp", costs.minimum_gbp, GBP),
        ("front_door_cost_gbp", f"={door_totals['cost_gbp']}" if door_totals else None, GBP),
        ("within_budget_cost_gbp", fit.cost_gbp if fit else None, GBP),
        ("within_budget_fte", float(fit.table["fte"].sum()) if fit else None, FORMATS["fte"]),
        (
            "within_budget_worst_caseload_pressure",
            round(fit.worst_caseload_pressure, 3) if fit else None,
            FORMATS["pressure"],
        ),
    ]
    bold = Font(bold=True)
    ws.cell(row=1, column=key_col, value="item").font = bold
    ws.cell(row=1, column=key_col + 1, value="value").font = bold
    ws.column_dimensions[get_column_letter(key_col)].width = 40.0
    ws.column_dimensions[get_column_letter(key_col + 1)].width = 22.0
    for i, (key, value, fmt) in enumerate(block, start=2):
        ws.cell(row=i, column=key_col, value=key)
        cell = ws.cell(row=i, column=key_col + 1, value=_cell_value(value))
        if fmt:
            cell.number_format = fmt
    ws.freeze_panes = "A2"


def _front_door_sheet(ws: Worksheet, plan: FrontDoorPlan, costs: Costs) -> dict[str, str]:
    """Per opening hour (average day, and the peak day with the same officers), the posts with
    their cost, and the key figures. Totals are SUM formulas; returns the cells holding the
    posts' FTE and cost totals (as 'front_door'!X9), for the summary sheet."""
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
    _table(ws, hours, formats, totals=dict.fromkeys(sums, "SUM"), widths={"hour": 14.0})

    door = costs.front_door
    assert door is not None
    posts = pd.DataFrame(
        {
            "role": door["role"].map(ALL_ROLE_NAMES).to_numpy(),
            "staff_hours_per_week": door["staff_hours_per_week"].round(2).to_numpy(),
            "fte_before_rounding": door["fte_before_rounding"].round(3).to_numpy(),
            "fte": door["fte"].astype(float).to_numpy(),
            "most_on_duty": door["most_on_duty"].to_numpy(),
            "unit_cost_gbp": door["unit_cost_gbp"].to_numpy(),
            "cost_gbp": door["cost_gbp"].astype(float).to_numpy(),
        }
    )
    col = len(hours.columns) + 2
    total_row = _table(
        ws,
        posts,
        {
            "staff_hours_per_week": "0.0",
            "fte_before_rounding": "0.00",
            "fte": FORMATS["fte"],
            "unit_cost_gbp": GBP,
            "cost_gbp": GBP,
        },
        col=col,
        totals={"staff_hours_per_week": "SUM", "fte": "SUM", "cost_gbp": "SUM"},
        widths={"role": 22.0},
    )
    refs = {
        name: f"'{ws.title}'!{get_column_letter(col + posts.columns.get_loc(name))}{total_row}"
        for name in ("fte", "cost_gbp")
    }
    refs["total_fte"] = refs["fte"]

    s, d = plan.settings, plan.demand
    avg, peak = plan.day("average"), plan.day("peak")
    key_col = col + len(posts.columns) + 1
    block: list[tuple[str, Any, str | None]] = [
        (
            "model",
            "Erlang C per opening hour (no abandonment); workload for email, other, conversations",
            None,
        ),
        ("service_target", fd.Target.of(s).text(), None),
        ("sized_for_day", s.size_for_day, None),
        ("weekly_contacts", round(d.weekly_contacts, 2), FORMATS["cases"]),
        ("contacts_source", d.source, None),
        (
            "referrals_per_week",
            None if d.referrals_per_week is None else round(d.referrals_per_week, 2),
            FORMATS["cases"],
        ),
        ("arrivals_profile", plan.profile_source, None),
        ("peak_day_factor", round(s.peak_day_factor, 4), "0.00"),
        ("shrinkage_share", s.shrinkage_share, "0.0%"),
        ("average_day_service_level", round(avg["service_level"], 4), "0.0%"),
        ("average_day_mean_wait_seconds", _cell_value(round(avg["mean_wait_seconds"], 2)), "0.0"),
        ("average_day_phone_occupancy", round(avg["phone_occupancy"], 4), "0.0%"),
        ("peak_day_service_level", round(peak["service_level"], 4), "0.0%"),
        ("peak_day_mean_wait_seconds", _cell_value(round(peak["mean_wait_seconds"], 2)), "0.0"),
        ("peak_day_phone_occupancy", round(peak["phone_occupancy"], 4), "0.0%"),
        ("peak_day_overloaded_hours", peak["overloaded_hours"], None),
        ("front_door_fte", f"={refs['fte']}", FORMATS["fte"]),
        ("front_door_cost_gbp", f"={refs['cost_gbp']}", GBP),
    ]
    bold = Font(bold=True)
    ws.cell(row=1, column=key_col, value="item").font = bold
    ws.cell(row=1, column=key_col + 1, value="value").font = bold
    ws.column_dimensions[get_column_letter(key_col)].width = 34.0
    ws.column_dimensions[get_column_letter(key_col + 1)].width = 40.0
    for i, (key, value, fmt) in enumerate(block, start=2):
        ws.cell(row=i, column=key_col, value=key)
        cell = ws.cell(row=i, column=key_col + 1, value=_cell_value(value))
        if fmt:
            cell.number_format = fmt
    ws.freeze_panes = "A2"
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
    ws.freeze_panes = "A2"


def _run_info_sheet(
    ws: Worksheet, scenario_name: str, costs: Costs, run_info: dict[str, Any]
) -> None:
    items: list[tuple[str, Any]] = [("scenario", scenario_name)]
    for key in sorted(run_info):
        items += _flatten(key, run_info[key])
    fit = costs.within_budget
    if fit is not None:
        items += [
            ("budget_programme.status", fit.status),
            ("budget_programme.objective_worst_coverage", fit.objective),
            ("budget_programme.bound_worst_coverage", fit.bound),
            ("budget_programme.gap", fit.gap),
            ("budget_programme.pressure_bound", fit.pressure_bound),
        ]
    frame = pd.DataFrame(
        [(k, v if isinstance(v, int | float | str) or v is None else str(v)) for k, v in items],
        columns=["item", "value"],
    )
    _table(ws, frame, {}, widths={"item": 48.0, "value": 60.0})
    ws.freeze_panes = "A2"


def _curve_sheet(ws: Worksheet, curve: pd.DataFrame) -> None:
    frame = curve.drop(columns=["seconds"], errors="ignore").copy()
    frame["worst_role"] = frame["worst_role"].map(ROLE_NAMES).fillna(frame["worst_role"])
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
            "gap": FORMATS["share"],
        },
        widths={"worst_role": 34.0},
    )
    ws.freeze_panes = "A2"


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


def _stable_xlsx(wb: Workbook) -> bytes:
    """Workbook bytes with fixed zip entry times and a fixed 'modified' date."""
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
