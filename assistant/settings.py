"""Settings built once from the command line and passed down as frozen values."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Final

LOW_POWER_MACHINES: Final = ("aarch64", "armv7l", "armv6l")
"""Linux machine names on which --low-power is on unless --no-low-power: the Raspberry Pi
family. (macOS on Apple silicon says "arm64" and has CPU to spare.)"""


def low_power_default(machine: str | None = None) -> bool:
    """Whether `run` (and `serve`) use low power when neither --low-power nor --no-low-power is given."""
    return (machine if machine is not None else platform.machine()) in LOW_POWER_MACHINES


@dataclass(frozen=True, slots=True)
class RunSettings:
    """How `assistant run` runs."""

    routine: str
    """Built-in routine name or path to a routine TOML file."""
    text: bool = False
    """Typed commands in, printed sentences out."""
    speed: float = 1.0
    """Session seconds per real second in text mode (1 = real time)."""
    script: Path | None = None
    """Scripted session on a fake clock."""
    engine: str = "auto"
    model: Path | None = None
    input_device: str | None = None
    output_device: str | None = None
    voice: str | None = None
    """Speech voice id or name part; None: the last used (or the engine's default)."""
    earcons: bool = True
    """Play the earcons (each can also be turned off in the voice settings file)."""
    debug: bool = False
    data_dir: Path | None = None
    """Where the history is kept; None: not recorded."""
    echo_cancel: bool = True
    """Take the coach's own voice out of the microphone, so "stop" is heard while it talks
    (off: for a headset, where the microphone does not hear the speaker)."""
    low_power: bool = False
    """Least CPU: leaner listening (listening.LOW_POWER) and speech rendered only before the
    session starts (never during it)."""
    record_dir: Path | None = None
    """Keep every stretch of audio the recognizer decided on here (assistant/recording.py)."""

    def __post_init__(self) -> None:
        if not 0.1 <= self.speed <= 1000:
            raise ValueError(f"speed must be from 0.1 to 1000, not {self.speed}")
