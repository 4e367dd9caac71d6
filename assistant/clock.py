"""Session time: a real clock for the mat, a fake one for tests and scripts."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Session seconds since the clock was made."""

    def now(self) -> float:
        """Session seconds elapsed."""
        ...

    def real_seconds(self, session_s: float) -> float:
        """How many wall-clock seconds it takes for `session_s` session seconds to pass."""
        ...


class MonotonicClock:
    """Wall-clock time, optionally running `speed` times faster (for `--text --speed N`)."""

    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._t0 = time.monotonic()

    def now(self) -> float:
        return (time.monotonic() - self._t0) * self.speed

    def real_seconds(self, session_s: float) -> float:
        return max(0.0, session_s) / self.speed


class FakeClock:
    """A clock that moves only when told to; a whole session runs in milliseconds."""

    def __init__(self, start_s: float = 0.0) -> None:
        self._now = start_s

    def now(self) -> float:
        return self._now

    def real_seconds(self, session_s: float) -> float:
        return 0.0

    def advance(self, seconds: float) -> None:
        """Move time forward by `seconds` (never backward)."""
        if seconds < 0:
            raise ValueError("a clock never goes back")
        self._now += seconds

    def advance_to(self, at_s: float) -> None:
        """Move time forward to `at_s`, if that is later than now."""
        self._now = max(self._now, at_s)
