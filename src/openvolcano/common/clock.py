"""Clocks: the one place time is read, so that everything else can be tested without sleeping.

Role: daemons (the shells around the pure cores) read a :class:`Clock` once per
loop iteration or batch and pass ``now`` down; the pure cores (ofp, the quake
pipeline, crater) never import this module's :class:`SystemClock` and take
``now: float`` as an argument instead. Tests use :class:`FakeClock` and move
time explicitly with :meth:`FakeClock.advance`.

Two kinds of time, never mixed:

* ``now()`` - monotonic seconds from an arbitrary origin: timeouts, intervals,
  rates, heartbeat deadlines. Never goes backwards.
* ``wall()`` - seconds since the Unix epoch: timestamps shown to humans or
  stored in the database. May jump (NTP); never used to measure an interval.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

from openvolcano.common.errors import InvalidInput

__all__ = ["Clock", "FakeClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """A source of time: ``now()`` is monotonic seconds, ``wall()`` is epoch seconds."""

    def now(self) -> float:
        """Monotonic seconds (arbitrary origin); for intervals and deadlines."""
        ...

    def wall(self) -> float:
        """Seconds since the Unix epoch; for timestamps shown or stored."""
        ...


class SystemClock:
    """The real clock: :func:`time.monotonic` and :func:`time.time`."""

    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()


class FakeClock:
    """A clock that only moves when told to; both readings advance together.

    ``FakeClock(start=0.0, wall_start=1_700_000_000.0)``; :meth:`advance`
    moves both by the same amount. Time cannot go backwards (an attempt is a
    test bug and raises :class:`~openvolcano.common.errors.InvalidInput`).
    """

    def __init__(self, start: float = 0.0, wall_start: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._wall = float(wall_start)

    def now(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._wall

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` (>= 0); return the new ``now()``."""
        if seconds < 0:
            raise InvalidInput(f"a clock cannot go backwards (advance by {seconds})")
        self._now += seconds
        self._wall += seconds
        return self._now

    def __repr__(self) -> str:
        return f"FakeClock(now={self._now}, wall={self._wall})"
