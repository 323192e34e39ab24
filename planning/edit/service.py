"""One editing session of a run folder: the edit history, the live figures, re-optimising in
a worker process and saving. The server maps HTTP requests onto these methods; the state
changes themselves are the pure functions of ``session`` and ``live``."""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from planning.edit import reoptimise, session
from planning.edit.live import as_series, live_context, pieces, plan_changes, plan_summary
from planning.edit.plan_of import edited_plan, save_edited
from planning.edit.run_folder import read_run_folder, rebuild
from planning.edit.session import EditError, History
from planning.webmap import map_data

log = logging.getLogger(__name__)

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


class Refused(EditError):
    """A request the session cannot do now (409): re-optimising, or locks not supported."""


class Busy(Refused):
    """A re-optimisation is running: edits wait until it ends."""


class EditService:
    """The state of one ``planning edit`` session (thread-safe)."""

    def __init__(
        self,
        run_dir: Path | str,
        save_dir: Path | str | None = None,
        on_save: Callable[[str], None] | None = None,
    ) -> None:
        self.on_save = on_save  # told one line per saved folder (the command line prints it)
        self.run = read_run_folder(run_dir)
        self.save_dir = Path(save_dir) if save_dir is not None else self.run.path.resolve().parent
        if not self.save_dir.is_dir():
            raise EditError(f"--save-dir {self.save_dir}: no such folder")
        self.result, self.current = rebuild(self.run)
        self.ctx = live_context(self.result, self.current)
        self.history: History = session.start(
            tuple(self.ctx.optimised.reindex(list(self.ctx.codes)))
        )
        self.reoptimisations: list[dict[str, Any]] = []
        self.job: dict[str, Any] | None = None
        self._future = None
        self._pool = None
        self._work = Path(tempfile.mkdtemp(prefix="planning-edit-"))
        self._lock = threading.RLock()
        self.saved: list[str] = []

    # ------------------------------------------------------------------ views
    def map_payload(self) -> dict[str, Any]:
        """The page's fixed data: area shapes and label points, team colours, the settings."""
        data = map_data(self.result)
        s = self.result.scenario.teams
        teams = self.result.teams
        return {
            "title": data["title"],
            "run": str(self.run.path),
            "basis": s.population_basis,
            "band": [s.min_population, s.max_population],
            "nesting": s.nesting,
            "areas": data["areas"],
            "colours": {t: v["colour"] for t, v in data["team_totals"].items()},
            "proof": {
                "status": teams.status,
                "objective": teams.objective,
                "bound": teams.bound,
                "gap": teams.gap,
            },
            "has_current_plan": self.current is not None,
            "locks_supported": reoptimise.locks_supported(),
        }

    def view(self) -> dict[str, Any]:
        """The present plan: team per area, every team's figures and problems, the changes,
        the locks, undo/redo and the re-optimisation job."""
        with self._lock:
            self._collect()
            state = self.history.present
            summary = plan_summary(self.ctx, state.assignment)
            return {
                "assignment": dict(zip(self.ctx.codes, state.assignment, strict=True)),
                **summary,
                "locked_teams": sorted(state.locked_teams),
                "locked_areas": sorted(state.locked_areas),
                "can_undo": self.history.can_undo,
                "can_redo": self.history.can_redo,
                "steps": len(self.history.past),
                "last_action": _brief(state.action),
                "job": self.job,
                "reoptimisations": self.reoptimisations,
                "saved": self.saved,
            }

    # ------------------------------------------------------------------ edits
    def _apply(self, change) -> dict[str, Any]:
        with self._lock:
            self._collect()
            if self.job is not None and self.job["state"] == "running":
                raise Busy("re-optimising: wait until it finishes (the page shows its progress)")
            self.history = change(self.history)
        return self.view()

    def move(self, areas: list[str], team: str) -> dict[str, Any]:
        return self._apply(
            lambda h: session.push(h, session.move_areas(h.present, self.ctx.codes, areas, team))
        )

    def lock(self, teams: list[str], areas: list[str], locked: bool) -> dict[str, Any]:
        return self._apply(
            lambda h: session.push(
                h, session.set_locks(h.present, self.ctx.codes, teams, areas, locked)
            )
        )

    def undo(self) -> dict[str, Any]:
        return self._apply(session.undo)

    def redo(self) -> dict[str, Any]:
        return self._apply(session.redo)

    # ------------------------------------------------------------------ re-optimise
    def start_reoptimise(self) -> dict[str, Any]:
        """Start the allocation with the present locks in a worker process."""
        with self._lock:
            self._collect()
            if self.job is not None and self.job["state"] == "running":
                raise Busy("already re-optimising; wait until it finishes")
            if not reoptimise.locks_supported():
                raise Refused(
                    "this planner's allocation model has no teams.fixed_areas_csv yet, so locks "
                    "cannot be kept; update the planner"
                )
            state = self.history.present
            rows = session.lock_rows(state, self.ctx.codes)
            if not rows:
                raise EditError("lock at least one team or area before re-optimising the rest")
            split = locked_pieces(self.ctx, rows)
            if split:
                raise Refused(
                    "each team's locked areas must be one contiguous piece (the allocation "
                    "keeps them together in one team); unlock or add areas:",
                    split,
                )
            folder = self._work / f"reoptimise-{len(self.reoptimisations) + 1}"
            path = reoptimise.write_inputs(
                folder,
                self.run.manifest["scenario"],
                self.run.scenario_path,
                self.run.data_dir,
                rows,
            )
            self._future, self._pool = reoptimise.start(path)
            self.job = {
                "state": "running",
                "started": time.time(),
                "seconds": 0.0,
                "time_limit_seconds": self.result.scenario.solver.time_limit_seconds,
                "locked_teams": sorted(state.locked_teams),
                "locked_areas": sorted(state.locked_areas),
                "locked_area_count": len(rows),
                "scenario_yaml": str(path),
            }
            self._base = state
        return self.view()

    def _collect(self) -> None:
        """If the worker has finished, take its plan (or its error) into the session."""
        job, future = self.job, self._future
        if job is None or job["state"] != "running" or future is None:
            return
        job["seconds"] = round(time.time() - job["started"], 1)
        if not future.done():
            return
        self._future = None
        self._pool.shutdown(wait=False)
        self._pool = None
        try:
            out = future.result()
        except Exception as exc:  # a crashed worker: reported, the session goes on
            out = {"error": f"the re-optimisation stopped: {exc}", "exit_code": 1}
        if "error" in out:
            job.update(state="failed", message=out["error"], exit_code=out.get("exit_code"))
            return
        before = as_series(self.ctx, self._base.assignment)
        after = pd.Series(out["assignment"]).reindex(before.index)
        weights = pd.Series(self.ctx.residents, index=before.index)
        after = reoptimise.relabel(before, after, weights)
        moved = [c for c in before.index if after[c] != before[c]]
        record = {
            "status": out["status"],
            "objective": out["objective"],
            "bound": out["bound"],
            "gap": out["gap"],
            "seconds": out["seconds"],
            "locked_teams": job["locked_teams"],
            "locked_areas": job["locked_areas"],
            "areas_moved": len(moved),
            "changes": plan_changes(self.ctx, before, tuple(after)),
        }
        self.reoptimisations.append(record)
        action = {"kind": "reoptimise", **record, "moved": moved}
        if self.history.present is self._base:
            state = session.replace_plan(self._base, tuple(after), action)
            self.history = session.push(self.history, state)
        job.update(state="done", result=record, moved=moved)

    def job_status(self) -> dict[str, Any]:
        with self._lock:
            self._collect()
            return {"job": self.job, "view": self.view() if self.job else None}

    # ------------------------------------------------------------------ save
    def save(self, name: str, override_band: bool = False) -> dict[str, Any]:
        """Write the present plan as a new run folder ``save_dir/name``."""
        if not NAME.fullmatch(name or ""):
            raise EditError(
                f"folder name {name!r}: use letters, digits, '.', '_' or '-' (up to 100, not "
                "starting with '.' or '-'); it is created inside " + str(self.save_dir)
            )
        with self._lock:
            self._collect()
            if self.job is not None and self.job["state"] == "running":
                raise Busy("re-optimising: wait until it finishes before saving")
            out = self.save_dir / name
            if out.exists() or (self.save_dir / f".{name}.lock").exists():
                raise Refused(f"{out}: already exists; saving never overwrites, choose a new name")
            state = self.history.present
            assignment = as_series(self.ctx, state.assignment)
            plan, breaches = edited_plan(self.result, assignment, self.current, override_band)
            edit = self.edit_record(state, breaches, override_band and bool(breaches))
            edit["objective"] = plan.objective
            _, written = save_edited(self.result, plan, edit, out)
            self.saved.append(str(out))
        line = (
            f"saved {out}: status {plan.status}, objective {plan.objective:,.0f} person-km, "
            f"bound {plan.bound:,.0f} (the optimised run's), gap {100 * plan.gap:.2f}%"
        )
        if breaches:
            line += "; BAND OVERRIDDEN: " + "; ".join(breaches)
        log.info(line)
        if self.on_save is not None:
            self.on_save(line)
        return {
            "folder": str(out),
            "files": [p.name for p in written],
            "status": plan.status,
            "objective": plan.objective,
            "bound": plan.bound,
            "gap": plan.gap,
            "band_override": bool(breaches),
            "band_breaches": breaches,
        }

    def edit_record(self, state, breaches: list[str], override: bool) -> dict[str, Any]:
        """What the manifest records about the edits."""
        m = self.run.manifest
        moves = [
            move
            for action in self.history.actions()
            if action["kind"] == "move"
            for move in action["areas"]
        ]
        series = as_series(self.ctx, state.assignment)
        optimised = self.ctx.optimised.reindex(series.index)
        differ = series != optimised
        return {
            "edited_from": str(self.run.path.resolve()),
            "edited_from_created_utc": m.get("created_utc"),
            "edited_from_proof": {k: m.get(k) for k in ("status", "objective", "bound", "gap")},
            "bound_rule": "bound is the optimised run's; gap = (objective - bound) / objective",
            "locked_teams": sorted(state.locked_teams),
            "locked_areas": sorted(state.locked_areas),
            "locked_area_rows": [
                {"area_code": a, "team": t} for a, t in session.lock_rows(state, self.ctx.codes)
            ],
            "moved_by_hand": moves,
            "reoptimisations": self.reoptimisations,
            "actions": [_brief(a) for a in self.history.actions()],
            "areas_differing_from_optimised": [
                {"area_code": c, "optimised_team": optimised[c], "edited_team": series[c]}
                for c in series.index[differ]
            ],
            "changes_vs_optimised": plan_changes(self.ctx, self.ctx.optimised, state.assignment),
            "changes_vs_current": None
            if self.current is None
            else plan_changes(self.ctx, self.ctx.current, state.assignment),
            "band_override": override,
            "band_breaches": breaches,
        }

    def close(self) -> None:
        """Stop a running worker and remove the session's scratch folder."""
        if self._pool is not None:
            for proc in list((getattr(self._pool, "_processes", None) or {}).values()):
                proc.terminate()  # a re-optimisation still running: stopped with the server
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        shutil.rmtree(self._work, ignore_errors=True)


def locked_pieces(ctx, rows: list[tuple[str, str]]) -> list[str]:
    """The lock labels whose areas are in more than one piece, in words."""
    index = ctx.index()
    by_label: dict[str, list[int]] = {}
    for code, label in rows:
        by_label.setdefault(label, []).append(index[code])
    out = []
    for label, members in sorted(by_label.items()):
        n = pieces(members, ctx.neighbours)
        if n > 1:
            codes = ", ".join(ctx.codes[i] for i in members[:6])
            out.append(f"{label}: {len(members)} locked areas in {n} pieces ({codes})")
    return out


def _brief(action: dict[str, Any] | None) -> dict[str, Any] | None:
    """An action without its long lists, for the page and the manifest's action list."""
    if action is None:
        return None
    if action["kind"] == "move":
        return {"kind": "move", "to_team": action["to_team"], "areas": len(action["areas"])}
    if action["kind"] == "reoptimise":
        return {k: v for k, v in action.items() if k not in ("moved", "changes")}
    return action
