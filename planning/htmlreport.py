"""report.html: a run's results as one self-contained page, set out like a committee appendix.

The page holds the maps (teams.png and budget_curve.png embedded as base64), every table the run's
CSV files hold (read back from the run folder, so the page and the CSVs cannot disagree), the
resolved scenario with each setting's description, the solver's evidence and the inputs' hashes.
It needs no network and no other file. ``write_html_outputs`` writes report.html and map.html into
a run folder after ``planning.report`` has written the CSVs, maps and manifest there.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel

from planning import front_door as fd
from planning.allocate.plan import holder_text
from planning.config import Scenario, _model_of
from planning.rounding import gbp_text, whole
from planning.workbook import cost_figures, front_door_costs, role_costs
from planning.workforce import ROLE_NAMES, team_fte_spread

ALL_ROLE_NAMES = {**ROLE_NAMES, **fd.ROLE_NAMES}

log = logging.getLogger(__name__)

_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
#: On paper, tables with more columns than this print in smaller type.
WIDE_COLUMNS = 9
#: A cell holding a word longer than this (a hash, a long code) may break anywhere on paper.
LONG_WORD = 24
#: A table this wide with at most ``TRANSPOSE_ROWS`` rows is shown turned: one row per column.
TRANSPOSE_COLUMNS = 12
TRANSPOSE_ROWS = 3
#: Tables with at most this many rows are kept whole on one page when printed.
SHORT_ROWS = 25


# --------------------------------------------------------------------------- formatting


def figure_text(text: str) -> str:
    """A CSV cell as shown: thousands separated, trailing '.0' dropped, other digits kept."""
    if not _NUMBER.match(text):
        return text
    whole, _, frac = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    whole = f"{int(whole.lstrip('-')):,}"
    frac = "" if frac.strip("0") == "" else frac
    return f"{sign}{whole}.{frac}" if frac else f"{sign}{whole}"


def decimals(value: float) -> int:
    """Decimals shown for a float: fewer as it grows (10,234 km; 12.34; 0.1234), never more
    than four, so solver objectives do not run to six places."""
    size = abs(value)
    return 0 if size >= 10_000 else 1 if size >= 100 else 2 if size >= 10 else 4


def value_text(value: Any) -> str:
    """Any value for a table cell: numbers with separators, floats to at most 4 decimals."""
    if value is None:
        return ""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        if abs(value) >= 1e15:
            return repr(value)
        digits = decimals(value)
        text = f"{round(value, digits):.{digits}f}"
        return figure_text(text.rstrip("0").rstrip(".") if "." in text else text)
    if isinstance(value, list | tuple):
        return "; ".join(value_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    return str(value)


def cell_text(column: str, value: Any, money: tuple[str, ...] = ()) -> str:
    """A value shown in a named column: a year as written (2025, not 2,025), money in whole
    pounds, a gap as a percentage, anything else by ``value_text``."""
    if hasattr(value, "item"):
        value = value.item()
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and not (isinstance(value, float) and not math.isfinite(value)):
        name = column.lower().replace(" ", "_")
        if name.endswith("year"):
            return str(int(value))
        if column in money or name.endswith("_gbp") or "_gbp_" in name:
            return f"{whole(value):,}"
        if name == "gap" or name.endswith("_gap"):
            return f"{100 * value:.2f}%"
    return value_text(value)


def words(name: str) -> str:
    """A column or setting name for readers: children_0_17 -> children 0-17."""
    return re.sub(r"(\d+)_(\d+)", r"\1-\2", name).replace("_", " ")


def _numeric(text: str) -> bool:
    return bool(_NUMBER.match(text.replace(",", "").replace("£", "")))


def table_html(
    frame: pd.DataFrame,
    caption: str = "",
    *,
    money: tuple[str, ...] = (),
    table_id: str = "",
    raw_text: bool = False,
) -> str:
    """An HTML table; ``raw_text``: cells are CSV text (shown via ``figure_text``). A wide table
    of one to three rows (such as the published comparison) is turned, one row per column, so it
    fits a page.

    Columns of solver seconds are left out: timings vary from run to run and are in
    manifest.json, so the page's bytes depend only on the plan."""
    frame = frame.drop(columns=[c for c in frame.columns if str(c) == "seconds"])
    if not raw_text and len(frame.columns) > TRANSPOSE_COLUMNS and len(frame) <= TRANSPOSE_ROWS:
        frame = _turned(frame, money)
    head = "".join(f"<th>{html.escape(words(str(c)))}</th>" for c in frame.columns)
    rows = []
    for values in frame.itertuples(index=False):
        cells = []
        for col, value in zip(frame.columns, values, strict=True):
            if raw_text:
                text = (
                    ""
                    if value is None or (isinstance(value, float) and math.isnan(value))
                    else figure_text(str(value))
                )
            else:
                text = cell_text(str(col), value, money)
            if text and (col in money or "_gbp" in str(col)) and _numeric(text):
                text = f"£{text}"
            cls = (
                ' class="n"'
                if text and _numeric(text)
                else ' class="long"'
                if any(len(w) > LONG_WORD for w in text.split())
                else ""
            )
            cells.append(f"<td{cls}>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    ident = f' id="{table_id}"' if table_id else ""
    wide = ' class="wide"' if len(frame.columns) > WIDE_COLUMNS else ""
    short = " short" if len(frame) <= SHORT_ROWS else ""  # kept on one page with its caption
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return (
        f'<div class="wrap{short}"><table{ident}{wide}>{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _turned(frame: pd.DataFrame, money: tuple[str, ...]) -> pd.DataFrame:
    """A few rows of many columns as one row per column: measure, then a column per row."""

    def shown(col: str, value: Any) -> str:
        text = cell_text(col, value, money)
        money_col = col in money or "_gbp" in col
        return f"£{text}" if text and money_col and _numeric(text) else text

    turned: dict[str, list[str]] = {"measure": [words(str(c)) for c in frame.columns]}
    for k, row in enumerate(frame.itertuples(index=False), start=1):
        label = "value" if len(frame) == 1 else f"row {k}"
        turned[label] = [shown(str(c), v) for c, v in zip(frame.columns, row, strict=True)]
    return pd.DataFrame(turned)


def image_html(path: Path, alt: str, caption: str) -> str:
    if not path.is_file():
        return ""
    data = base64.b64encode(path.read_bytes()).decode()
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _csv(folder: Path, name: str) -> pd.DataFrame | None:
    path = folder / name
    if not path.is_file():
        return None
    return pd.read_csv(path, dtype=str, keep_default_na=False)


# --------------------------------------------------------------------------- assumptions


def _descriptions(model: type[BaseModel], prefix: str = "") -> dict[str, str]:
    out = {}
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        out[key] = info.description or ""
        inner = _model_of(info.annotation)
        if inner is not None:
            out.update(_descriptions(inner, f"{key}."))
    return out


def _flatten(prefix: str, value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        return [row for k, v in value.items() for row in _flatten(f"{prefix}.{k}", v)]
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [row for i, v in enumerate(value) for row in _flatten(f"{prefix}.{i}", v)]
    return [(prefix, value)]


def assumptions_table(scenario: Scenario) -> pd.DataFrame:
    """The resolved scenario (defaults included), one row per setting, with its description."""
    described = _descriptions(Scenario)
    rows = []
    for key, value in scenario.model_dump(mode="json").items():
        for name, item in _flatten(key, value):
            generic = re.sub(r"\.\d+(?=\.|$)", "", name)
            text = (
                described.get(name)
                or described.get(generic)
                or described.get(generic.rsplit(".", 1)[0], "")
            )
            section = name.split(".", 1)[0]
            rows.append(
                {
                    "section": section,
                    "setting": name,
                    "value": cell_text(name.rsplit(".", 1)[-1], item),
                    "meaning": text,
                }
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- the page


def _pct(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{100 * value:.{digits}f}%"


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _gbp(value: float | None) -> str:
    return gbp_text(value)


def _holders_text(teams) -> str:
    """Why the gap is what it is when other team counts hold the bound."""
    rows = "; ".join(html.escape(holder_text(h)) for h in teams.bound_holders)
    return (
        f"With this plan's own team counts the gap is {_pct(teams.count_gap)}: no plan with "
        f"the same counts can be below {teams.count_bound:,.0f}. The rest of the gap is held by "
        f"other counts: {rows}."
    )


def _edit_text(edit: dict[str, Any], teams) -> str:
    """The summary's sentence on a plan edited by hand (``planning edit``)."""
    moved = len(edit.get("moved_by_hand", []))
    changed = (edit.get("changes_vs_optimised") or {}).get("areas", 0)
    text = (
        f"<b>This plan was edited by hand</b> (planning edit) from the optimised run "
        f"{html.escape(str(edit.get('edited_from', '')))}: {moved} area moves by hand, "
        f"{len(edit.get('reoptimisations', []))} re-optimisations with locked teams or areas, "
        f"{changed} areas in a different team from the optimised plan. Its bound is the "
        "optimised run's, so the gap is how far the edited plan is from the best possible one."
    )
    if edit.get("band_override"):
        text += (
            " <b>It was saved with the band overridden: "
            + "; ".join(html.escape(b) for b in edit.get("band_breaches", []))
            + ".</b>"
        )
    return text


def _summary(result, body: dict[str, Any]) -> tuple[str, pd.DataFrame]:
    sc, teams, posts, costs = result.scenario, result.teams, result.posts, result.costs
    areas = result.area_data.areas
    frame = teams.teams
    basis = words(sc.teams.population_basis)
    councils = ", ".join(sorted(areas["council_name"].unique()))
    text = [
        f"The plan divides the {len(areas):,} small areas (LSOAs) of {html.escape(councils)}, with "
        f"{areas['residents'].sum():,.0f} residents and {areas['children_0_17'].sum():,.0f} "
        f"children aged 0-17, into <b>{len(frame)} Family Help team patches</b>, each one "
        f"contiguous and holding {sc.teams.min_population:,.0f}-{sc.teams.max_population:,.0f} "
        f"{basis} ({'nested in ' + sc.teams.nesting if sc.teams.nesting != 'none' else 'free to cross district boundaries'}). "  # noqa: E501
        f"Teams hold {frame['residents'].min():,} to {frame['residents'].max():,} residents "
        f"(mean {frame['residents'].mean():,.0f}) and {frame['children_0_17'].min():,} to "
        f"{frame['children_0_17'].max():,} children aged 0-17.",
        f"The patches minimise travel: the sum over areas of {basis} times the straight-line "
        f"distance to the team's centre area is {teams.objective:,.0f} person-km. The solver "
        f"(HiGHS) proved that no plan within the settings can be below {teams.bound:,.0f}, a gap "
        f"of {_pct(teams.gap)} (status: {html.escape(teams.status)}).",
    ]
    if teams.bound_holders:
        text.append(_holders_text(teams))
    if result.edit is not None:
        text.append(_edit_text(result.edit, teams))
    if result.hubs is not None:
        hubs = result.hubs.hubs
        text.append(
            f"{int((hubs['kind'] == 'main').sum())} main and "
            f"{int((hubs['kind'] == 'community').sum())} community family hubs are opened across "
            f"{len(result.hubs.accessibility)} localities; section 3 gives each locality's "
            "travel distances and the share of children within the target."
        )
    fit = costs.within_budget
    shown = cost_figures(costs)
    budget = {
        "within budget": f"This is within the budget of {_gbp(shown['budget_gbp'])}, leaving "
        f"{_gbp(shown['headroom_gbp'])} headroom.",
        "over budget": f"This is <b>over the budget of {_gbp(shown['budget_gbp'])} by "
        f"{_gbp(shown['shortfall_gbp'])}</b>; within the budget the worst caseload "
        f"would be {fit.worst_caseload_pressure:.2f} times its target"
        if fit is not None
        else "",
        "no budget set": "No budget envelope was set, so no comparison is made.",
    }.get(costs.position, "")
    door = result.front_door
    door_text = ""
    if door is not None:
        door_text = (
            f" The front door adds {door.fte('contact_officer'):g} contact officer and "
            f"{door.fte('duty_social_worker'):g} duty social worker FTE "
            f"({_gbp(shown['front_door_cost_gbp'])} a year; section 8), so the plan costs "
            f"{_gbp(shown['total_cost_gbp'])} in all."
        )
    spread = team_fte_spread(posts.teams)
    hold, total = spread["case_holding_fte"], spread["total_fte"]
    text.append(
        f"Sized to the caseload targets, the teams need {posts.total_fte:,.1f} FTE "
        f"({costs.summary()['case_holding_fte']:,.1f} holding cases) at a cost of "
        f"{_gbp(shown.get('teams_cost_gbp', shown['total_cost_gbp']))} a year.{door_text} "
        f"{budget}"
    )
    text.append(
        f"Team sizes: {hold['min']:g} to {hold['max']:g} case-holding FTE (the largest "
        f"{hold['ratio']:g} times the smallest) and {total['min']:g} to {total['max']:g} FTE in "
        f"all ({total['ratio']:g} times)"
        + (
            f"; the workload band holds each team to {_band_text(sc.teams.workload)}."
            if sc.teams.workload is not None
            else "; no workload band was set, so team sizes follow deprivation."
        )
    )
    if sc.teams.building_block == "ward":
        text.append(
            f"Every patch is made of whole May 2024 wards ({teams.nodes} wards or joined wards "
            f"as building blocks{'; ' + str(len(teams.ward_joins)) + ' wards whose LSOAs come in separate pieces were joined with the wards linking them' if teams.ward_joins else ''})."  # noqa: E501
        )
    key = [
        ("areas", len(areas)),
        ("residents", round(float(areas["residents"].sum()))),
        ("children aged 0-17", round(float(areas["children_0_17"].sum()))),
        ("teams", len(frame)),
        ("allocation status", teams.status),
        ("allocation objective (person-km)", round(teams.objective, 1)),
        ("allocation bound (person-km)", round(teams.bound, 1)),
        ("allocation gap", _pct(teams.gap, 3)),
        ("total FTE", posts.total_fte + costs.front_door_fte),
        ("team case-holding FTE, smallest to largest", f"{hold['min']:g}-{hold['max']:g}"),
        ("team case-holding FTE, largest / smallest", hold["ratio"]),
        ("total cost a year", _gbp(shown["total_cost_gbp"])),
        ("budget", _gbp(shown["budget_gbp"])),
        ("budget position", costs.position),
    ]
    return "".join(f"<p>{t}</p>" for t in text), pd.DataFrame(key, columns=["measure", "value"])


def _band_text(band) -> str:
    low = "any" if band.min is None else f"{band.min:g}"
    high = "any" if band.max is None else f"{band.max:g}"
    return f"{low} to {high} {words(band.basis).replace('fte', 'FTE')} (before rounding)"


def _accessibility(result) -> pd.DataFrame:
    rows = []
    for locality, entry in result.hubs.accessibility.items():
        rows.append({"locality": locality, **{k: v for k, v in entry.items()}})
    return pd.DataFrame(rows)


def _evidence(result, body: dict[str, Any]) -> str:
    teams, costs = result.teams, result.costs
    parts = [
        "<p>Every figure below is read from the solver itself, not assumed. A gap of zero means "
        "the plan is proven the best possible under the scenario's settings; a positive gap is "
        "the most by which a better plan could improve on it. Solve times vary from machine to "
        "machine and are recorded in manifest.json.</p>",
        table_html(
            pd.DataFrame(
                [
                    {
                        "stage": "team allocation (all groups)",
                        "status": teams.status,
                        "objective": round(teams.objective, 3),
                        "bound": round(teams.bound, 3),
                        "gap": round(teams.gap, 6),
                        "relative gap asked": result.scenario.solver.relative_gap,
                        "time limit (s)": result.scenario.solver.time_limit_seconds,
                    }
                ]
            ),
            "Team allocation overall",
        ),
    ]
    if teams.blocks:
        parts.append(
            table_html(
                pd.DataFrame(teams.blocks),
                "Team allocation per group (objective and bound in person-km)",
            )
        )
    if result.hubs is not None:
        parts.append(
            table_html(
                pd.DataFrame(result.hubs.evidence_records()),
                "Family hub placement: every HiGHS run per locality",
            )
        )
    fit = costs.within_budget
    if fit is not None:
        parts.append(
            table_html(
                pd.DataFrame(
                    [
                        {
                            "stage": "posts within budget",
                            "status": fit.status,
                            "objective": fit.objective,
                            "bound": fit.bound,
                            "gap": fit.gap,
                            "worst caseload pressure": fit.worst_caseload_pressure,
                            "pressure bound": fit.pressure_bound,
                        }
                    ]
                ),
                "Budget programme",
            )
        )
    return "".join(parts)


def _wait_text(seconds: float) -> str:
    return f"{seconds:.1f} s" if math.isfinite(seconds) else "unbounded (calls exceed officers)"


def _front_door_html(result, folder: Path) -> str:
    """The front door: demand, the model, the staffing per hour and per day, and its cost."""
    door, costs = result.front_door, result.costs
    s, d = door.settings, door.demand
    avg, peak = door.day("average"), door.day("peak")
    target = fd.Target.of(s).text()
    door_gbp = cost_figures(costs)["front_door_cost_gbp"]  # whole pounds, as shown everywhere
    source = d.source
    if d.referrals_per_week is not None:
        source += f" ({d.referrals_per_week:,.1f} referrals a week in {d.referrals_year})"
    text = [
        f"<p>The front door takes <b>{d.weekly_contacts:,.1f} contacts a week</b> "
        f"({html.escape(source)}), "
        f"{100 * s.channel_shares['telephone']:.0f}% by telephone, "
        f"{100 * s.channel_shares['email']:.0f}% by email and "
        f"{100 * s.channel_shares['other']:.0f}% other, over {s.days_per_week} days a week, "
        f"{s.opening_hours_per_day} hours a day from {s.opens_at_hour:02d}:00; contacts arrive "
        f"through the day by the {html.escape(door.profile_source)} profile, and the peak day "
        f"has {s.peak_day_factor:.2f} times the average day's.</p>",
        "<p>Calls are sized hour by hour with <b>Erlang C</b> (callers wait until answered; "
        "callers who hang up are not modelled, so the staffing errs on the generous side): the "
        f"fewest contact officers on the phones giving {html.escape(target)}, with each officer "
        f"busy at most {100 * s.max_occupancy_share:.0f}% of the time. Emails, other contacts "
        f"and the conversations with a duty social worker that follow "
        f"{100 * s.conversation_share:.0f}% of contacts ({s.conversation_minutes:g} minutes "
        "each) are sized by their workload. Staff hours become FTE at "
        f"{s.fte_hours_per_week:g} paid hours a week less {100 * s.shrinkage_share:.0f}% "
        f"shrinkage, rounded up to {door.fte_step:g} FTE.</p>",
        f"<p>Sized for the {s.size_for_day} day, the front door needs "
        f"<b>{door.fte('contact_officer'):g} contact officer FTE</b> and "
        f"<b>{door.fte('duty_social_worker'):g} duty social worker FTE</b>, costing "
        f"{_gbp(door_gbp)} a year. On an average day this answers "
        f"{100 * avg['service_level']:.1f}% of calls within {s.answer_within_seconds:g} s with a "
        f"mean wait of {_wait_text(avg['mean_wait_seconds'])}; on the peak day "
        f"{100 * peak['service_level']:.1f}%, mean wait {_wait_text(peak['mean_wait_seconds'])}"
        + (
            f", with {peak['overloaded_hours']} hour(s) where calls exceed the officers"
            if peak["overloaded_hours"]
            else ""
        )
        + ".</p>",
    ]
    days = door.days.drop(columns=["days_a_week"]).copy()
    for col in days.columns:
        if col != "day":
            days[col] = days[col].astype(float).replace([math.inf], float("nan")).round(4)
    parts = "".join(text)
    parts += table_html(days, "Table #: the front door on an average and a peak day")
    hours = _csv(folder, "front_door.csv")
    if hours is not None:
        parts += table_html(
            hours,
            "Table #: per opening hour (front_door.csv): officers on duty, service level, mean "
            "wait (s) and occupancy; peak columns with the same officers",
            raw_text=True,
            table_id="front-door",
        )
    door_costs = front_door_costs(costs)  # whole pounds, adding up to the shown cost
    posts = door_costs.assign(role=door_costs["role"].map(ALL_ROLE_NAMES))
    parts += table_html(
        posts.round({"staff_hours_per_week": 2, "fte_before_rounding": 3}),
        "Table #: front-door posts and their cost a year",
        table_id="front-door-posts",
    )
    return parts


def report_html(result, folder: Path | str) -> str:
    """The page, from a run's Result and the CSV, PNG and manifest files in its folder."""
    folder = Path(folder)
    manifest_path = folder / "manifest.json"
    if manifest_path.is_file():
        body = json.loads(manifest_path.read_text())
    else:
        from planning.report import manifest

        body = manifest(result)
    sc = result.scenario
    summary_text, key_figures = _summary(result, body)
    sections: list[tuple[str, str]] = []
    sections.append(("Summary", summary_text + table_html(key_figures, "Key figures")))

    teams_csv = _csv(folder, "teams.csv")
    text = (
        "<p>Each team's patch is a set of whole areas that touch one another (an island "
        "joins by its bridge or ferry: see section 7). The centre area is the area the patch's "
        "travel is measured to. An interactive version of this map, with each area's figures, "
        'is in <a href="map.html">map.html</a> in the same folder.</p>'
    )
    text += image_html(
        folder / "teams.png",
        "Map of the team patches",
        "Figure 1: team patches, district boundaries (black) and, where placed, "
        "localities (dashed) and family hubs (stars: main; circles: community).",
    )
    if teams_csv is not None:
        text += table_html(teams_csv, "Table #: teams (teams.csv)", raw_text=True, table_id="teams")
    sections.append(("Team patches", text))

    hubs_csv = _csv(folder, "hubs.csv")
    if result.hubs is not None and hubs_csv is not None:
        text = (
            f"<p>Travel is measured as {html.escape(result.hubs.travel)}, weighted by "
            f"{html.escape(words(result.hubs.children_basis))}. Each area is served "
            "by its nearest open hub in its locality; each team is based at one hub.</p>"
        )
        text += table_html(
            hubs_csv, "Table #: open family hubs (hubs.csv)", raw_text=True, table_id="hubs"
        )
        access = _accessibility(result)
        same = [
            c
            for c in access.columns[1:]
            if len(access) > 1 and access[c].map(value_text).nunique() == 1
        ]
        if same:
            text += (
                "<p>Every locality has the same "
                + "; ".join(
                    f"{html.escape(words(c))}: {html.escape(cell_text(c, access[c].iloc[0]))}"
                    for c in same
                )
                + ".</p>"
            )
        text += table_html(access.drop(columns=same), "Table #: accessibility by locality")
        sections.append(("Family hubs", text))
    else:
        sections.append(("Family hubs", "<p>This scenario places no family hubs.</p>"))

    costs, posts = result.costs, result.posts
    staffing_csv = _csv(folder, "staffing.csv")
    by_role = role_costs(costs)
    text = (
        "<p>Posts are sized from each team's Family Help and child protection cases and the "
        "caseload targets in section 5; managers, senior practitioners and business support "
        "follow by ratio. Costs are per year and include on-costs, agency cover and non-pay "
        "as set out in the assumptions. The staffing workbook (staffing.xlsx) holds the same "
        "rows for finance to re-sort.</p>"
    )
    text += table_html(by_role, "Table #: FTE and cost by role", table_id="by-role")
    summary, shown = costs.summary(), cost_figures(costs)
    budget_rows: list[tuple[str, Any]] = [
        ("total cost a year", _gbp(shown["total_cost_gbp"])),
        ("total FTE", summary["total_fte"]),
        ("case-holding FTE", summary["case_holding_fte"]),
        ("budget", _gbp(shown["budget_gbp"])),
        ("budget position", shown["budget_position"]),
        ("headroom", _gbp(shown["headroom_gbp"])),
        ("shortfall", _gbp(shown["shortfall_gbp"])),
        ("minimum staffable cost a year", _gbp(shown["minimum_staffable_cost_gbp"])),
    ]
    fit = summary["within_budget"]
    if fit:
        budget_rows += [
            (
                "within budget: teams' cost a year"
                if costs.front_door is not None
                else "within budget: cost a year",
                _gbp(shown["within_budget_cost_gbp"]),
            ),
            ("within budget: FTE", fit["fte"]),
            ("within budget: worst caseload pressure", round(fit["worst_caseload_pressure"], 3)),
            ("within budget: pressure bound", _round(fit["pressure_bound"], 3)),
            ("within budget: solver status", fit["status"]),
            ("within budget: objective (worst coverage)", _round(fit["objective"], 4)),
            ("within budget: bound (worst coverage)", _round(fit["bound"], 4)),
            ("within budget: gap", _pct(fit["gap"])),
        ]
    text += table_html(
        pd.DataFrame(budget_rows, columns=["measure", "value"]),
        "Table #: cost and budget position",
        table_id="budget",
    )
    text += table_html(
        costs.unit_costs.assign(role=costs.unit_costs["role"].map(ALL_ROLE_NAMES)),
        "Table #: cost per funded FTE by role",
    )
    text += image_html(
        folder / "budget_curve.png",
        "Budget curve",
        "Figure 2: the worst caseload pressure (caseload per FTE over its target) "
        "each budget can achieve.",
    )
    if costs.curve is not None and len(costs.curve):
        text += table_html(
            costs.curve.assign(worst_role=costs.curve["worst_role"].map(ROLE_NAMES)),
            "Table #: budget curve",
        )
    text += table_html(
        posts.comparison,
        "Table #: the plan against the council's published figures (cases and caseloads)",
    )
    if staffing_csv is not None:
        text += table_html(
            staffing_csv,
            "Table #: posts by team and role (staffing.csv)",
            raw_text=True,
            table_id="staffing",
        )
    sections.append(("Staffing and costs", text))

    links = pd.DataFrame(body.get("links", []))
    text = (
        "<p>Every setting the run used, including defaults the scenario file did not state. "
        f"Scenario file: {html.escape(result.scenario_path.name)}.</p>"
    )
    text += table_html(
        assumptions_table(sc), "Table #: the resolved scenario", table_id="assumptions"
    )
    sections.append(("Assumptions", text))
    text = _evidence(result, body)
    sections.append(("Solver evidence", text))
    text = ""
    if len(links):
        text += table_html(links, "Table #: links joining areas that do not touch")
    text += table_html(
        pd.DataFrame(
            sorted(body.get("inputs_sha256", {}).items()), columns=["input file", "SHA-256"]
        ),
        "Table #: input files",
    )
    text += table_html(
        pd.DataFrame(sorted(body.get("versions", {}).items()), columns=["software", "version"]),
        "Table #: software",
    )
    sections.append(("Data, links and reproducibility", text))
    if result.front_door is not None:  # section 8: after the sections others refer to
        sections.append(("Front door", _front_door_html(result, folder)))
    areas_csv = _csv(folder, "areas.csv")
    if areas_csv is not None:
        sections.append(
            (
                "Annex: every area and its team",
                table_html(
                    areas_csv, "Table #: areas (areas.csv)", raw_text=True, table_id="areas"
                ),
            )
        )

    numbers = iter(range(1, 1000))
    sections = [
        (t, re.sub(r"<caption>Table #", lambda _: f"<caption>Table {next(numbers)}", c))
        for t, c in sections
    ]
    contents = "".join(
        f'<li><a href="#s{i}">{html.escape(t)}</a></li>'
        for i, (t, _) in enumerate(sections, start=1)
    )
    main = "".join(
        f'<section id="s{i}"><h2>{i}. {html.escape(t)}</h2>{c}</section>'
        for i, (t, c) in enumerate(sections, start=1)
    )
    description = (
        f'<p class="lead">{html.escape(sc.description.strip())}</p>' if sc.description else ""
    )
    return _PAGE.format(
        title=html.escape(sc.name),
        description=description,
        contents=contents,
        main=main,
        version=html.escape(str(body.get("versions", {}).get("planning", ""))),
    )


def write_report(result, folder: Path | str) -> Path:
    """Write report.html into a run folder that already holds the run's CSVs, maps and manifest."""
    path = Path(folder) / "report.html"
    text = report_html(result, folder)
    path.write_text(text, encoding="utf-8")
    log.info("report: %s, %.0f kB", path.name, len(text.encode()) / 1024)
    return path


def write_html_outputs(result, folder: Path | str) -> list[Path]:
    """report.html and map.html for a run folder (called last by ``planning.report``)."""
    from planning.webmap import write_map

    return [write_report(result, folder), write_map(result, Path(folder) / "map.html")]


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Appendix: {title}</title>
<style>
  body {{ font: 15px/1.5 Georgia, "Times New Roman", serif; color: #1b1b1b; max-width: 1100px;
    margin: 0 auto; padding: 24px 28px 60px; }}
  h1 {{ font-size: 24px; margin: 0 0 4px; }}
  h2 {{ font-size: 19px; border-bottom: 2px solid #1f4e79; padding-bottom: 2px;
    margin-top: 36px; color: #1f4e79; }}
  p.kicker {{ font: 600 13px system-ui, Arial, sans-serif; text-transform: uppercase;
    letter-spacing: .06em; color: #555; margin: 0; }}
  p.lead {{ font-size: 16px; }}
  nav ol {{ columns: 2; }}
  .wrap {{ overflow-x: auto; margin: 14px 0; }}
  table {{ border-collapse: collapse; font: 13px/1.35 system-ui, Arial, sans-serif; }}
  caption {{ text-align: left; font-weight: 600; padding: 4px 0; }}
  th, td {{ border-bottom: 1px solid #ddd; padding: 3px 8px; vertical-align: top; }}
  th {{ background: #eef2f7; text-align: left; position: sticky; top: 0; }}
  td.n {{ text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }}
  tbody tr:nth-child(even) {{ background: #fafafa; }}
  figure {{ margin: 16px 0; }}
  figure img {{ max-width: 100%; border: 1px solid #ddd; box-sizing: border-box; }}
  figcaption {{ font-size: 13px; color: #444; }}
  footer {{ margin-top: 40px; font-size: 12px; color: #555; }}
  caption {{ caption-side: top; }}
  /* On paper: A4, every table within the page width (cells wrap, long tables shrink their
     type), no scroll bars, headings and captions kept with what follows them. */
  @page {{ size: A4; margin: 14mm 12mm 16mm; }}
  @media print {{
    body {{ max-width: none; padding: 0; font-size: 10.5pt; }}
    nav ol {{ columns: 2; font-size: 9.5pt; }}
    .wrap {{ overflow: visible; margin: 8px 0; }}
    table {{ width: 100%; max-width: 100%; table-layout: auto; font-size: 7.5pt; }}
    table.wide {{ font-size: 6.5pt; }}
    th, td {{ padding: 1px 3px; }}
    td.long {{ overflow-wrap: anywhere; }}
    th {{ position: static; background: #eef2f7; }}
    thead {{ display: table-header-group; }}
    tr, figure, img {{ break-inside: avoid; }}
    caption {{ break-after: avoid; }}
    .wrap.short {{ break-inside: avoid; }}
    figure img {{ max-height: 230mm; width: auto; }}
    section {{ break-inside: auto; }} h2 {{ break-after: avoid; margin-top: 18px; }}
    a {{ color: inherit; text-decoration: none; }}
  }}
</style>
</head>
<body>
<header>
<p class="kicker">Appendix: Family Help team design</p>
<h1>{title}</h1>
{description}
</header>
<nav><ol>{contents}</ol></nav>
<main>{main}</main>
<footer><p>Produced by planning {version}. Contains OS data &copy; Crown copyright and database
right; ONS, MHCLG and DfE data under the Open Government Licence v3.0. The run's manifest.json
records the scenario, input hashes, software versions and solver status.</p></footer>
</body>
</html>
"""
