"""The virtual room: a private PulseAudio server whose null sink is the room's air.

Whatever is played into the sink `room` can be recorded from its monitor `room.monitor`,
which the assistant uses as its microphone. sounddevice then lists the ALSA device `pulse`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np

START_TIMEOUT_S: Final = 10.0


class RoomUnavailable(RuntimeError):
    """PulseAudio is not installed or would not start here."""


@dataclass(frozen=True)
class Room:
    """A running virtual room."""

    runtime_dir: Path
    sink: str = "room"

    @property
    def monitor(self) -> str:
        return f"{self.sink}.monitor"

    @property
    def env(self) -> dict[str, str]:
        """Environment for a process that should play and listen in this room."""
        return {
            **os.environ,
            "XDG_RUNTIME_DIR": str(self.runtime_dir),
            "PULSE_SERVER": f"unix:{self.runtime_dir / 'pulse' / 'native'}",
            "PULSE_SINK": self.sink,
            "PULSE_SOURCE": self.monitor,
        }

    def pactl(self, *args: str) -> str:
        done = subprocess.run(["pactl", *args], env=self.env, capture_output=True, text=True,
                              timeout=START_TIMEOUT_S, check=True)
        return done.stdout

    def play(self, wav: Path) -> subprocess.Popen[bytes]:
        """Start playing a WAV into the room (returns the running paplay)."""
        return subprocess.Popen(["paplay", f"--device={self.sink}", str(wav)], env=self.env)

    def play_whole(self, wav: Path) -> None:
        """Play a WAV into the room; returns when all of it has been played."""
        subprocess.run(["paplay", f"--device={self.sink}", str(wav)], env=self.env, check=True, timeout=30)


class RoomEar:
    """Listens to the room's air (its monitor) as a person on the mat does: when was it last
    loud? A person hears when the coach has fallen silent; a guess from the printed lines
    was off whenever the machine was slow or a sentence long, and the person then spoke over
    the coach."""

    FRAME_S: Final = 0.02
    LATENCY_MS: Final = 250
    """parec's buffer. At 20 ms the null sink ran at that latency for everyone: the assistant's
    speaker underran 182 and 1148 times in two sessions of 2.5 minutes (12 times at 250 ms), its
    echo canceller lost the echo, and the countdown ticks were taken for commands. A person's
    ear must not change the room; the silence is heard up to 0.25 s late, which only makes the
    person a little more patient."""
    LOUD_DBFS: Final = -55.0
    """A 20 ms frame above this (RMS, dB of full scale) is sound; the null sink is digital silence."""

    def __init__(self, room: Room) -> None:
        self.last_loud = time.monotonic()
        self._proc = subprocess.Popen(
            ["parec", f"--device={room.monitor}", "--format=s16le", "--rate=16000", "--channels=1",
             "--raw", f"--latency-msec={self.LATENCY_MS}"],
            env=room.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        threading.Thread(target=self._listen, daemon=True).start()
        weakref.finalize(self, _end, self._proc)

    def _listen(self) -> None:
        assert self._proc.stdout is not None
        size = int(16000 * self.FRAME_S) * 2
        floor = 32768.0 * 10 ** (self.LOUD_DBFS / 20)
        while chunk := self._proc.stdout.read(size):
            samples = np.frombuffer(chunk[:len(chunk) // 2 * 2], np.int16).astype(np.float32)
            if samples.size and float(np.sqrt(np.mean(samples ** 2))) > floor:
                self.last_loud = time.monotonic()

    def wait_for_silence(self, silence_s: float, longest_s: float) -> None:
        """Until the room has been quiet for `silence_s`, or `longest_s` have passed."""
        give_up = time.monotonic() + longest_s
        while (now := time.monotonic()) < give_up and now - self.last_loud < silence_s:
            time.sleep(0.02)


def _end(proc: subprocess.Popen[bytes]) -> None:
    proc.kill()
    proc.wait(START_TIMEOUT_S)
    if proc.stdout is not None:
        proc.stdout.close()


@contextmanager
def virtual_room() -> Iterator[Room]:
    """Start a private PulseAudio with a null sink; stop it afterwards."""
    for tool in ("pulseaudio", "pactl", "paplay"):
        if shutil.which(tool) is None:
            raise RoomUnavailable(f"{tool} is not installed (apt install pulseaudio pulseaudio-utils)")
    runtime = Path(tempfile.mkdtemp(prefix="matcoach-room-"))
    room = Room(runtime)
    started = subprocess.run(
        ["pulseaudio", "--daemonize=yes", "--exit-idle-time=-1", "-n", "--disallow-exit=no",
         "--load=module-native-protocol-unix", f"--load=module-null-sink sink_name={room.sink}",
         "--log-target=stderr"],
        env=room.env, capture_output=True, text=True, timeout=START_TIMEOUT_S,
    )
    if started.returncode != 0:
        shutil.rmtree(runtime, ignore_errors=True)
        raise RoomUnavailable(f"pulseaudio would not start: {started.stderr.strip()[-300:]}")
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                room.pactl("set-default-sink", room.sink)
                room.pactl("set-default-source", room.monitor)
                break
            except subprocess.CalledProcessError:
                if time.monotonic() > deadline:
                    raise RoomUnavailable("pulseaudio started but does not answer") from None
                time.sleep(0.05)
        yield room
    finally:
        subprocess.run(["pactl", "exit"], env=room.env, capture_output=True, timeout=START_TIMEOUT_S)
        shutil.rmtree(runtime, ignore_errors=True)
