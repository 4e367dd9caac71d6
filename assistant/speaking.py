"""The assistant's voice: the Speaker seam and the printed speaker of `--text` mode."""

from __future__ import annotations

import sys
from collections.abc import Callable
from enum import StrEnum
from typing import Final, Protocol, TextIO

_WORDS_PER_SECOND: Final = 2.7
"""espeak-ng's default 175 words per minute, rounded down a little for punctuation pauses."""
_SENTENCE_OVERHEAD_S: Final = 0.4


class VoiceControl(StrEnum):
    """Live changes the user can ask for."""

    LOUDER = "louder"
    QUIETER = "quieter"
    SLOWER = "slower"
    FASTER = "faster"


def estimate_speech_s(text: str, rate_factor: float = 1.0) -> float:
    """About how long `text` takes to say at the default rate times `rate_factor`."""
    words = max(1, len(text.split()))
    return _SENTENCE_OVERHEAD_S + words / (_WORDS_PER_SECOND * rate_factor)


class Speaker(Protocol):
    """Says sentences in order; the session never waits on it."""

    def say(self, text: str, *, urgent: bool = False) -> None:
        """Queue `text`; `urgent` cuts off what is playing and drops what is queued first."""
        ...

    def stop(self) -> None:
        """Cut off the current sentence and drop the queue."""
        ...

    def adjust(self, control: VoiceControl) -> None:
        """Change volume or rate from the next sentence on."""
        ...

    def duration_s(self, text: str) -> float:
        """How long saying `text` takes (exact when rendered, else an estimate)."""
        ...

    def earcon(self, name: str) -> None:
        """Play a short tone: "heard", "tick", "rep_start" or "rep_end"."""
        ...

    def close(self) -> None:
        """Finish: stop playing and release devices and threads."""
        ...


class TextSpeaker:
    """Prints what would be said, with the session time: `[  12.0] Lie on your stomach.`"""

    _RATE_STEP: Final = 1.15

    def __init__(self, now: Callable[[], float], out: TextIO | None = None) -> None:
        self._now = now
        self._out = out if out is not None else sys.stdout
        self.rate_factor = 1.0
        self.volume = 1.0

    def say(self, text: str, *, urgent: bool = False) -> None:
        mark = "!" if urgent else " "
        print(f"[{self._now():7.1f}]{mark}{text}", file=self._out, flush=True)

    def stop(self) -> None:
        """Nothing plays, so nothing to cut off."""

    def adjust(self, control: VoiceControl) -> None:
        if control is VoiceControl.SLOWER:
            self.rate_factor /= self._RATE_STEP
        elif control is VoiceControl.FASTER:
            self.rate_factor *= self._RATE_STEP
        elif control is VoiceControl.LOUDER:
            self.volume = min(1.0, self.volume + 0.1)
        else:
            self.volume = max(0.1, self.volume - 0.1)

    def duration_s(self, text: str) -> float:
        return estimate_speech_s(text, self.rate_factor)

    def earcon(self, name: str) -> None:
        """Tones are not printed: the words around them say the same."""

    def close(self) -> None:
        self._out.flush()
