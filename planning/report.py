"""The only writer of a run's outputs: CSV, GeoPackage, maps, staffing workbook and manifest.

Everything is written into a staging folder first and moved into place only when all of it has
been written, so a failed run leaves no partial outputs.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

import planning
from planning.data import REFERRALS_FILE, file_sha256
from planning.errors import ConfigError
from planning.maps import team_map, team_polygons
from planning.pipeline import Result
from planning.solve import solver_versions
from planning.workbook import write_staffing
from planning.workforce import RATE_FILES

log = logging.getLogger(__name__)

AREA_COLUMNS = [
    "area_code",
    "area_name",
    "team_id",
    "district_code",
    "district_name",
    "residents",
    "children_0_17",
]
EXTRA_AREA_COLUMNS = [
    "ward_code",
    "ward_name",
    "council_code",
    "children_0_19",
    "children_0_24",
    "imd_score",
    "imd_decile",
]


def _json_ready(value):
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Path):
        return str(value)
    return value


def areas_table(result: Result) -> pd.DataFrame:
    areas = result.area_data.areas.drop(columns="geometry").copy()
    areas["team_id"] = areas.area_code.map(result.teams.assignment)
    for col in ("residents", "children_0_17", "children_0_19", "children_0_24"):
        areas[col] = areas[col].round(2)
    return areas[AREA_COLUMNS + EXTRA_AREA_COLUMNS].sort_values("area_code")


def teams_table(result: Result) -> pd.DataFrame:
    teams = result.teams.teams.copy()
    if result.hubs is not None:
        teams["base_hub"] = teams.team_id.map(result.hubs.team_base)
    return teams


def manifest(result: Result) -> dict:
    teams = result.teams
    data_dir = result.area_data.data_dir
    inputs = dict(result.area_data.input_hashes)
    for rel in sorted(RATE_FILES.values()):
        path = data_dir / rel
        if path.is_file():
            inputs[rel] = file_sha256(path)
    door = result.front_door
    if door is not None:
        if door.demand.referrals_year is not None and (data_dir / REFERRALS_FILE).is_file():
            inputs[REFERRALS_FILE] = file_sha256(data_dir / REFERRALS_FILE)
        if door.settings.arrivals_csv is not None:
            csv = result.scenario_path.parent / door.settings.arrivals_csv
            inputs[f"front_door.arrivals_csv ({door.settings.arrivals_csv})"] = file_sha256(csv)
    body = {
        "scenario": result.scenario.model_dump(mode="json"),
        "scenario_file": result.scenario_path.name,
        "status": teams.status,
        "objective": teams.objective,
        "objective_units": f"person-km ({teams.population_basis} x km to the team's centre area)",
        "bound": teams.bound,
        "gap": teams.gap,
        "seconds": round(teams.seconds, 2),
        "teams": len(teams.teams),
        "areas": len(result.area_data.areas),
        "allocation_by_group": teams.blocks,
        "links": [link.__dict__ for link in result.geo.links],
        "inputs_sha256": dict(sorted(inputs.items())),
        "versions": {
            "planning": planning.__version__,
            "python": platform.python_version(),
            **solver_versions(),
            "numpy": np.__version__,
            "pandas": pd.__version__,
        },
    }
    if result.hubs is not None:
        plan = result.hubs
        body["hubs"] = {
            "travel": plan.travel,
            "children_basis": plan.children_basis,
            "proven_optimal": plan.proven,
            "localities": plan.accessibility,
            "solver_runs": plan.evidence_records(),
        }
    body["staffing"] = result.costs.summary()
    if door is not None:
        body["front_door"] = {
            **door.summary(),
            "cost_gbp": result.costs.front_door_gbp,
            "posts_costed": result.costs.front_door.to_dict("records"),
        }
    body["published_rates"] = result.posts.comparison.to_dict(orient="records")
    return _json_ready(body)


def _write_all(result: Result, folder: Path) -> None:
    areas_table(result).to_csv(folder / "areas.csv", index=False, lineterminator="\n")
    teams_table(result).to_csv(folder / "teams.csv", index=False, lineterminator="\n")
    gdf = result.area_data.areas[
        ["area_code", "area_name", "district_code", "residents", "children_0_17", "geometry"]
    ].copy()
    gdf["team_id"] = gdf.area_code.map(result.teams.assignment)
    polygons = team_polygons(result.area_data.areas, result.teams.assignment)
    team_layer = polygons.merge(teams_table(result), on="team_id")
    gpkg = folder / "teams.gpkg"
    gdf.to_file(gpkg, layer="areas", driver="GPKG")
    team_layer.to_file(gpkg, layer="teams", driver="GPKG")
    if result.hubs is not None:
        from planning.hubs import hubs_layer, localities_layer

        hubs_layer(result.hubs).to_file(gpkg, layer="hubs", driver="GPKG")
        localities_layer(result.area_data.areas, result.hubs).to_file(
            gpkg, layer="localities", driver="GPKG"
        )
        result.hubs.hubs.to_csv(folder / "hubs.csv", index=False, lineterminator="\n")
    fig = team_map(result, polygons)
    fig.savefig(folder / "teams.png", metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
    body = manifest(result)
    run_info = {
        "scenario": result.scenario.name,
        "allocation status": body["status"],
        "allocation gap": body["gap"],
        "planning version": body["versions"]["planning"],
        "HiGHS version": body["versions"]["highs"],
    }
    write_staffing(
        folder, result.posts, result.costs, result.scenario.name, run_info, result.front_door
    )
    (folder / "manifest.json").write_text(json.dumps(body, indent=2, sort_keys=False) + "\n")
    from planning.htmlreport import write_html_outputs  # reads the files above: keep it last

    write_html_outputs(result, folder)  # report.html and map.html


MARKER = ".planning-output"  # in every output folder: the files the planner wrote there
_held_locks: set[Path] = set()


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _tree(folder: Path) -> list[str]:
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if not p.is_dir() and p != folder / MARKER
    )


def check_out_dir(out_dir: Path | str) -> Path:
    """The output-folder rule: ``out_dir`` may be missing, empty, or a previous planning output
    holding only files the planner wrote there. Anything else is refused (exit 2)."""
    if str(out_dir).strip() == "":
        raise ConfigError("--out: an output folder is required (got an empty path)")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--out {out_dir}: is a file, not a folder; choose a folder")
    if not out_dir.is_dir() or not any(out_dir.iterdir()):
        return out_dir
    marker = out_dir / MARKER
    if not marker.is_file():
        raise ConfigError(
            f"--out {out_dir}: the folder is not empty and is not a previous planning output "
            f"(no {MARKER} file); choose a new or empty folder. Nothing was written."
        )
    try:
        ours = set(json.loads(marker.read_text(encoding="utf-8"))["files"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise ConfigError(
            f"--out {out_dir}: {MARKER} cannot be read, so the planner cannot tell its own files "
            "from yours; choose a new or empty folder"
        ) from None
    foreign = [name for name in _tree(out_dir) if name not in ours]
    if foreign:
        shown = ", ".join(foreign[:5]) + (
            f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
        )
        raise ConfigError(
            f"--out {out_dir}: a previous planning output, but it holds files the planner did not "
            f"write ({shown}); a new run replaces the whole folder, so move them out or choose "
            "another folder"
        )
    return out_dir


def clean_stale_staging(out_dir: Path) -> None:
    """Remove staging and old-output folders left beside ``out_dir`` by runs that died."""
    parent = out_dir.parent
    if not parent.is_dir():
        return
    for kind in ("staging", "old"):
        for path in parent.glob(f".{out_dir.name}-{kind}-*"):
            try:
                pid = int(path.name[len(f".{out_dir.name}-{kind}-") :].split("-")[0])
            except ValueError:
                continue
            if path.is_dir() and not _pid_alive(pid):
                log.info("removing %s, left by a run (pid %d) that is no longer running", path, pid)
                shutil.rmtree(path, ignore_errors=True)


@contextmanager
def output_lock(out_dir: Path | str):
    """Hold ``.<out>.lock`` beside ``out_dir`` so two runs never write the same folder at once.
    A lock left by a process that is no longer running is taken over."""
    out_dir = check_out_dir(out_dir)
    lock = (out_dir.parent / f".{out_dir.name}.lock").absolute()
    if lock in _held_locks:
        yield out_dir
        return
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                pid = int(lock.read_text().strip() or 0)
            except (OSError, ValueError):
                pid = 0
            if _pid_alive(pid) and pid != os.getpid():
                raise ConfigError(
                    f"--out {out_dir}: another planning run (pid {pid}) is writing to this folder "
                    f"({lock.name}); wait for it to finish or choose another --out"
                ) from None
            log.info("taking over %s, left by a run (pid %d) that is no longer running", lock, pid)
            lock.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{os.getpid()}\n")
        break
    else:
        raise ConfigError(f"--out {out_dir}: cannot take the lock {lock}; remove it if stale")
    _held_locks.add(lock)
    try:
        clean_stale_staging(out_dir)
        yield out_dir
    finally:
        _held_locks.discard(lock)
        lock.unlink(missing_ok=True)


def write_staged(out_dir: Path | str, write: Callable[[Path], None]) -> list[Path]:
    """Call ``write(staging)``, then put the staging folder in place of ``out_dir``: all or
    nothing. A previous output there is replaced whole (no stale files are left), and a folder
    that holds anything else is refused (see ``check_out_dir``)."""
    with output_lock(out_dir) as out_dir:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        prefix = f".{out_dir.name}-staging-{os.getpid()}-"
        staging = Path(tempfile.mkdtemp(prefix=prefix, dir=out_dir.parent))
        old = None
        try:
            write(staging)
            (staging / MARKER).write_text(
                json.dumps({"written_by": "planning", "files": _tree(staging)}, indent=1) + "\n"
            )
            check_out_dir(out_dir)  # again: a user may have added a file while we solved
            if out_dir.exists():
                old = Path(
                    tempfile.mkdtemp(
                        prefix=f".{out_dir.name}-old-{os.getpid()}-", dir=out_dir.parent
                    )
                )
                os.replace(out_dir, old / "previous")
            os.replace(staging, out_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        return sorted(p for p in out_dir.iterdir() if p.name != MARKER)


def write_outputs(result: Result, out_dir: Path | str) -> list[Path]:
    """Write every output of a run into ``out_dir``, all or nothing."""
    written = write_staged(out_dir, lambda folder: _write_all(result, folder))
    log.info("wrote %d files to %s", len(written), out_dir)
    return written
