"""How the assistant's voice sounds, changed live and remembered between sessions."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # speaking.py imports this module
    from assistant.speaking import VoiceControl

_LOGGER = logging.getLogger(__name__)

EARCON_NAMES: Final = ("heard", "tick", "rep_start", "rep_end")
DEFAULT_RATE_WPM: Final = 175
"""espeak-ng's own default speed, which `estimate_speech_s` also assumes."""
RATE_LIMITS_WPM: Final = (80, 400)
VOLUME_LIMITS: Final = (0.2, 2.0)
"""espeak-ng's volume 0..2 (1 is its normal loudness; above 1 it amplifies)."""
_RATE_STEP: Final = 1.15
_VOLUME_STEP: Final = 1.25
SETTINGS_FILE: Final = "voice.json"


@dataclass(frozen=True, slots=True)
class VoiceSettings:
    """The voice, its speed and loudness, and which earcons play."""

    voice: str | None = None
    """pyttsx3 voice id or name (None: the engine's default)."""
    rate_wpm: int = DEFAULT_RATE_WPM
    """Words per minute, within RATE_LIMITS_WPM."""
    volume: float = 1.0
    """Loudness of speech and earcons, within VOLUME_LIMITS."""
    earcons: frozenset[str] = field(default_factory=lambda: frozenset(EARCON_NAMES))
    """The earcons that play; the others are silent."""

    def __post_init__(self) -> None:
        if not RATE_LIMITS_WPM[0] <= self.rate_wpm <= RATE_LIMITS_WPM[1]:
            raise ValueError(f"rate_wpm must be from {RATE_LIMITS_WPM[0]} to {RATE_LIMITS_WPM[1]}")
        if not VOLUME_LIMITS[0] <= self.volume <= VOLUME_LIMITS[1]:
            raise ValueError(f"volume must be from {VOLUME_LIMITS[0]} to {VOLUME_LIMITS[1]}")
        unknown = self.earcons - set(EARCON_NAMES)
        if unknown:
            raise ValueError(f"unknown earcons {sorted(unknown)}; known: {', '.join(EARCON_NAMES)}")

    @property
    def rate_factor(self) -> float:
        """Speed relative to the default (for duration estimates)."""
        return self.rate_wpm / DEFAULT_RATE_WPM

    def adjusted(self, control: VoiceControl) -> VoiceSettings:
        """These settings one step louder, quieter, slower or faster (kept within limits)."""
        if control == "faster":
            return replace(self, rate_wpm=min(RATE_LIMITS_WPM[1], round(self.rate_wpm * _RATE_STEP)))
        if control == "slower":
            return replace(self, rate_wpm=max(RATE_LIMITS_WPM[0], round(self.rate_wpm / _RATE_STEP)))
        if control == "louder":
            return replace(self, volume=min(VOLUME_LIMITS[1], round(self.volume * _VOLUME_STEP, 2)))
        return replace(self, volume=max(VOLUME_LIMITS[0], round(self.volume / _VOLUME_STEP, 2)))


def default_config_dir() -> Path:
    """The user's config folder for Mat Coach (e.g. ~/.config/mat-coach)."""
    import platformdirs

    return Path(platformdirs.user_config_dir("mat-coach", appauthor=False))


class VoiceSettingsStore:
    """A small JSON file with the last voice settings; a broken file is ignored, not fatal."""

    def __init__(self, config_dir: Path | None = None) -> None:
        self.path = (config_dir if config_dir is not None else default_config_dir()) / SETTINGS_FILE

    def load(self) -> VoiceSettings:
        try:
            if self.path.exists() and not self.path.is_file():  # a pipe would block the start for ever
                raise ValueError("it is not a regular file")
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return VoiceSettings(
                voice=data.get("voice"),
                rate_wpm=int(data.get("rate_wpm", DEFAULT_RATE_WPM)),
                volume=float(data.get("volume", 1.0)),
                earcons=frozenset(data.get("earcons", EARCON_NAMES)),
            )
        except FileNotFoundError:
            return VoiceSettings()
        except (OSError, ValueError, TypeError, AttributeError, RecursionError) as err:
            # A hand-edited file with a typo should not stop a session: say so and use defaults.
            _LOGGER.warning("Ignoring voice settings in %s (%s); using the defaults.", self.path, err)
            return VoiceSettings()

    def save(self, settings: VoiceSettings) -> None:
        data = {"voice": settings.voice, "rate_wpm": settings.rate_wpm, "volume": settings.volume,
                "earcons": sorted(settings.earcons)}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as err:
            _LOGGER.warning("Could not remember the voice settings in %s: %s", self.path, err)
