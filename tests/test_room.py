"""The virtual room itself: what is played into it can be recorded from its monitor."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.room import Room

pytestmark = pytest.mark.audio


def test_a_tone_played_into_the_room_is_heard_from_its_monitor(room: Room) -> None:
    """The room is a real audio path: play and record through sounddevice's `pulse` device."""
    import sounddevice as sd

    rate = 16000
    t = np.arange(int(0.5 * rate)) / rate
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    chunks: list[np.ndarray] = []
    with sd.InputStream(samplerate=rate, channels=1, device="pulse", dtype="float32",
                        callback=lambda data, frames, when, status: chunks.append(data.copy())):
        with sd.OutputStream(samplerate=rate, channels=1, device="pulse", dtype="float32") as out:
            out.write(tone)
        time.sleep(0.5)  # let the tail of the tone reach the monitor
    heard = np.concatenate(chunks)[:, 0]
    windows = [float(np.sqrt(np.mean(heard[i:i + 1600] ** 2))) for i in range(0, len(heard), 1600)]
    assert max(windows) > 0.2, "the tone should come back through the monitor"
    assert min(windows) < 0.01, "and silence after it"
