"""`assistant check`: a one-minute self-test of a new set-up, ending with one line per part.

Devices, a live microphone level, whether the microphone hears the speaker, the speech
model, and a spoken "next". Each part that fails says what to fix; the rest still run.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, TextIO

import numpy as np

from assistant.errors import MatCoachError

if TYPE_CHECKING:
    from assistant.listening import Recognizer

METER_S: Final = 3.0
"""How long the level meter runs."""
FEEDBACK_SENTENCE: Final = "This is Mat Coach, checking that the microphone can hear me."
ANSWER_TIMEOUT_S: Final = 12.0
SILENT_DBFS: Final = -80.0
"""A microphone that never gets above this is muted or unplugged."""
HEARD_RISE_DB: Final = 6.0
"""The speaker counts as heard when the microphone gets this much louder while it speaks."""


@dataclass(frozen=True, slots=True)
class Part:
    """The result of one part of the check."""

    name: str
    ok: bool
    detail: str


def dbfs(samples: np.ndarray) -> float:
    """Level of int16 samples in dB relative to full scale (RMS)."""
    if len(samples) == 0:
        return -120.0
    rms = float(np.sqrt(np.mean((samples.astype(np.float64) / 32768.0) ** 2)))
    return 20 * math.log10(max(rms, 1e-6))


class _Recording:
    """Keeps reading the microphone on a thread; levels over time."""

    def __init__(self, input_device: str | None) -> None:
        from assistant.audio import MicSource

        self.source = MicSource(input_device)
        self.levels: list[tuple[float, float]] = []  # (monotonic time, dBFS) per block
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for block in self.source.blocks():
                self.levels.append((time.monotonic(), dbfs(np.frombuffer(block.pcm, dtype=np.int16))))
                if self._stop.is_set():
                    return
        except MatCoachError:
            return

    def between(self, t0: float, t1: float) -> list[float]:
        return [level for at, level in self.levels if t0 <= at <= t1]

    def close(self) -> None:
        self._stop.set()
        self.source.close()
        self._thread.join(2.0)


def run_check(input_device: str | None, output_device: str | None, engine: str, model: Path | None,
              out: TextIO | None = None, answer_timeout_s: float = ANSWER_TIMEOUT_S) -> list[Part]:
    """Run every part; print progress to `out`; return the results."""
    screen = out if out is not None else sys.stdout
    parts: list[Part] = []

    def show(text: str) -> None:
        print(text, file=screen, flush=True)

    # 1. devices
    from assistant.audio import find_input_device, list_devices
    from assistant.playback import find_output_device

    devices = list_devices()
    show("Sound devices:")
    for d in devices:
        kinds = ", ".join(k for k, n in (("in", d.inputs), ("out", d.outputs)) if n)
        show(f"  {d.index}: {d.name} ({kinds})")
    microphone = speaker = None
    try:
        microphone = find_input_device(input_device)
    except MatCoachError as err:
        parts.append(Part("microphone", False, err.message))
    try:
        speaker = find_output_device(output_device)
    except MatCoachError as err:
        parts.append(Part("speaker", False, err.message))
    if microphone is not None and speaker is not None:
        parts.append(Part("devices", True, f"microphone '{microphone.name}', speaker '{speaker.name}'"))

    recording = None
    if microphone is not None:
        try:
            recording = _Recording(input_device)
        except MatCoachError as err:
            parts.append(Part("microphone", False, err.message))
    try:
        if recording is not None:
            parts.append(_meter(recording, show))
        if recording is not None and speaker is not None:
            parts.append(_feedback(recording, output_device, show))
        recognizer_part, recognizer = _model(engine, model)
        parts.append(recognizer_part)
        if recording is not None and recognizer is not None:
            recording.close()
            recording = None
            parts.append(_say_next(recognizer, input_device, show, answer_timeout_s))
    finally:
        if recording is not None:
            recording.close()
    show("")
    for part in parts:
        show(f"{part.name}: {'ok' if part.ok else 'FIX'} - {part.detail}")
    return parts


def _meter(recording: _Recording, show: Callable[[str], None]) -> Part:
    show(f"Microphone level for {METER_S:.0f} s (speak or clap):")
    began = time.monotonic()
    live = sys.stdout.isatty()  # a moving meter only where someone watches it
    while time.monotonic() - began < METER_S:
        time.sleep(0.1)
        recent = recording.between(time.monotonic() - 0.2, time.monotonic())
        level = max(recent) if recent else -120.0
        bars = int(max(0.0, min(40.0, (level + 80) / 2)))
        if live:
            print(f"\r  {'#' * bars:<40} {level:6.1f} dBFS", end="", flush=True)
    if live:
        print("", flush=True)
    levels = recording.between(began, time.monotonic())
    if not levels:
        return Part("microphone", False, "no sound arrived from the microphone; check its cable and "
                    "that it is the right device (--input-device, see: assistant devices)")
    peak = max(levels)
    if peak < SILENT_DBFS:
        return Part("microphone", False, f"only silence (peak {peak:.0f} dBFS); unmute it and raise its gain "
                    "(alsamixer, F6 to pick the USB microphone, F4 for capture)")
    return Part("microphone", True, f"sound arrives (peak {peak:.0f} dBFS)")


def _feedback(recording: _Recording, output_device: str | None, show: Callable[[str], None]) -> Part:
    from assistant.clock import MonotonicClock
    from assistant.speaking import make_speaker

    show("Speaking a sentence, to see whether the microphone hears the speaker...")
    clock = MonotonicClock()
    try:
        speaker = make_speaker(output_device, None, lambda event: None, clock.now, earcons=False)
    except MatCoachError as err:
        return Part("speaker", False, err.message)
    try:
        before_t = time.monotonic()
        time.sleep(0.5)
        quiet = recording.between(before_t, time.monotonic())
        started = time.monotonic()
        speaker.say(FEEDBACK_SENTENCE)
        speaker.wait_until_quiet(timeout_s=20.0)
        time.sleep(0.5)
        loud = recording.between(started, time.monotonic())
    finally:
        speaker.close()
    if speaker.lost:
        return Part("speaker", False, "the speaker stopped working; check it, or pick another with --output-device")
    base = float(np.median(quiet)) if quiet else -120.0
    peak = max(loud) if loud else -120.0
    if peak - base >= HEARD_RISE_DB:
        return Part("speaker", True, f"heard by the microphone (+{peak - base:.0f} dB); the assistant ignores "
                    "its own voice, so this is fine")
    return Part("speaker", False, f"the microphone did not hear it (+{max(0.0, peak - base):.0f} dB); turn the "
                "speaker up, or check it is the right one (--output-device)")


def _model(engine: str, model: Path | None) -> tuple[Part, Recognizer | None]:
    from assistant.commands import load_grammar
    from assistant.listener import choose_engine, make_recognizer

    began = time.perf_counter()
    try:
        choice = choose_engine(engine, model)
        recognizer = make_recognizer(choice, load_grammar())
    except MatCoachError as err:
        return Part("speech model", False, err.message), None
    return Part("speech model", True, f"{choice.reason} Loaded in {time.perf_counter() - began:.1f} s."), recognizer


def _say_next(recognizer: Recognizer, input_device: str | None, show: Callable[[str], None],
              timeout_s: float) -> Part:
    from assistant.audio import MicSource
    from assistant.commands import Intent
    from assistant.events import CommandHeard, InboxEvent
    from assistant.listener import Listener

    heard: list[CommandHeard] = []
    done = threading.Event()

    def post(event: InboxEvent) -> None:
        if isinstance(event, CommandHeard):
            heard.append(event)
            if event.command.intent is Intent.NEXT:
                done.set()

    listener = Listener(recognizer, lambda: MicSource(input_device), post).start()
    try:
        listener.wait_until_listening(5.0)
        show(f"Now say \"next\" (you have {timeout_s:.0f} s).")
        done.wait(timeout_s)
    finally:
        listener.close()
    nexts = [e.command for e in heard if e.command.intent is Intent.NEXT]
    if nexts:
        return Part("say next", True, f"heard '{nexts[0].phrase}' ({nexts[0].confidence:.0%})")
    others = ", ".join(f"'{e.command.phrase}'" for e in heard)
    hint = f" (heard {others} instead)" if others else ""
    return Part("say next", False, f"'next' was not heard{hint}; speak closer to the microphone, raise its gain, "
                "or download the better model: assistant model download")
