"""Recording the virtual room from its monitor, with the time each sample was heard."""

from __future__ import annotations

import threading
import time
from typing import Any, Final

import numpy as np
import numpy.typing as npt

RATE: Final = 22050
BLOCK: Final = 256
WARM_UP_TIMEOUT_S: Final = 5.0
"""A new PulseAudio stream here takes about 2 s before it flows."""


class RoomRecorder:
    """Keeps recording the room; `between(t0, t1)` gives what was heard in that monotonic time.

    A block's samples are placed just before the moment its callback ran, so a sound is
    never placed earlier than it was heard (timing checks err on the strict side).
    """

    def __init__(self, device: str = "pulse") -> None:
        import sounddevice as sd

        self._lock = threading.Lock()
        self._blocks: list[tuple[float, npt.NDArray[np.float32]]] = []
        self._stream = sd.InputStream(samplerate=RATE, channels=1, dtype="float32", device=device,
                                      blocksize=BLOCK, latency="low", callback=self._callback)
        self._stream.start()
        deadline = time.monotonic() + WARM_UP_TIMEOUT_S
        while time.monotonic() < deadline and not self._flowing():
            time.sleep(0.05)

    def _flowing(self) -> bool:
        with self._lock:
            return sum(len(b) for _, b in self._blocks) > RATE // 4

    def _callback(self, indata: npt.NDArray[np.float32], frames: int, when: Any, status: Any) -> None:
        heard_at = time.monotonic() - frames / RATE
        with self._lock:
            self._blocks.append((heard_at, indata[:, 0].copy()))
            if len(self._blocks) > RATE * 60 // BLOCK:  # keep a minute
                del self._blocks[: len(self._blocks) // 2]

    def between(self, t0: float, t1: float) -> tuple[npt.NDArray[np.float64], float]:
        """Samples heard from about t0 to t1, and the monotonic time of the first one."""
        with self._lock:
            blocks = [(t, b) for t, b in self._blocks if t + len(b) / RATE >= t0 and t <= t1]
        if not blocks:
            return np.zeros(0), t0
        return np.concatenate([b for _, b in blocks]).astype(np.float64), blocks[0][0]

    def close(self) -> None:
        self._stream.close()
