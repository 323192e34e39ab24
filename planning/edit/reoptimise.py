"""Re-optimise the rest: the allocation run again with the locked areas fixed together.

The locks are written as a CSV (area_code, team) and named by a derived scenario YAML (the
run's scenario, its files made absolute, plus ``teams.fixed_areas_csv``); the allocation runs
in a worker process with the scenario's own solver settings and time limit, so the server stays
responsive. Errors come back as data (message and exit code), never as a crash.
"""

from __future__ import annotations

import csv
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from planning.config import TeamSettings
from planning.edit.run_folder import FILE_SETTINGS
from planning.studio import match_teams

LOCKS_SETTING = "fixed_areas_csv"


def locks_supported() -> bool:
    """Whether this planner's allocation model reads ``teams.fixed_areas_csv``."""
    return LOCKS_SETTING in TeamSettings.model_fields


def derived_scenario(
    raw: dict[str, Any], scenario_path: Path, data_dir: Path, locks_csv: str
) -> dict[str, Any]:
    """The run's scenario (as its manifest records it) with every file it names made absolute
    against its own folder, its data folder fixed, and ``teams.fixed_areas_csv`` added."""
    out = yaml.safe_load(yaml.safe_dump(raw, sort_keys=False))  # a deep, plain copy
    base = Path(scenario_path).resolve().parent
    for section, key in FILE_SETTINGS:
        part = out.get(section)
        if isinstance(part, dict) and part.get(key) is not None:
            part[key] = str((base / part[key]).resolve())
    out["data_dir"] = str(Path(data_dir).resolve())
    out.setdefault("teams", {})[LOCKS_SETTING] = locks_csv
    return out


def write_inputs(
    folder: Path, raw: dict[str, Any], scenario_path: Path, data_dir: Path, rows: list
) -> Path:
    """locks.csv and scenario.yaml in ``folder``; returns the scenario's path."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "locks.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["area_code", "team"])
        writer.writerows(rows)
    scenario = derived_scenario(raw, scenario_path, data_dir, "locks.csv")
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8")
    return path


def allocate_with_locks(scenario_yaml: str) -> dict[str, Any]:
    """In a worker process: the derived scenario's allocation. Returns the plan and its proof,
    or ``{"error": message, "exit_code": n}`` for a planning error (a lock that cannot hold)."""
    from planning.config import load_scenario
    from planning.data import load_areas
    from planning.errors import PlanningError
    from planning.geography import build_geography
    from planning.pipeline import allocation_stage, allocation_table

    path = Path(scenario_yaml)
    try:
        scenario = load_scenario(path)
        area_data = load_areas(scenario.councils, scenario.data_dir)
        geo = build_geography(area_data.areas, scenario.geography)
        table = allocation_table(scenario, area_data)
        plan = allocation_stage(scenario, path, table, geo)
    except PlanningError as exc:
        return {"error": str(exc), "kind": type(exc).__name__, "exit_code": exc.exit_code}
    return {
        "assignment": {str(k): str(v) for k, v in plan.assignment.items()},
        "status": plan.status,
        "objective": plan.objective,
        "bound": plan.bound,
        "gap": plan.gap,
        "seconds": round(plan.seconds, 2),
    }


def start(scenario_yaml: Path) -> tuple[Future, ProcessPoolExecutor]:
    """Run ``allocate_with_locks`` in a fresh worker process (spawned: no state shared)."""
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    return pool.submit(allocate_with_locks, str(scenario_yaml)), pool


def relabel(before: pd.Series, after: pd.Series, weights: pd.Series) -> pd.Series:
    """``after``'s teams renamed to the teams of ``before`` they share most residents with
    (as ``planning compare`` matches them), so ids and locks carry over; unmatched teams get
    fresh ids."""
    from planning.edit.session import new_team_id

    names = match_teams(before.astype(str), after.astype(str), weights)
    used = set(names.values())
    for team in sorted(set(after.astype(str)) - set(names)):
        names[team] = new_team_id(used | set(before))
        used.add(names[team])
    return after.astype(str).map(names)
