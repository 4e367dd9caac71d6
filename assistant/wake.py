"""Waiting for the start phrase: how strictly `assistant serve` listens between sessions.

Between sessions the microphone hears a household: talk, a television, a radio. Only a
deliberate start phrase ("start session", "coach start") said on its own may start a
session. The wake grammar (the `wake` section of grammars/en.json) makes every other phrase
and decoy of the file compete with the start phrases, and these settings are stricter than
inside a session. Pure: no audio library is imported here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

from assistant.commands import Command, Grammar, Intent
from assistant.listening import HearingSettings

SESSION_MIN_CONFIDENCE: Final = HearingSettings().min_confidence


@dataclass(frozen=True, slots=True)
class WakeSettings:
    """How sure the recognizer must be that a start phrase was said on purpose."""

    min_confidence: float = 0.75
    """0..1; every word of the start phrase must reach it (a session command needs 0.6).
    Chosen with bench/false_starts.py (bench/RESULTS.md, "False starts"): everyday sound started
    nothing at any threshold; 0.8 halved near-miss starts but heard a third fewer real phrases."""
    max_utterance_s: float = 1.6
    """Seconds; a start phrase takes about a second, a longer stretch of speech is talk."""

    def __post_init__(self) -> None:
        if not SESSION_MIN_CONFIDENCE <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be from {SESSION_MIN_CONFIDENCE} to 1, not {self.min_confidence}")
        if self.max_utterance_s <= 0:
            raise ValueError("max_utterance_s must be > 0")

    def hearing(self, base: HearingSettings | None = None) -> HearingSettings:
        """Recognizer settings for waiting: the phrase alone, nothing else in the utterance;
        the CPU settings (low power: no partial results) from `base`."""
        return replace(base or HearingSettings(), min_confidence=self.min_confidence, max_other_words=0,
                       max_utterance_s=self.max_utterance_s, decoys=True)


def is_start(command: Command, wake: Grammar, settings: WakeSettings) -> bool:
    """Whether a heard command starts a session: a start phrase of the wake grammar, sure enough.

    Typed commands (confidence 1.0) pass too: "start" typed at the keyboard is deliberate.
    """
    if command.intent is not Intent.START:
        return False
    typed = command.confidence >= 1.0
    return typed or (command.phrase in wake.phrases and command.confidence >= settings.min_confidence)
