"""Read a run folder written by ``planning run`` (manifest, areas.csv, teams.csv) and rebuild
its Result without solving: the same areas and geography, the plan read back, and the stages
after allocation run again for it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from planning.allocate import TeamPlan
from planning.config import Scenario, describe_validation_error
from planning.data import load_areas
from planning.errors import ConfigError
from planning.geography import build_geography
from planning.pipeline import Result, allocation_table, current_plan, result_for_plan
from planning.studio import Comparison

#: Scenario settings that name a file relative to the scenario's folder.
FILE_SETTINGS = (
    ("teams", "current_plan_csv"),
    ("hubs", "sites_csv"),
    ("hubs", "travel_time_csv"),
    ("front_door", "arrivals_csv"),
)


@dataclass(frozen=True)
class RunFolder:
    """What a run folder says about its run."""

    path: Path
    manifest: dict[str, Any]
    scenario: Scenario
    scenario_path: Path  # the scenario file it was run from (its folder resolves relative paths)
    data_dir: Path
    assignment: pd.Series  # team per area code, from areas.csv
    teams: pd.DataFrame  # teams.csv


def _named_files(raw: dict[str, Any]) -> list[str]:
    return [
        f"{s}.{k}"
        for s, k in FILE_SETTINGS
        if isinstance(raw.get(s), dict) and raw[s].get(k) is not None
    ]


def read_run_folder(path: Path | str) -> RunFolder:
    """A run folder's manifest, scenario and plan; a ConfigError (one line) when ``path`` is
    missing, not a folder or not a run folder written by ``planning run``."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such folder; give a run folder written by planning run")
    if not path.is_dir():
        raise ConfigError(f"{path}: is a file, not a run folder written by planning run")
    missing = [n for n in ("manifest.json", "areas.csv", "teams.csv") if not (path / n).is_file()]
    if missing:
        raise ConfigError(
            f"{path}: not a run folder written by planning run (no {', '.join(missing)})"
        )
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        raw = manifest["scenario"]
        data_dir = Path(manifest["data_dir"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise ConfigError(
            f"{path}/manifest.json: cannot be read as a planning run's manifest (no scenario or "
            "data_dir); run the scenario again with planning run"
        ) from None
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        raise describe_validation_error(exc, f"{path}/manifest.json (scenario)") from None
    scenario_path = Path(manifest.get("scenario_path") or path / "scenario.yaml")
    named = _named_files(raw)
    if named and not scenario_path.parent.is_dir():
        raise ConfigError(
            f"{path}: the scenario names files relative to its own folder ({', '.join(named)}) "
            f"but its folder {scenario_path.parent} is not there; run it again with planning run"
        )
    try:
        areas = pd.read_csv(path / "areas.csv", dtype={"area_code": str, "team_id": str})
        teams = pd.read_csv(path / "teams.csv", dtype={"team_id": str})
        assignment = areas.set_index("area_code")["team_id"]
    except (ValueError, KeyError, pd.errors.ParserError):
        raise ConfigError(
            f"{path}: areas.csv or teams.csv cannot be read (need area_code, team_id)"
        ) from None
    return RunFolder(path, manifest, scenario, scenario_path, data_dir, assignment, teams)


def team_plan(run: RunFolder, area_codes: pd.Index) -> TeamPlan:
    """The run's TeamPlan: its plan from areas.csv and teams.csv, its proof from the manifest."""
    m = run.manifest
    codes = pd.Index(area_codes)
    if set(codes) != set(run.assignment.index):
        raise ConfigError(
            f"{run.path}/areas.csv: its areas are not the scenario's "
            f"({len(run.assignment)} in the file, {len(codes)} in the data); the data folder "
            "may have changed since the run"
        )
    assignment = run.assignment.reindex(codes).astype(str)
    assignment.index.name = "area_code"
    teams = run.teams.drop(columns=[c for c in ("base_hub",) if c in run.teams])
    if "below_band" in teams:
        teams["below_band"] = teams["below_band"].astype(str).eq("True")
    return TeamPlan(
        assignment=assignment.rename("team_id"),
        teams=teams,
        status=str(m.get("status", "unknown")),
        objective=float(m.get("objective") or 0.0),
        bound=float(m.get("bound") or 0.0),
        gap=float(m.get("gap") or 0.0),
        seconds=float(m.get("seconds") or 0.0),
        population_basis=run.scenario.teams.population_basis,
        blocks=list(m.get("allocation_by_group") or []),
        pairs=list(m.get("allocation_pairs") or []),
        below_band_teams=list(m.get("below_band_teams") or []),
        tuning=dict(m.get("allocation_tuning") or {}),
    )


def rebuild(run: RunFolder) -> tuple[Result, pd.Series | None]:
    """The run's Result (its plan as written, the later stages run again) and the scenario's
    current plan labels (None without ``teams.current_plan_csv``)."""
    area_data = load_areas(run.scenario.councils, run.data_dir)
    geo = build_geography(area_data.areas, run.scenario.geography)
    # with a workload band or basis, the areas carry their workload, as in run_stages
    area_data = replace(area_data, areas=allocation_table(run.scenario, area_data))
    teams = team_plan(run, pd.Index(area_data.areas.area_code))
    result = result_for_plan(run.scenario, run.scenario_path, area_data, geo, teams)
    current = current_plan(run.scenario, run.scenario_path, area_data.areas)
    if current is not None:
        current = pd.Series(current.to_numpy(), index=area_data.areas.area_code.to_numpy())
    return result, current


def compare_paths(
    paths: list[Path],
    data_dir: Path | str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Comparison:
    """``planning compare`` over scenario files and run folders alike: a run folder (a
    manifest, areas.csv and teams.csv, e.g. a plan saved by ``planning edit``) is compared as
    it was written, not solved again; a scenario file is run as ``compare`` runs it."""
    from planning.pipeline import STAGES
    from planning.studio import compare_results, naming, run_file, scenario_labels

    if len(paths) < 2:
        raise ConfigError(f"compare needs at least two scenarios or run folders, got {len(paths)}")
    labels = scenario_labels([Path(p) for p in paths])
    cache: dict[str, Any] = {}
    results = []
    for label, path in zip(labels, paths, strict=True):
        with naming(f"{label} ({path})"):
            if Path(path).is_dir():
                results.append(rebuild(read_run_folder(path))[0])
                for stage in STAGES if progress is not None else ():
                    progress(f"{label}: {stage}")
            else:
                results.append(run_file(path, data_dir, cache, progress))
    return compare_results(labels, results)
