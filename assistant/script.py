"""Scripted sessions: lines of "<session seconds> <spoken phrase>"."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from assistant.errors import ScriptError
from assistant.files import TEXT_LIMIT_BYTES, decode_text, read_regular_file


@dataclass(frozen=True, slots=True)
class ScriptLine:
    """One thing the user says, at session seconds `at_s`."""

    at_s: float
    phrase: str


def parse_script(text: str, origin: str) -> list[ScriptLine]:
    """Parse a script; blank lines and lines starting with # are ignored."""
    lines: list[ScriptLine] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        seconds, _, phrase = line.partition(" ")
        try:
            at_s = float(seconds)
        except ValueError:
            at_s = -1.0
        if at_s < 0 or not phrase.strip() or at_s != at_s or at_s == float("inf"):
            raise ScriptError(
                "script-line",
                f"{origin}, line {number}: expected '<seconds> <phrase>' such as '75 next', "
                f"got {raw.strip()!r}.",
            )
        lines.append(ScriptLine(at_s, phrase.strip()))
    return lines


def load_script(path: Path) -> list[ScriptLine]:
    text = decode_text(read_regular_file(path, "script file", ScriptError, TEXT_LIMIT_BYTES), str(path),
                       ScriptError)
    return parse_script(text.removeprefix("\ufeff"), str(path))
