"""The national picture from every council's record and run folder: tables, map, check, page.

``national_table`` has one row per council (failures included, with their message and exit
class) and the check against the published workforce: the plan's social-work case-holding FTE
beside the DfE children's social work workforce census (case-holding FTE and caseload, the
latest year each council has). ``write_national`` writes england.csv, england.xlsx, england.gpkg,
england.png, england.html and england_manifest.json into DIR, each through a staging folder.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from planning.data import CRS
from planning.england.run import MARKER, EnglandRun
from planning.england.task import COUNCILS
from planning.report import created_utc, json_ready, library_versions, planner_commit
from planning.rounding import whole
from planning.solve import solver_versions
from planning.workforce import ROLE_NAMES, published_workforce

NATIONAL_FILES = (
    "england.csv",
    "england.xlsx",
    "england.gpkg",
    "england.png",
    "england.html",
    "england_manifest.json",
)
#: A council whose modelled FTE is this far (as a ratio) from the published one is labelled.
OUTLIER_RATIO = 1.5
ROW_COLUMNS = [
    "areas",
    "residents",
    "children_0_17",
    "nesting",
    "groups",
    "teams",
    "below_band_teams",
    "status",
    "gap",
    "gap_at_plan_counts",
    "objective",
    "bound",
    "allocation_seconds",
    "hubs",
    *[f"fte_{role}" for role in ROLE_NAMES],
    "case_holding_fte",
    "social_work_case_holding_fte",
    "front_door_fte",
    "total_fte",
    "cost_gbp",
]
TEAM_FIELDS = [
    "council_code",
    "council_name",
    "team_id",
    "team_group",
    "n_areas",
    "residents",
    "children_0_17",
    "below_band",
    "team_colour",
    "geometry",
]


def national_table(run: EnglandRun, data_dir: Path | str) -> pd.DataFrame:
    """One row per council, largest first: plan, evidence and the published comparison."""
    published = published_workforce(data_dir)
    rows = []
    for council in run.councils:
        record = run.records.get(council.code, {})
        done = record.get("status") == "done"
        row: dict[str, Any] = {
            "council_code": council.code,
            "council_name": council.name,
            "run_status": record.get("status", "not run"),
            "exit_code": record.get("exit_code", ""),
            "error": record.get("error", ""),
            "message": record.get("message", "")[:500],
        }
        plan = record.get("row", {}) if done else {}
        row.update({col: plan.get(col, np.nan) for col in ROW_COLUMNS})
        if not done:
            row["areas"] = council.areas
        pub = published.loc[council.code] if council.code in published.index else None
        row["published_year"] = int(pub["year"]) if pub is not None else np.nan
        row["published_case_holders_fte"] = pub["case_holders_fte"] if pub is not None else np.nan
        row["published_caseload_fte"] = pub["caseload_fte"] if pub is not None else np.nan
        row["published_cases"] = pub["cases"] if pub is not None else np.nan
        row["modelled_to_published_fte"] = (
            row["social_work_case_holding_fte"] / row["published_case_holders_fte"]
            if done and pub is not None and pub["case_holders_fte"] > 0
            else np.nan
        )
        row["task_seconds"] = record.get("seconds", np.nan)
        row["worker_peak_mb"] = record.get("peak_mb", np.nan)
        row["skipped_as_done"] = council.code in run.skipped
        rows.append(row)
    return pd.DataFrame(rows)


def comparison_summary(table: pd.DataFrame) -> dict[str, Any]:
    """The spread of modelled against published social-work case-holding FTE."""
    ratio = table["modelled_to_published_fte"].dropna()
    if ratio.empty:
        return {"councils_compared": 0}
    both = table.dropna(subset=["modelled_to_published_fte"])
    log_ratio = np.log(ratio)
    outliers = both[
        (both.modelled_to_published_fte > OUTLIER_RATIO)
        | (both.modelled_to_published_fte < 1 / OUTLIER_RATIO)
    ]
    return {
        "councils_compared": len(ratio),
        "modelled_fte": float(both.social_work_case_holding_fte.sum()),
        "published_fte": float(both.published_case_holders_fte.sum()),
        "ratio_median": float(ratio.median()),
        "ratio_p10": float(ratio.quantile(0.1)),
        "ratio_p90": float(ratio.quantile(0.9)),
        "geometric_mean_ratio": float(np.exp(log_ratio.mean())),
        "correlation": float(
            np.corrcoef(both.social_work_case_holding_fte, both.published_case_holders_fte)[0, 1]
        )
        if len(both) > 1
        else float("nan"),
        "within_25_percent": int(((ratio > 0.75) & (ratio < 1.25)).sum()),
        "outliers": [
            {"code": r.council_code, "name": r.council_name, "ratio": r.modelled_to_published_fte}
            for r in outliers.itertuples()
        ],
    }


def scatter_figure(table: pd.DataFrame) -> Figure:
    """Modelled against published social-work case-holding FTE, with the line of equality."""
    both = table.dropna(subset=["modelled_to_published_fte"])
    fig = Figure(figsize=(7.5, 7), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x, y = both.published_case_holders_fte, both.social_work_case_holding_fte
    top = float(max(x.max(), y.max(), 1.0)) * 1.08 if len(both) else 1.0
    ax.plot([0, top], [0, top], color="#888", lw=1, ls="--", label="modelled = published")
    ax.scatter(x, y, s=16, color="#1f4e79", label=f"councils ({len(both)})")
    for r in both.itertuples():
        if r.modelled_to_published_fte > OUTLIER_RATIO or r.modelled_to_published_fte < (
            1 / OUTLIER_RATIO
        ):
            ax.annotate(
                r.council_name,
                (r.published_case_holders_fte, r.social_work_case_holding_fte),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
    ax.set(xlim=(0, top), ylim=(0, top), aspect="equal")
    ax.set_xlabel("published case-holding social-worker FTE (DfE CSWW, latest year)")
    ax.set_ylabel("modelled social-work case-holding FTE")
    ax.set_title(f"Modelled against published; labelled: more than {OUTLIER_RATIO:g}x apart")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def national_teams(run: EnglandRun) -> gpd.GeoDataFrame:
    """Every done council's teams in one layer (EPSG:27700), read from its teams.gpkg."""
    frames = []
    for code, record in sorted(run.records.items()):
        if record.get("status") != "done":
            continue
        teams = gpd.read_file(run.out_dir / COUNCILS / code / "teams.gpkg", layer="teams")
        teams.insert(0, "council_name", record["name"])
        teams.insert(0, "council_code", code)
        frames.append(teams[TEAM_FIELDS])
    if not frames:
        return gpd.GeoDataFrame(columns=TEAM_FIELDS, geometry="geometry", crs=CRS)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=CRS)


def england_map(teams: gpd.GeoDataFrame, outlines: gpd.GeoDataFrame, title: str) -> Figure:
    """Team boundaries inside council outlines, with a legend."""
    fig = Figure(figsize=(10, 12), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if len(teams):
        # each council's own map colours: touching teams never share one
        teams.plot(ax=ax, color=teams.team_colour.tolist(), edgecolor="#555", linewidth=0.15)
        outlines.boundary.plot(ax=ax, color="#111", linewidth=0.6)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    ax.legend(
        handles=[
            Patch(facecolor="#b2df8a", edgecolor="#555", label=f"team patch ({len(teams):,})"),
            Line2D([0], [0], color="#111", lw=1.2, label=f"council ({len(outlines)})"),
        ],
        loc="upper left",
        fontsize=9,
    )
    ax.set_title(title, fontsize=12)
    ax.set_axis_off()
    ax.set_aspect("equal")
    fig.tight_layout()
    return fig


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def national_manifest(run: EnglandRun, table: pd.DataFrame, summary: dict) -> dict[str, Any]:
    """Template, inputs, versions and every council's status and evidence."""
    done = table[table.run_status == "done"]
    gaps = done["gap"].astype(float)
    return {
        "template_file": str(run.template_path),
        "template": run.template,
        "fingerprint": run.fingerprint,
        "inputs_sha256": run.inputs_sha256,
        "created_utc": created_utc(),
        "planner_git": planner_commit(),
        "versions": {**solver_versions(), **library_versions()},
        "scheduler": run.scheduler,
        "workers": run.workers,
        "wall_seconds": run.wall_seconds,
        "councils": len(table),
        "done": len(done),
        "failed": int((table.run_status == "failed").sum()),
        "ran_this_time": sorted(run.ran),
        "skipped_as_done": sorted(run.skipped),
        "teams": int(done.teams.sum()),
        "gap_within_target": int((gaps <= 0.01 + 1e-12).sum()),
        "gap_max": float(gaps.max()) if len(gaps) else None,
        "gap_at_plan_counts_within_target": int(
            (done["gap_at_plan_counts"].astype(float) <= 0.01 + 1e-12).sum()
        ),
        "published_workforce_check": summary,
        "per_council": [
            {
                k: json_ready(r[k])
                for k in (
                    "council_code",
                    "council_name",
                    "run_status",
                    "exit_code",
                    "status",
                    "gap",
                    "objective",
                    "bound",
                    "teams",
                    "task_seconds",
                    "message",
                )
            }
            for _, r in table.iterrows()
        ],
    }


def _html_table(frame: pd.DataFrame, caption: str) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for _, row in frame.iterrows():
        cells = []
        for value in row:
            if isinstance(value, (float, np.floating)):
                text = "" if np.isnan(value) else f"{value:,.2f}"
                cells.append(f'<td class="n">{text}</td>')
            elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
                cells.append(f'<td class="n">{value:,}</td>')
            else:
                cells.append(f"<td>{html.escape(str(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<div class="wrap"><table><caption>{html.escape(caption)}</caption><thead><tr>{head}'
        f"</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def national_page(table: pd.DataFrame, manifest: dict, map_png: bytes, scatter_png: bytes) -> str:
    """england.html: one self-contained page (images inline)."""
    done = table[table.run_status == "done"]
    failed = table[table.run_status != "done"]
    summary = manifest["published_workforce_check"]

    def img(data: bytes, alt: str) -> str:
        return f'<img src="data:image/png;base64,{base64.b64encode(data).decode()}" alt="{alt}">'

    plan_cols = [
        "council_code",
        "council_name",
        "areas",
        "residents",
        "children_0_17",
        "teams",
        "status",
        "gap",
        "allocation_seconds",
        "case_holding_fte",
        "total_fte",
        "cost_gbp",
    ]
    check_cols = [
        "council_code",
        "council_name",
        "social_work_case_holding_fte",
        "published_case_holders_fte",
        "published_year",
        "published_caseload_fte",
        "modelled_to_published_fte",
    ]
    evidence_cols = [
        "council_code",
        "council_name",
        "status",
        "objective",
        "bound",
        "gap",
        "gap_at_plan_counts",
        "allocation_seconds",
        "task_seconds",
        "worker_peak_mb",
    ]
    lines = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>Family Help teams: England</title><style>",
        "body{font:15px/1.5 Georgia,serif;max-width:1150px;margin:0 auto;padding:24px}",
        "table{border-collapse:collapse;font:12px system-ui,Arial,sans-serif}",
        "th,td{border-bottom:1px solid #ddd;padding:2px 6px}th{background:#eef2f7}",
        "td.n{text-align:right;font-variant-numeric:tabular-nums}.wrap{overflow-x:auto}",
        "img{max-width:100%}h2{color:#1f4e79;border-bottom:2px solid #1f4e79}",
        "</style></head><body>",
        "<h1>Family Help teams: England</h1>",
        f"<p>{manifest['done']} of {manifest['councils']} councils planned, "
        f"{manifest['failed']} failed; {manifest['teams']:,} teams; "
        f"{whole(done.total_fte.sum()):,} FTE costing £{whole(done.cost_gbp.sum()):,} a year. "
        f"Allocation proven within 1% in {manifest['gap_within_target']} councils; largest gap "
        f"{100 * (manifest['gap_max'] or 0):.2f}%. Run of {manifest['wall_seconds']:,.0f} s on "
        f"{manifest['workers']} Dask workers.</p>",
        "<h2>Map</h2>",
        img(map_png, "England's team patches within council outlines"),
        "<h2>Councils</h2>",
        _html_table(done[plan_cols], "Each council's plan"),
        "<h2>Failures</h2>",
        _html_table(
            failed[["council_code", "council_name", "run_status", "exit_code", "error", "message"]],
            "Councils without a plan, with the planner's message",
        )
        if len(failed)
        else "<p>None: every council has a plan.</p>",
        "<h2>Check against the published workforce</h2>",
        f"<p>{summary.get('councils_compared', 0)} councils compared. Modelled social-work "
        f"case-holding FTE is a median {summary.get('ratio_median', float('nan')):.2f} times the "
        f"published case-holding FTE (10th-90th percentile "
        f"{summary.get('ratio_p10', float('nan')):.2f}-{summary.get('ratio_p90', float('nan')):.2f}"
        f"); {summary.get('within_25_percent', 0)} within 25%. The published count is every "
        "case-holding social worker in children's social care (children in need, child "
        "protection, looked-after children, care leavers and more); the model counts the "
        "qualified social workers its Family Help teams need for family help and child "
        "protection cases at the scenario's caseload targets.</p>",
        img(scatter_png, "Modelled against published social-work FTE"),
        _html_table(done[check_cols], "Modelled and published case-holding FTE"),
        "<h2>Solver evidence</h2>",
        _html_table(done[evidence_cols], "Allocation status, objective, bound and gap"),
        "</body></html>",
    ]
    return "\n".join(lines) + "\n"


def write_national(run: EnglandRun, data_dir: Path | str) -> dict[str, Path]:
    """Write the national files into DIR, each replaced whole; returns them by name."""
    table = national_table(run, data_dir)
    summary = comparison_summary(table)
    manifest = national_manifest(run, table, summary)
    teams = national_teams(run)
    outlines = (
        teams.dissolve(by=["council_code", "council_name"], as_index=False)[
            ["council_code", "council_name", "geometry"]
        ]
        if len(teams)
        else gpd.GeoDataFrame(columns=["council_code", "council_name", "geometry"], crs=CRS)
    )
    title = f"Family Help team patches: {len(teams):,} teams in {len(outlines)} councils"
    map_png = _png(england_map(teams, outlines, title))
    scatter_png = _png(scatter_figure(table))
    staging = Path(tempfile.mkdtemp(prefix=f".national-staging-{os.getpid()}-", dir=run.out_dir))
    try:
        table.to_csv(staging / "england.csv", index=False, lineterminator="\n")
        with pd.ExcelWriter(staging / "england.xlsx", engine="openpyxl") as xlsx:
            table.to_excel(xlsx, sheet_name="councils", index=False)
            pd.DataFrame(
                [
                    {"measure": k, "value": json.dumps(v) if isinstance(v, list) else v}
                    for k, v in summary.items()
                ]
            ).to_excel(xlsx, sheet_name="published check", index=False)
        if len(teams):
            teams.to_file(staging / "england.gpkg", layer="teams", driver="GPKG")
            outlines.to_file(staging / "england.gpkg", layer="councils", driver="GPKG")
        (staging / "england.png").write_bytes(map_png)
        (staging / "england.html").write_text(
            national_page(table, manifest, map_png, scatter_png), encoding="utf-8"
        )
        (staging / "england_manifest.json").write_text(
            json.dumps(json_ready(manifest), indent=1) + "\n", encoding="utf-8"
        )
        written = {}
        for path in sorted(staging.iterdir()):
            os.replace(path, run.out_dir / path.name)
            written[path.name] = run.out_dir / path.name
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    (run.out_dir / MARKER).write_text(
        json.dumps({"written_by": "planning england", "files": sorted(written)}) + "\n"
    )
    return written
