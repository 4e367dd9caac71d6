"""Test doubles passed to constructors (never patched in)."""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt

from assistant.playback import OutputDevice, Playback


class InstantPlayer:
    """A sound output that 'plays' each sentence at once and keeps what it was given.

    `fail()` makes it behave like a speaker that was unplugged.
    """

    def __init__(self) -> None:
        self.device = OutputDevice(0, "instant", 22050.0)
        self.failure: str | None = None
        self.last_callback_at = time.monotonic()
        self.played: list[npt.NDArray[np.int16]] = []
        self.earcons: list[npt.NDArray[np.int16]] = []
        self.closed = False

    @property
    def healthy(self) -> bool:
        return self.failure is None

    def play(self, samples: npt.NDArray[np.int16], sample_rate: int) -> Playback:
        playback = Playback(samples)
        if self.failure is None:
            self.played.append(samples)
            playback.started_at_s = 0.0
            playback.ended_at_s = len(samples) / sample_rate
            playback.started.set()
            playback.done.set()
        return playback

    def cut(self) -> None:
        """Nothing keeps playing here."""

    def add_earcon(self, samples: npt.NDArray[np.int16]) -> None:
        self.earcons.append(samples)

    def close(self) -> None:
        self.closed = True

    def fail(self, reason: str = "unplugged") -> None:
        self.failure = reason
