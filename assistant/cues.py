"""The session's own sentences (the cue table), kept as data in cues.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any


@dataclass(frozen=True, slots=True)
class CueTable:
    """Templates by key; `say(key, **values)` fills the {placeholders}."""

    cues: dict[str, str]
    not_now: dict[str, str]
    help: dict[str, str]

    def say(self, key: str, **values: Any) -> str:
        return self.cues[key].format(**values)

    def all_fixed(self) -> list[str]:
        """Every sentence with no placeholder (for pre-rendering speech)."""
        texts = [*self.cues.values(), *self.not_now.values(), *self.help.values()]
        return [t for t in texts if "{" not in t]


def load_cues() -> CueTable:
    """The shipped cue table."""
    text = resources.files("assistant").joinpath("cues.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    return CueTable(cues=data["cues"], not_now=data["not_now"], help=data["help"])
