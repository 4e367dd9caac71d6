"""Measuring sound in tests: loudness per window and where the sound is."""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

WINDOW_S: Final = 0.01
SILENCE_RMS: Final = 0.01
"""Below this (full scale 1) a 10 ms window counts as silent."""


def as_float(samples: npt.NDArray[np.int16] | npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    if samples.dtype == np.int16:
        return samples.astype(np.float64) / 32768
    return samples.astype(np.float64)


def window_rms(samples: npt.NDArray[np.float64], rate: int) -> npt.NDArray[np.float64]:
    step = max(1, int(WINDOW_S * rate))
    n = len(samples) // step
    if n == 0:
        return np.zeros(0)
    return np.sqrt(np.mean(samples[:n * step].reshape(n, step) ** 2, axis=1))


def sound_span(samples: npt.NDArray[np.float64], rate: int) -> tuple[float, float] | None:
    """Seconds from the start of `samples` to the first and to the end of the last loud window."""
    loud = np.flatnonzero(window_rms(samples, rate) > SILENCE_RMS)
    if len(loud) == 0:
        return None
    return loud[0] * WINDOW_S, (loud[-1] + 1) * WINDOW_S


def loud_rms(samples: npt.NDArray[np.float64], rate: int) -> float:
    """Loudness of the non-silent windows (so leading and trailing silence do not count)."""
    rms = window_rms(samples, rate)
    loud = rms[rms > SILENCE_RMS]
    return float(np.sqrt(np.mean(loud ** 2))) if len(loud) else 0.0
