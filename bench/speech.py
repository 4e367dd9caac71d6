"""Speech figures: time to first sound (cached and uncached), cut-off, pre-render time, CPU per speech second.

    .venv/bin/python bench/speech.py [--output-device D] [--repeats N]

With no sound hardware (as in CI) it starts the PulseAudio virtual room of the tests and
plays into it. Figures, not a test: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.cues import load_cues  # noqa: E402
from assistant.errors import AudioDeviceError  # noqa: E402
from assistant.events import InboxEvent, SpeechEnded, SpeechStarted  # noqa: E402
from assistant.playback import find_output_device  # noqa: E402
from assistant.routine import load_routine  # noqa: E402
from assistant.speaking import SpeechWorker, make_speaker  # noqa: E402
from assistant.speech_lines import session_lines  # noqa: E402

WAIT_TIMEOUT_S = 30.0


@contextmanager
def sound_output(device: str | None) -> Iterator[str | None]:
    """The device to use; the tests' virtual room when this machine has no speaker."""
    try:
        find_output_device(device)
        yield device
        return
    except AudioDeviceError:
        if device is not None:
            raise
    from tests.room import virtual_room

    with virtual_room() as room:
        for key in ("XDG_RUNTIME_DIR", "PULSE_SERVER", "PULSE_SINK", "PULSE_SOURCE"):
            os.environ[key] = room.env[key]
        import sounddevice as sd

        sd._terminate()
        sd._initialize()
        print("(no speaker here: playing into the PulseAudio virtual room)")
        yield "pulse"


class Starts:
    """When each sentence started (and ended) being heard, as the player measured it."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.ended: dict[str, float] = {}
        self.cond = threading.Condition()

    def post(self, event: InboxEvent) -> None:
        if isinstance(event, SpeechStarted | SpeechEnded):
            with self.cond:
                (self.at if isinstance(event, SpeechStarted) else self.ended)[event.text] = event.at_s
                self.cond.notify_all()

    def wait(self, text: str, ended: bool = False) -> float:
        times = self.ended if ended else self.at
        with self.cond:
            if not self.cond.wait_for(lambda: text in times, WAIT_TIMEOUT_S):
                raise TimeoutError(text)
            return times[text]


def first_sound_ms(speaker: SpeechWorker, starts: Starts, texts: list[str]) -> list[float]:
    delays = []
    # "First sound" is SpeechStarted.at_s: when the player's callback handed the first sample
    # to the device plus the device latency PortAudio reports (the room tests check it
    # against what the monitor hears, within 40 ms).
    for text in texts:
        asked = time.monotonic()
        speaker.say(text)
        delays.append((starts.wait(text) - asked) * 1000)
        speaker.stop()
        speaker.wait_until_quiet(WAIT_TIMEOUT_S)
    return delays


def cut_off_ms(speaker: SpeechWorker, starts: Starts, texts: list[str]) -> list[float]:
    """From stop() to the last sound of a sentence cut off 1 s in (end as the player measured it)."""
    delays = []
    for text in texts:
        with starts.cond:  # a sentence said before has an old end
            starts.at.pop(text, None)
            starts.ended.pop(text, None)
        speaker.say(text)
        starts.wait(text)
        time.sleep(1.0)
        stopped = time.monotonic()
        speaker.stop()
        delays.append((starts.wait(text, ended=True) - stopped) * 1000)
        speaker.wait_until_quiet(WAIT_TIMEOUT_S)
    return delays


def summary(name: str, values: list[float], unit: str) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return (f"{name:<30} median {statistics.median(values):6.1f} {unit}  p90 {p90:6.1f} {unit}  "
            f"min {ordered[0]:6.1f}  max {ordered[-1]:6.1f}  (n={len(values)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output-device", metavar="D")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}, "
          f"Python {platform.python_version()}")
    routine, cues = load_routine("lower-back"), load_cues()
    lines = session_lines(routine, cues)
    with tempfile.TemporaryDirectory() as tmp, sound_output(args.output_device) as device:
        starts = Starts()
        speaker = make_speaker(device, None, starts.post, time.monotonic, cache_dir=Path(tmp) / "speech",
                               config_dir=Path(tmp) / "config")
        try:
            print(f"Engine: {speaker._cache.renderer.engine_id}; speaker: {speaker._player.device.name}")
            cpu0, wall0 = time.process_time(), time.monotonic()
            speaker.prepare(lines, progress=False)
            render_cpu, wall1 = time.process_time() - cpu0, time.monotonic()
            audio_s = sum(speaker.duration_s(t) for t in lines)
            print(f"Pre-render whole routine: {len(lines)} sentences, {audio_s:.0f} s of speech in "
                  f"{wall1 - wall0:.2f} s ({audio_s / (wall1 - wall0):.0f}x real time)")
            print(f"CPU to render: {render_cpu:.2f} CPU s = {render_cpu / audio_s:.4f} CPU s per s of speech")
            cached = [lines[i % len(lines)] for i in range(args.repeats)]
            uncached = [f"Uncached sentence number {i}, for the benchmark." for i in range(args.repeats)]
            print(summary("say -> first sound, cached", first_sound_ms(speaker, starts, cached), "ms"))
            print(summary("say -> first sound, uncached", first_sound_ms(speaker, starts, uncached), "ms"))
            long = [t for t in lines if len(t.split()) >= 12][:args.repeats]
            print(summary("stop -> silence, mid-sentence", cut_off_ms(speaker, starts, long), "ms"))
            # CPU while speaking: play a stretch of the routine and count this process's CPU time.
            stretch = lines[:12]
            seconds = sum(speaker.duration_s(t) for t in stretch)
            cpu0 = time.process_time()
            for text in stretch:
                speaker.say(text)
            speaker.wait_until_quiet(seconds + WAIT_TIMEOUT_S)
            cpu = time.process_time() - cpu0
            print(f"CPU while speaking (cached): {cpu:.2f} CPU s for {seconds:.1f} s of speech = "
                  f"{cpu / seconds:.3f} CPU s per s (this process; not the sound server)")
        finally:
            speaker.close()


if __name__ == "__main__":
    main()
