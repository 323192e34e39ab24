"""Errors the planner raises for problems a user can fix.

Every error names what is wrong (a field, a file, an area by code and name), what was expected and
how to fix it. The command line turns them into a message and an exit code, never a traceback.
"""

from __future__ import annotations

import threading

#: Set by the command line's SIGTERM handler. The handler also raises ``Terminated``, but Python
#: swallows an exception raised while a finaliser runs, so the writer checks this too before it
#: moves a staging folder into place.
STOPPED = threading.Event()


class Terminated(KeyboardInterrupt):
    """Raised on SIGTERM so the run unwinds (workers stopped, staging removed); exit 143."""


class PlanningError(Exception):
    """Base of all planner errors; ``exit_code`` is what the command line returns."""

    exit_code = 1

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = list(problems or [])
        super().__init__(message)

    def __str__(self) -> str:
        text = super().__str__()
        if self.problems:
            text += "\n" + "\n".join(f"  - {p}" for p in self.problems)
        return text


class ConfigError(PlanningError):
    """The scenario file is malformed or asks for something impossible to read."""

    exit_code = 2


class DataError(PlanningError):
    """A data file is missing, unreadable, or does not join as it must."""

    exit_code = 2


class InfeasibleError(PlanningError):
    """No plan can meet the scenario's constraints; the message says which and what would fit."""

    exit_code = 3


class FetchError(PlanningError):
    """A data file could not be downloaded, or what was served is not the file pinned."""

    exit_code = 1


class SolverError(PlanningError):
    """The solver ended without a plan it can prove valid (time limit with no incumbent, etc.)."""

    exit_code = 1
