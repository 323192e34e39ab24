"""The national run on Dask: one task per council, results kept as they finish, resumable.

Without a scheduler address it starts a ``dask.distributed.LocalCluster`` of single-threaded
worker processes (one per core); with one it submits to that cluster, whose workers must see
the same data directory and output folder. Councils are submitted largest first (by Dask
priority). A council whose worker dies is rescheduled by Dask; one that raises is retried
(``TASK_RETRIES``); a planning error is recorded with its message and exit class. Each record is
written atomically as it arrives, so an interrupted run keeps what finished and a rerun with the
same template, data and planner version does only the councils without a ``done`` record.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import planning
from planning.data import file_sha256, planner_files, resolve_data_dir
from planning.england.councils import Council, select_councils, upper_tier_councils
from planning.england.task import COUNCILS, RECORDS, plan_council, write_atomic
from planning.england.template import load_template, template_sha256
from planning.errors import ConfigError
from planning.report import pid_lock

log = logging.getLogger(__name__)

TASK_RETRIES = 1  # an unexpected exception in a council's task is tried once more
MARKER = ".planning-england"  # in DIR: what wrote it and the national files it holds
Events = Callable[[str, dict[str, Any]], None]


@dataclass
class EnglandRun:
    """What a national run did: every council's record, and which ran, were skipped or failed."""

    out_dir: Path
    template_path: Path
    template: dict[str, Any]
    fingerprint: str
    inputs_sha256: dict[str, str]
    councils: list[Council]
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    workers: int = 0
    scheduler: str = ""
    dashboard: str = ""
    wall_seconds: float = 0.0


def data_hashes(data_dir: Path) -> dict[str, str]:
    """SHA-256 of every national file a council's run reads."""
    files = [rel for rel in planner_files() if (data_dir / rel).is_file()]
    return {rel: file_sha256(data_dir / rel) for rel in files}


def run_fingerprint(template: dict[str, Any], inputs: dict[str, str]) -> str:
    """Same template settings, same data, same planner version: same council results."""
    text = json.dumps(
        {"template": template_sha256(template), "inputs": inputs, "planning": planning.__version__},
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def check_england_dir(out_dir: Path) -> None:
    """DIR may be missing, empty or an earlier ``planning england`` output; nothing else."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--out {out_dir}: is a file, not a folder; choose a folder")
    if not out_dir.is_dir() or not any(out_dir.iterdir()) or (out_dir / MARKER).is_file():
        return
    raise ConfigError(
        f"--out {out_dir}: the folder is not empty and is not an earlier `planning england` "
        f"output (no {MARKER} file); choose a new or empty folder. Nothing was written."
    )


def read_record(path: Path) -> dict[str, Any] | None:
    """A council's record, or None when it is missing or unreadable (the council is redone)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_done(out_dir: Path, code: str, fingerprint: str) -> dict[str, Any] | None:
    """The council's record when it finished with this fingerprint and its folder is there."""
    record = read_record(out_dir / RECORDS / f"{code}.json")
    if record is None or record.get("status") != "done" or record.get("fingerprint") != fingerprint:
        return None
    if not (out_dir / COUNCILS / code / "manifest.json").is_file():
        return None
    return record


@contextmanager
def dask_client(scheduler: str | None, workers: int | None):
    """A client on ``scheduler``, or on a LocalCluster of single-threaded worker processes."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise ConfigError(
                f"--scheduler {scheduler}: cannot reach a Dask scheduler there ({exc}); start one "
                "with `dask scheduler` and workers with `dask worker ADDRESS`, or leave "
                "--scheduler out to run on this machine"
            ) from None
        with client:
            yield client
        return
    n = workers or os.cpu_count() or 1
    with (
        LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def failure_record(council: Council, fingerprint: str, exc: BaseException) -> dict[str, Any]:
    """The record of a council whose task raised after its retries (or whose workers died)."""
    return {
        "code": council.code,
        "name": council.name,
        "fingerprint": fingerprint,
        "status": "failed",
        "exit_code": 1,
        "error": type(exc).__name__,
        "message": str(exc) or type(exc).__name__,
    }


def run_england(
    template_path: Path | str,
    out_dir: Path | str,
    councils: list[str] | None = None,
    data_dir: Path | str | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    events: Events | None = None,
    client=None,
) -> EnglandRun:
    """Plan every council (or ``councils``) into ``out_dir``; records only, no national files.

    ``events(kind, info)`` is called with "start" (dashboard, counts), "skip", "done" and
    "failed" (the record); ``client`` runs on an existing Dask client instead of making one.
    """
    started = time.monotonic()
    template_path = Path(template_path)
    out_dir = Path(out_dir)
    root = resolve_data_dir(data_dir)
    chosen = select_councils(upper_tier_councils(root), councils)
    template = load_template(template_path, chosen[0].code)
    check_england_dir(out_dir)
    inputs = data_hashes(root)
    fingerprint = run_fingerprint(template, inputs)
    run = EnglandRun(out_dir, template_path, template, fingerprint, inputs, chosen)
    emit = events or (lambda kind, info: None)
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        with pid_lock(out_dir.parent / f".{out_dir.name}.lock", f"--out {out_dir}"):
            if not (out_dir / MARKER).is_file():
                write_atomic(
                    out_dir / MARKER, json.dumps({"written_by": "planning england"}) + "\n"
                )
            todo = []
            for council in chosen:
                record = is_done(out_dir, council.code, fingerprint)
                if record is None:
                    todo.append(council)
                else:
                    run.records[council.code] = record
                    run.skipped.append(council.code)
                    emit("skip", record)
            context = dask_client(scheduler, workers) if client is None and todo else None
            with context if context is not None else _given(client) as active:
                if active is not None:
                    info = active.scheduler_info()
                    run.workers = len(info.get("workers", {}))
                    run.scheduler = str(info.get("address", scheduler or ""))
                    run.dashboard = str(getattr(active, "dashboard_link", "") or "")
                emit(
                    "start",
                    {
                        "dashboard": run.dashboard,
                        "todo": len(todo),
                        "skipped": len(run.skipped),
                        "workers": run.workers,
                        "scheduler": run.scheduler,
                    },
                )
                if todo:
                    _submit_and_collect(active, todo, template, template_path, root, run, emit)
    except BaseException:
        if created and not run.ran:  # nothing finished: leave no folder behind
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    run.wall_seconds = round(time.monotonic() - started, 1)
    return run


@contextmanager
def _given(client):
    yield client


def _submit_and_collect(client, todo, template, template_path, root, run, emit) -> None:
    """Submit every council (largest first), write each record as its task ends."""
    from distributed import as_completed

    by_key = {}
    futures = []
    for council in todo:
        future = client.submit(
            plan_council,
            council.code,
            council.name,
            template,
            str(template_path.resolve()),
            str(root),
            str(run.out_dir.resolve()),
            run.fingerprint,
            key=f"council-{council.code}-{run.fingerprint[:12]}",
            priority=council.areas,
            retries=TASK_RETRIES,
            pure=False,
        )
        by_key[future.key] = council
        futures.append(future)
    for future in as_completed(futures):
        council = by_key[future.key]
        try:
            record = future.result()
        except Exception as exc:  # the task raised after its retries, or its workers died
            record = failure_record(council, run.fingerprint, exc)
        write_atomic(run.out_dir / RECORDS / f"{council.code}.json", json.dumps(record, indent=1))
        run.records[council.code] = record
        run.ran.append(council.code)
        emit(record["status"], record)
        future.release()
