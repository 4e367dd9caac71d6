"""The virtual room: a private PulseAudio server whose null sink is the room's air.

Whatever is played into the sink `room` can be recorded from its monitor `room.monitor`,
which the assistant uses as its microphone. sounddevice then lists the ALSA device `pulse`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

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
