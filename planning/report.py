"""The only writer of a run's outputs: CSV, GeoPackage, maps, staffing workbook and manifest.

Everything is written into a staging folder first and moved into place only when all of it has
been written, so a failed run leaves no partial outputs.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import yaml

import planning
from planning.config import WORKLOAD_BASES
from planning.data import (
    FIXED_GPKG_TIME,
    RATE_FILES,
    REFERRALS_FILE,
    file_sha256,
    fixed_gpkg_time,
)
from planning.errors import STOPPED, ConfigError, Terminated
from planning.maps import team_colours, team_map, team_polygons
from planning.pipeline import Result
from planning.rounding import COUNT_COLUMNS, largest_remainder, whole_counts
from planning.solve import solver_versions
from planning.workbook import cost_figures, write_staffing
from planning.workforce import team_fte_spread

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


def json_ready(value):
    """``value`` with numpy scalars, paths and non-finite floats made plain JSON."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
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
    """areas.csv: counts in whole numbers that add up exactly to teams.csv's totals."""
    areas = result.area_data.areas.drop(columns="geometry").copy()
    areas["team_id"] = areas.area_code.map(result.teams.assignment)
    for col, values in whole_counts(areas, result.teams.assignment).items():
        areas[col] = values
    workload = [c for c in WORKLOAD_BASES if c in areas]  # with a workload band or basis
    return areas[AREA_COLUMNS + EXTRA_AREA_COLUMNS + workload].sort_values("area_code")


def teams_table(result: Result) -> pd.DataFrame:
    """teams.csv: each count is the sum of the team's rows in areas.csv; ``below_band`` is a
    boolean (True/False, never 0/1), not a count, and is left out of the rounding."""
    teams = result.teams.teams.copy()
    areas = areas_table(result)
    sums = areas.groupby("team_id")[list(COUNT_COLUMNS)].sum()
    for col in COUNT_COLUMNS:
        teams[col] = teams.team_id.map(sums[col]).astype("int64")
    if "below_band" in teams:
        teams["below_band"] = teams["below_band"].fillna(False).astype(bool)
    if result.hubs is not None:
        teams["base_hub"] = teams.team_id.map(result.hubs.team_base)
    if result.scenario.teams.building_block == "ward":  # each patch named by its whole wards
        named = areas.drop_duplicates("ward_code").groupby("team_id").ward_name
        teams["wards"] = teams.team_id.map(named.agg(lambda w: "; ".join(sorted(w))))
    return teams


def hubs_table(result: Result) -> pd.DataFrame:
    """hubs.csv: children served in whole numbers, each hub's the sum of its areas' whole
    counts in areas.csv (every area is served by one hub)."""
    plan = result.hubs
    hubs = plan.hubs.copy()
    areas = areas_table(result).set_index("area_code")
    served = areas.index.to_series().map(plan.area_hub)
    if plan.children_basis in areas and served.notna().all():
        sums = areas[plan.children_basis].groupby(served).sum()
        hubs["children_served"] = hubs["site_name"].map(sums).fillna(0).astype("int64")
    else:
        hubs["children_served"] = largest_remainder(hubs["children_served"].to_numpy(float))
    return hubs


def scenario_hashes(path: Path) -> dict[str, str]:
    """SHA-256 of the scenario file and of every file it ``extends``, by file name."""
    out: dict[str, str] = {}
    seen: set[Path] = set()
    current: Path | None = Path(path).resolve()
    while current is not None and current not in seen and current.is_file():
        seen.add(current)
        out[current.name] = file_sha256(current)
        parent = yaml.safe_load(current.read_text(encoding="utf-8")) or {}
        extends = parent.get("extends") if isinstance(parent, dict) else None
        current = (current.parent / extends).resolve() if isinstance(extends, str) else None
    return out


def planner_commit() -> dict[str, Any] | None:
    """The git commit of the planner's own checkout, and whether tracked files differ from it;
    None when the planner is not run from a git checkout (an installed package)."""
    root = Path(planning.__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head, "tracked_files_modified": bool(status.strip())}


def created_utc() -> str:
    """Now, in UTC to the second; ``SOURCE_DATE_EPOCH`` (seconds) fixes it for reproducible
    builds."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = (
        dt.datetime.fromtimestamp(int(epoch), dt.UTC)
        if epoch and epoch.isdigit()
        else dt.datetime.now(dt.UTC)
    )
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def library_versions() -> dict[str, str]:
    """Versions of the libraries that read the data and write the outputs."""
    import geopandas
    import matplotlib
    import openpyxl
    import pyogrio
    import shapely

    return {
        "geopandas": geopandas.__version__,
        "shapely": shapely.__version__,
        "pyogrio": pyogrio.__version__,
        "gdal": pyogrio.__gdal_version_string__,
        "matplotlib": matplotlib.__version__,
        "openpyxl": openpyxl.__version__,
    }


def output_hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of every file in a run folder except the manifest itself."""
    return {
        path.name: file_sha256(path)
        for path in sorted(Path(folder).iterdir())
        if path.is_file() and path.name != "manifest.json"
    }


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
        "scenario_path": str(result.scenario_path.resolve()),
        "scenario_sha256": scenario_hashes(result.scenario_path),
        "created_utc": created_utc(),
        "planner_git": planner_commit(),
        "data_dir": str(Path(data_dir).resolve()),
        "status": teams.status,
        "objective": teams.objective,
        "objective_units": f"person-km ({teams.population_basis} x km to the team's centre area)",
        "bound": teams.bound,
        "gap": teams.gap,
        "seconds": round(teams.seconds, 2),
        "teams": len(teams.teams),
        "areas": len(result.area_data.areas),
        "allocation_by_group": teams.blocks,
        "allocation_pairs": teams.pairs,
        "allocation_bound_rule": (
            "bound = the minimum, over choices of one team count per group (total_teams "
            "respected), of the sum of the chosen pairs' bounds in allocation_pairs; gap = "
            "(objective - bound) / objective"
        ),
        "allocation_bound_at_plan_counts": teams.count_bound,
        "allocation_gap_at_plan_counts": teams.count_gap,
        "allocation_bound_holders": teams.bound_holders,
        "allocation_bound_holders_rule": (
            "bound_at_plan_counts = the sum of the chosen pairs' bounds (capped by the objective): "
            "no plan with the plan's own team count in every group can cost less; "
            "bound_holders = the pairs at other counts that make up the overall bound's choice"
        ),
        "allocation_tuning": teams.tuning,
        "below_band_teams": teams.below_band_teams,
        "building_block": teams.building_block,
        "model_nodes": teams.nodes,
        "ward_joins": teams.ward_joins,
        "locks": teams.locks,
        "team_fte_spread": team_fte_spread(result.posts.teams),
        "links": [link.__dict__ for link in result.geo.links],
        "inputs_sha256": dict(sorted(inputs.items())),
        "versions": {
            "planning": planning.__version__,
            "python": platform.python_version(),
            **solver_versions(),
            "numpy": np.__version__,
            "pandas": pd.__version__,
            **library_versions(),
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
    # the same money in whole pounds, as staffing.csv, staffing.xlsx and report.html show it
    body["staffing"]["shown_whole_pounds"] = cost_figures(result.costs)
    if door is not None:
        body["front_door"] = {
            **door.summary(),
            "cost_gbp": result.costs.front_door_gbp,
            "posts_costed": result.costs.front_door.to_dict("records"),
        }
    body["published_rates"] = result.posts.comparison.to_dict(orient="records")
    if result.edit is not None:
        body["edit"] = result.edit  # planning edit: locks, areas moved by hand, band override
    return json_ready(body)


#: Fields of the GeoPackage's ``areas`` layer (counts are whole, as in areas.csv).
GPKG_AREA_FIELDS = [
    "area_code",
    "area_name",
    "team_id",
    "district_code",
    "district_name",
    "ward_code",
    "ward_name",
    "council_code",
    "residents",
    "children_0_17",
    "children_0_19",
    "children_0_24",
    "imd_score",
    "imd_decile",
]


def _int_counts(frame: pd.DataFrame, columns) -> pd.DataFrame:
    for col in columns:
        if col in frame:
            frame[col] = frame[col].astype("int64")
    return frame


def geopackage_layers(result: Result, polygons) -> dict[str, gpd.GeoDataFrame]:
    """The GeoPackage's layers: every count a 64-bit integer, ``group`` as ``team_group`` (GROUP
    is an SQL keyword), and each area and team with its map colour."""
    colours = team_colours(result)
    table = areas_table(result).set_index("area_code")
    areas = result.area_data.areas[["area_code", "geometry"]].copy()
    for col in GPKG_AREA_FIELDS[1:]:
        areas[col] = areas.area_code.map(table[col])
    areas = _int_counts(areas, [*COUNT_COLUMNS, "imd_decile"])
    areas["team_colour"] = areas.team_id.astype(str).map(colours)
    areas = areas[[*GPKG_AREA_FIELDS, "team_colour", "geometry"]]
    teams = polygons.merge(teams_table(result), on="team_id").rename(
        columns={"group": "team_group"}
    )
    teams = _int_counts(teams, [*COUNT_COLUMNS, "n_areas"])
    teams["team_colour"] = teams.team_id.astype(str).map(colours)
    layers = {"areas": areas, "teams": teams}
    if result.hubs is not None:
        from planning.hubs import hubs_layer, localities_layer

        hubs = hubs_layer(result.hubs)
        hubs["children_served"] = hubs_table(result)["children_served"].to_numpy()
        layers["hubs"] = _int_counts(hubs, ["teams_based", "children_served"])
        localities = localities_layer(result.area_data.areas, result.hubs)
        basis = result.hubs.children_basis
        if basis in table:
            by_locality = table[basis].groupby(table.index.map(result.hubs.localities)).sum()
            localities["children"] = localities.locality.map(by_locality)
        layers["localities"] = _int_counts(localities, ["areas", "teams_based", "children"])
    return layers


def write_geopackage(result: Result, path: Path, polygons) -> None:
    """teams.gpkg: layers areas and teams (and hubs and localities when hubs are placed), and
    a QGIS style for areas and teams (``layer_styles``) in the same colours as teams.png."""
    layers = geopackage_layers(result, polygons)
    colours = team_colours(result)
    # gpkg_contents.last_change is "now" unless GDAL is told otherwise: fixed, for stable bytes
    with fixed_gpkg_time():
        for name, layer in layers.items():
            layer.to_file(path, layer=name, driver="GPKG")
        styles = pd.DataFrame(
            [
                qgis_style_row("teams", colours, outline="51,51,51,255", outline_width=0.4),
                qgis_style_row("areas", colours, outline="255,255,255,255", outline_width=0.1),
            ]
        )
        pyogrio.write_dataframe(styles, path, layer="layer_styles", driver="GPKG", FID="id")


def _rgba(hex_colour: str) -> str:
    h = hex_colour.lstrip("#")
    return ",".join(str(int(h[k : k + 2], 16)) for k in (0, 2, 4)) + ",255"


def qgis_style_qml(colours: dict[str, str], outline: str, outline_width: float) -> str:
    """A QGIS style (QML): fill categorized by ``team_id`` in the teams' colours, labelled."""
    categories = "".join(
        f'<category symbol="{k}" value="{html.escape(t)}" label="{html.escape(t)}" render="true"/>'
        for k, t in enumerate(colours)
    )
    symbols = "".join(
        f'<symbol type="fill" name="{k}" alpha="1" clip_to_extent="1" force_rhr="0">'
        '<layer class="SimpleFill" enabled="1" locked="0" pass="0"><Option type="Map">'
        f'<Option type="QString" name="color" value="{_rgba(c)}"/>'
        f'<Option type="QString" name="outline_color" value="{outline}"/>'
        f'<Option type="QString" name="outline_width" value="{outline_width}"/>'
        '<Option type="QString" name="outline_width_unit" value="MM"/>'
        '<Option type="QString" name="style" value="solid"/>'
        '<Option type="QString" name="outline_style" value="solid"/>'
        "</Option></layer></symbol>"
        for k, c in enumerate(colours.values())
    )
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>"
        '<qgis version="3.28.0" styleCategories="Symbology">'
        '<renderer-v2 type="categorizedSymbol" attr="team_id" symbollevels="0" '
        'enableorderby="0" forceraster="0">'
        f"<categories>{categories}</categories><symbols>{symbols}</symbols>"
        "</renderer-v2></qgis>"
    )


def qgis_style_row(
    layer: str, colours: dict[str, str], outline: str, outline_width: float
) -> dict[str, Any]:
    """One row of the GeoPackage ``layer_styles`` table QGIS reads as a layer's default style."""
    return {
        "f_table_catalog": "",
        "f_table_schema": "",
        "f_table_name": layer,
        "f_geometry_column": "geom",
        "styleName": f"{layer} by team",
        "styleQML": qgis_style_qml(colours, outline, outline_width),
        "styleSLD": "",
        "useAsDefault": True,
        "description": "Teams in the colours of teams.png and map.html (no two touching teams "
        "share a colour)",
        "owner": "planning",
        "ui": "",
        "update_time": FIXED_GPKG_TIME,
    }


def _write_all(result: Result, folder: Path) -> None:
    areas_table(result).to_csv(folder / "areas.csv", index=False, lineterminator="\n")
    teams_table(result).to_csv(folder / "teams.csv", index=False, lineterminator="\n")
    polygons = team_polygons(result.area_data.areas, result.teams.assignment)
    write_geopackage(result, folder / "teams.gpkg", polygons)
    if result.hubs is not None:
        hubs_table(result).to_csv(folder / "hubs.csv", index=False, lineterminator="\n")
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
    _write_manifest(folder, body)
    from planning.htmlreport import write_html_outputs  # reads the files above: keep it last

    write_html_outputs(result, folder)  # report.html and map.html
    body["outputs_sha256"] = output_hashes(folder)  # last: every file but the manifest
    _write_manifest(folder, body)


def _write_manifest(folder: Path, body: dict) -> None:
    (folder / "manifest.json").write_text(json.dumps(body, indent=2, sort_keys=False) + "\n")


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
def pid_lock(lock: Path, what: str):
    """Hold ``lock`` (a file with this process's id) while the body runs. A lock left by a
    process that is no longer running is taken over; one held by a live process is refused."""
    lock = lock.absolute()
    if lock in _held_locks:
        yield
        return
    lock.parent.mkdir(parents=True, exist_ok=True)
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
                    f"{what}: another planning run (pid {pid}) is writing to this folder "
                    f"({lock.name}); wait for it to finish or choose another --out"
                ) from None
            log.info("taking over %s, left by a run (pid %d) that is no longer running", lock, pid)
            lock.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{os.getpid()}\n")
        break
    else:
        raise ConfigError(f"{what}: cannot take the lock {lock}; remove it if stale")
    _held_locks.add(lock)
    try:
        yield
    finally:
        _held_locks.discard(lock)
        lock.unlink(missing_ok=True)


@contextmanager
def output_lock(out_dir: Path | str):
    """Hold ``.<out>.lock`` beside ``out_dir`` so two runs never write the same folder at once."""
    out_dir = check_out_dir(out_dir)
    with pid_lock(out_dir.parent / f".{out_dir.name}.lock", f"--out {out_dir}"):
        clean_stale_staging(out_dir)
        yield out_dir


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
            if STOPPED.is_set():  # a SIGTERM whose exception a finaliser swallowed
                raise Terminated
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


def write_outputs(
    result: Result, out_dir: Path | str, extra: Callable[[Path], None] | None = None
) -> list[Path]:
    """Write every output of a run into ``out_dir``, all or nothing; ``extra(folder)`` writes
    more files first (they are listed in the manifest's ``outputs_sha256``)."""

    def write(folder: Path) -> None:
        if extra is not None:
            extra(folder)
        _write_all(result, folder)

    written = write_staged(out_dir, write)
    log.info("wrote %d files to %s", len(written), out_dir)
    return written
