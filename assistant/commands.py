"""What the user can say: intents, heard commands and the phrase table (grammars/en.json)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Final

from assistant.errors import GrammarError

UNKNOWN_WORD: Final = "[unk]"


class Intent(StrEnum):
    """Everything the user can ask for. Every intent is accepted in every session state."""

    START = "start"
    NEXT = "next"
    BACK = "back"
    REPEAT = "repeat"
    SKIP = "skip"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    YES = "yes"
    NO = "no"
    HELP = "help"
    TIME_LEFT = "time_left"
    MISTAKES = "mistakes"
    DONE = "done"
    PAIN = "pain"
    LOUDER = "louder"
    QUIETER = "quieter"
    SLOWER = "slower"
    FASTER = "faster"
    PROGRESS = "progress"
    """How am I doing: one sentence about this week's sessions."""


@dataclass(frozen=True, slots=True)
class Command:
    """A command heard (or typed), with where it sits in the audio stream."""

    intent: Intent
    phrase: str
    """The words that were matched, lower case."""
    confidence: float = 1.0
    """0..1; typed commands are certain."""
    start_s: float = 0.0
    """Stream seconds where the phrase began."""
    end_s: float = 0.0
    """Stream seconds where the phrase ended."""
    emitted_s: float = 0.0
    """Stream seconds at which the recognizer reported it."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be within 0..1, not {self.confidence}")


_NOT_WORD = re.compile(r"(?:[^\w' ]|_)+")
"""Not part of a word: letters of any script stay (a Korean grammar for a Korean Vosk model)."""


def normalize(text: str) -> str:
    """Lower case, punctuation gone, single spaces: the form phrases are written in."""
    cleaned = _NOT_WORD.sub(" ", text.lower().replace("\u2019", "'"))
    return " ".join(cleaned.split())


@dataclass(frozen=True, slots=True)
class Grammar:
    """The phrase table: which phrases mean which intent, plus decoys that mean nothing."""

    language: str
    phrases: dict[str, Intent]
    """Normalized phrase -> intent."""
    decoys: tuple[str, ...] = field(default=())
    """Phrases that sound like commands but are not; recognizers listen for them and drop them."""

    def match(self, text: str) -> Intent | None:
        """The intent of a whole phrase, or None when it is not a command."""
        return self.phrases.get(normalize(text))

    def phrases_for(self, intent: Intent) -> list[str]:
        """The phrases of one intent, in file order."""
        return [p for p, i in self.phrases.items() if i is intent]

    def recognizer_phrases(self) -> list[str]:
        """Every phrase a grammar-restricted recognizer should listen for, decoys and [unk] last."""
        return [*self.phrases, *self.decoys, UNKNOWN_WORD]

    def words(self) -> set[str]:
        """Every distinct word of the commands and decoys (for vocabulary checks)."""
        return {w for p in (*self.phrases, *self.decoys) for w in p.split()}


def _parse_grammar(data: object, source: str) -> Grammar:
    if not isinstance(data, dict):
        raise GrammarError("grammar-format", f"{source}: expected a JSON object at the top.")
    language = data.get("language")
    intents = data.get("intents")
    if not isinstance(language, str) or not isinstance(intents, dict):
        raise GrammarError(
            "grammar-format", f"{source}: expected a 'language' string and an 'intents' object."
        )
    phrases: dict[str, Intent] = {}
    for name, listed in intents.items():
        try:
            intent = Intent(name)
        except ValueError:
            known = ", ".join(i.value for i in Intent)
            raise GrammarError(
                "grammar-intent", f"{source}: unknown intent '{name}'; known intents: {known}."
            ) from None
        if not isinstance(listed, list) or not all(isinstance(p, str) for p in listed):
            raise GrammarError("grammar-format", f"{source}: intent '{name}' needs a list of phrases.")
        for phrase in listed:
            key = normalize(phrase)
            if key != phrase:
                raise GrammarError(
                    "grammar-phrase",
                    f"{source}: phrase '{phrase}' must be lower case words and single spaces.",
                )
            if key in phrases and phrases[key] is not intent:
                raise GrammarError(
                    "grammar-duplicate",
                    f"{source}: phrase '{phrase}' is listed for both '{phrases[key]}' and '{name}'.",
                )
            phrases[key] = intent
    missing = [i.value for i in Intent if i not in phrases.values()]
    if missing:
        raise GrammarError("grammar-missing", f"{source}: no phrases for: {', '.join(missing)}.")
    decoys = data.get("decoys", [])
    if not isinstance(decoys, list) or not all(isinstance(d, str) for d in decoys):
        raise GrammarError("grammar-format", f"{source}: 'decoys' must be a list of phrases.")
    clash = sorted(normalize(d) for d in decoys if normalize(d) in phrases)
    if clash:
        raise GrammarError("grammar-decoy", f"{source}: decoys that are also commands: {clash}.")
    return Grammar(language, phrases, tuple(normalize(d) for d in decoys))


def _read_grammar(path: Path | None, language: str) -> tuple[object, str]:
    """The parsed JSON of a grammar file and its name for messages."""
    try:
        if path is None:
            text = resources.files("assistant.grammars").joinpath(f"{language}.json").read_text(
                encoding="utf-8"
            )
            source = f"grammars/{language}.json"
        else:
            text = path.read_text(encoding="utf-8")
            source = str(path)
    except (OSError, ModuleNotFoundError) as err:
        raise GrammarError(
            "grammar-missing", f"Cannot read the command grammar for '{language}' ({err})."
        ) from err
    try:
        return json.loads(text), source
    except json.JSONDecodeError as err:
        raise GrammarError(
            "grammar-json", f"{source}: not valid JSON at line {err.lineno}: {err.msg}."
        ) from err


def load_grammar(path: Path | None = None, language: str = "en") -> Grammar:
    """Read a grammar file; by default the one shipped for `language`."""
    data, source = _read_grammar(path, language)
    return _parse_grammar(data, source)


def load_wake_grammar(path: Path | None = None, language: str = "en") -> Grammar:
    """The grammar `assistant serve` waits with: its start phrases are the only commands.

    Everything else the file knows (the session's phrases and decoys, and the wake section's
    near misses) becomes a decoy, so that talk in the room has somewhere to land other than
    a start phrase.
    """
    data, source = _read_grammar(path, language)
    commands = _parse_grammar(data, source)
    wake = data.get("wake") if isinstance(data, dict) else None
    if not isinstance(wake, dict):
        raise GrammarError("grammar-wake", f"{source}: no 'wake' section (the phrases that start a session).")
    listed = wake.get("phrases")
    near = wake.get("decoys", [])
    if (not isinstance(listed, list) or not listed or not all(isinstance(p, str) for p in listed)
            or not isinstance(near, list) or not all(isinstance(d, str) for d in near)):
        raise GrammarError("grammar-wake", f"{source}: 'wake' needs a list of 'phrases' and a list of 'decoys'.")
    bad = [p for p in listed if normalize(p) != p]
    if bad:
        raise GrammarError("grammar-phrase", f"{source}: wake phrase '{bad[0]}' must be lower case words and "
                           "single spaces.")
    phrases = dict.fromkeys(listed, Intent.START)
    others = [normalize(d) for d in (*near, *commands.phrases, *commands.decoys)]
    return Grammar(commands.language, phrases, tuple(dict.fromkeys(d for d in others if d not in phrases)))
