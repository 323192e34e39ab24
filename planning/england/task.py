"""One council's run, as one Dask task: scenario from the template, every stage, its run folder.

``plan_council`` runs in a worker process. It writes the council's scenario file and its run
folder (exactly as ``planning run`` writes it) and returns a record: status, the national
table's row and the evidence (gap, seconds, peak memory). A planning error (bad data, no plan
in the band) is a result, returned with its message and exit class; anything else is raised so
Dask retries it.
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path
from typing import Any

from planning.england.template import council_scenario, scenario_yaml
from planning.errors import PlanningError
from planning.rounding import whole
from planning.workforce import CASE_HOLDING, ROLE_NAMES

SCENARIOS = "scenarios"  # DIR/scenarios/CODE.yaml: each council's scenario
COUNCILS = "councils"  # DIR/councils/CODE/: each council's run folder
RECORDS = "records"  # DIR/records/CODE.json: each council's record


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def peak_mb() -> float:
    """This process's peak resident memory so far, in MB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def council_row(result) -> dict[str, Any]:
    """The national table's row for one council's Result."""
    areas = result.area_data.areas
    teams = result.teams
    posts = result.posts.table
    fte = posts.groupby("role")["fte"].sum()
    summary = result.costs.summary()
    comparison = result.posts.comparison.set_index("council_code").iloc[0]
    row: dict[str, Any] = {
        "areas": len(areas),
        "residents": whole(float(areas.residents.sum())),
        "children_0_17": whole(float(areas.children_0_17.sum())),
        "nesting": result.scenario.teams.nesting,
        "groups": len(teams.blocks),
        "teams": len(teams.teams),
        "below_band_teams": len(teams.below_band_teams),
        "status": teams.status,
        "objective": teams.objective,
        "bound": teams.bound,
        "gap": teams.gap,
        "gap_at_plan_counts": teams.count_gap,
        "allocation_seconds": round(teams.seconds, 2),
        "hubs": 0 if result.hubs is None else len(result.hubs.hubs),
    }
    for role in ROLE_NAMES:
        row[f"fte_{role}"] = float(fte.get(role, 0.0))
    row["case_holding_fte"] = float(fte[fte.index.isin(CASE_HOLDING)].sum())
    row["social_work_case_holding_fte"] = float(comparison["plan_social_work_case_holding_fte"])
    row["front_door_fte"] = float(result.costs.front_door_fte)
    row["total_fte"] = float(summary["total_fte"])
    row["cost_gbp"] = float(summary["total_cost_gbp"])
    return row


def plan_council(
    code: str,
    name: str,
    template: dict[str, Any],
    template_path: str,
    data_dir: str | None,
    root: str,
    fingerprint: str,
) -> dict[str, Any]:
    """Run one council into ``root``; its record (never raises for a planning error)."""
    from planning.pipeline import run_scenario
    from planning.report import write_outputs

    start = time.monotonic()
    root_dir = Path(root)
    record: dict[str, Any] = {
        "code": code,
        "name": name,
        "fingerprint": fingerprint,
        "worker_pid": os.getpid(),
    }
    try:
        scenario = council_scenario(template, code, name, data_dir)
        path = root_dir / SCENARIOS / f"{code}.yaml"
        write_atomic(path, scenario_yaml(scenario, Path(template_path), code))
        result = run_scenario(path, data_dir)
        write_outputs(result, root_dir / COUNCILS / code)
        record.update(status="done", exit_code=0, message="", row=council_row(result))
    except PlanningError as exc:
        record.update(
            status="failed", exit_code=exc.exit_code, error=type(exc).__name__, message=str(exc)
        )
    record["seconds"] = round(time.monotonic() - start, 2)
    record["peak_mb"] = peak_mb()
    return record
