"""One clock for the whole allocation stage: a deadline on the monotonic clock.

``time.monotonic`` is the same system-wide clock in every worker process, so a Deadline made in the
parent means the same instant in a forked worker.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


class DeadlinePassed(Exception):
    """A step that has no useful partial result ran out of time (its caller keeps what it had)."""


@dataclass(frozen=True)
class Deadline:
    """An instant on the monotonic clock; sub-deadlines never run past their parent."""

    at: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + max(0.0, seconds))

    def remaining(self) -> float:
        """Seconds left (0 once passed)."""
        return max(0.0, self.at - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self.at

    def within(self, seconds: float) -> Deadline:
        """The earlier of this deadline and ``seconds`` from now."""
        return Deadline(min(self.at, time.monotonic() + max(0.0, seconds)))

    def share(self, fraction: float) -> Deadline:
        """``fraction`` of the time left from now."""
        return self.within(fraction * self.remaining())
