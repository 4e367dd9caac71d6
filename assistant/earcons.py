"""Earcons: short generated tones that say "heard you", count down and mark repetitions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from assistant.voice_settings import EARCON_NAMES

_FADE_S: Final = 0.005
"""Raised-cosine fade in and out, so a tone starts and ends without a click."""
_LEVEL: Final = 0.3
"""Peak level at volume 1 (full scale is 1): clearly audible, quieter than speech peaks."""


@dataclass(frozen=True, slots=True)
class Tone:
    """One note of an earcon."""

    hz: float
    seconds: float


_EARCONS: Final[dict[str, tuple[Tone, ...]]] = {
    # Two quick rising notes: the usual "got it" shape.
    "heard": (Tone(660, 0.06), Tone(880, 0.08)),
    # One short high blip per second in the last seconds of a hold.
    "tick": (Tone(1000, 0.05),),
    # Rising for "begin", falling for "end": easy to tell apart with closed eyes.
    "rep_start": (Tone(440, 0.09), Tone(660, 0.12)),
    "rep_end": (Tone(660, 0.09), Tone(440, 0.12)),
}
assert set(_EARCONS) == set(EARCON_NAMES)


def earcon_samples(name: str, sample_rate: int, volume: float = 1.0) -> npt.NDArray[np.int16]:
    """The earcon `name` as mono int16 samples at `sample_rate`."""
    try:
        tones = _EARCONS[name]
    except KeyError:
        raise ValueError(f"unknown earcon {name!r}; known: {', '.join(EARCON_NAMES)}") from None
    parts = [_tone(t, sample_rate) for t in tones]
    wave = np.concatenate(parts) * min(1.0, _LEVEL * volume) * 32767
    return wave.astype(np.int16)


def _tone(tone: Tone, sample_rate: int) -> npt.NDArray[np.float64]:
    n = int(tone.seconds * sample_rate)
    t = np.arange(n) / sample_rate
    wave = np.sin(2 * np.pi * tone.hz * t)
    fade = min(n // 2, int(_FADE_S * sample_rate))
    if fade:
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, fade))
        wave[:fade] *= ramp
        wave[-fade:] *= ramp[::-1]
    return wave
