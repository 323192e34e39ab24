"""The edit state of one plan, with undo and redo: pure functions returning new states.

An ``EditState`` is a team per area (aligned with the run's area codes), the locked teams and
areas, and the action that made it. A ``History`` is the states before and after the present
one. Bad requests (an unknown area or team, a locked team) raise ``EditError`` with a message
for the planner.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from planning.errors import ConfigError

NEW_TEAM = "new"  # move areas into a new team of their own


class EditError(ConfigError):
    """A request the edit state cannot apply (unknown area or team, locked team)."""


@dataclass(frozen=True)
class EditState:
    """A plan being edited: team per area (in the run's area order), locks, and how it came."""

    assignment: tuple[str, ...]
    locked_teams: frozenset[str] = frozenset()
    locked_areas: frozenset[str] = frozenset()
    action: dict[str, Any] | None = None  # None for the run's own plan


@dataclass(frozen=True)
class History:
    """The states before the present one (oldest first) and those undone (next first)."""

    past: tuple[EditState, ...]
    present: EditState
    future: tuple[EditState, ...] = ()

    @property
    def can_undo(self) -> bool:
        return bool(self.past)

    @property
    def can_redo(self) -> bool:
        return bool(self.future)

    def actions(self) -> list[dict[str, Any]]:
        """The actions from the run's plan to the present state, in order."""
        states = [*self.past, self.present]
        return [s.action for s in states if s.action is not None]


def start(assignment: tuple[str, ...]) -> History:
    """A history whose only state is the run's plan."""
    return History((), EditState(tuple(assignment)))


def push(history: History, state: EditState) -> History:
    """Make ``state`` the present; what was undone can no longer be redone."""
    return History((*history.past, history.present), state, ())


def undo(history: History) -> History:
    if not history.past:
        raise EditError("nothing to undo")
    return History(history.past[:-1], history.past[-1], (history.present, *history.future))


def redo(history: History) -> History:
    if not history.future:
        raise EditError("nothing to redo")
    return History((*history.past, history.present), history.future[0], history.future[1:])


def new_team_id(teams: set[str]) -> str:
    """The next free id in the plan's style (T35 after T34)."""
    numbers = [int(m.group(1)) for t in teams if (m := re.fullmatch(r"T(\d+)", t))]
    k = max(numbers, default=0) + 1
    width = max(2, len(str(k)))
    while f"T{k:0{width}d}" in teams:
        k += 1
    return f"T{k:0{width}d}"


def _indices(codes: tuple[str, ...], areas: list[str]) -> list[int]:
    index = {c: i for i, c in enumerate(codes)}
    unknown = [a for a in areas if a not in index]
    if unknown:
        shown = ", ".join(unknown[:5]) + (
            f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        )
        raise EditError(f"unknown area code(s), not in this plan: {shown}")
    return [index[a] for a in dict.fromkeys(areas)]


def move_areas(state: EditState, codes: tuple[str, ...], areas: list[str], team: str) -> EditState:
    """Areas moved into ``team`` (an existing team, or ``new`` for a new one). Areas already
    there are left alone; moving none is an error, as is a locked area or team."""
    if not areas:
        raise EditError("no areas to move: give at least one area code")
    rows = _indices(codes, areas)
    teams = set(state.assignment)
    if team == NEW_TEAM:
        team = new_team_id(teams)
    elif team not in teams:
        raise EditError(
            f"unknown team {team!r}: the plan's teams are {', '.join(sorted(teams))} "
            f"(or {NEW_TEAM!r} for a new team)"
        )
    if team in state.locked_teams:
        raise EditError(f"team {team} is locked; unlock it to move areas into it")
    rows = [i for i in rows if state.assignment[i] != team]
    if not rows:
        raise EditError(f"the area(s) are already in team {team}")
    locked = [codes[i] for i in rows if codes[i] in state.locked_areas]
    locked_from = sorted({state.assignment[i] for i in rows} & state.locked_teams)
    if locked:
        raise EditError(f"area(s) {', '.join(locked[:5])} are locked; unlock them to move them")
    if locked_from:
        raise EditError(f"team(s) {', '.join(locked_from)} are locked; unlock them to move areas")
    new = list(state.assignment)
    moves = []
    for i in rows:
        moves.append({"area_code": codes[i], "from_team": new[i], "to_team": team})
        new[i] = team
    action = {"kind": "move", "to_team": team, "areas": moves}
    return EditState(tuple(new), state.locked_teams, state.locked_areas, action)


def set_locks(
    state: EditState,
    codes: tuple[str, ...],
    teams: list[str],
    areas: list[str],
    locked: bool,
) -> EditState:
    """Teams and areas locked (``locked``) or unlocked, for re-optimising the rest."""
    if not teams and not areas:
        raise EditError("nothing to lock: give teams or areas")
    known = set(state.assignment)
    unknown = [t for t in teams if t not in known]
    if unknown:
        raise EditError(
            f"unknown team(s) {', '.join(map(repr, unknown))}: the plan's teams are "
            f"{', '.join(sorted(known))}"
        )
    _indices(codes, areas)
    if locked:
        lt, la = state.locked_teams | set(teams), state.locked_areas | set(areas)
    else:
        lt, la = state.locked_teams - set(teams), state.locked_areas - set(areas)
    action = {
        "kind": "lock" if locked else "unlock",
        "teams": sorted(teams),
        "areas": sorted(areas),
    }
    return EditState(state.assignment, frozenset(lt), frozenset(la), action)


def lock_rows(state: EditState, codes: tuple[str, ...]) -> list[tuple[str, str]]:
    """(area_code, label) for the allocation's fixed areas: every area of a locked team and
    every locked area, labelled by its present team, so each team's locked areas stay together."""
    rows = []
    for code, team in zip(codes, state.assignment, strict=True):
        if team in state.locked_teams or code in state.locked_areas:
            rows.append((code, team))
    return rows


def replace_plan(state: EditState, assignment: tuple[str, ...], action: dict) -> EditState:
    """A new plan (from re-optimising) with the same locks; locks on teams that no longer
    exist are dropped."""
    teams = set(assignment)
    return replace(
        state,
        assignment=tuple(assignment),
        locked_teams=frozenset(t for t in state.locked_teams if t in teams),
        action=action,
    )
