"""The listening gate: the assistant never obeys its own voice, yet "stop" still interrupts it.

The microphone hears the speaker. While a sentence plays, and for a short tail after it, a
heard command is dropped, except a barge-in word (stop, pause, pain) that is heard with high
confidence and is not a word of the sentence being played (that would be our own echo).
Times are seconds on the session clock; the speaker reports exact start and end.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Final

from assistant.commands import Command, Intent, normalize
from assistant.events import InboxEvent, SpeechEnded, SpeechStarted

BARGE_IN: Final = frozenset({Intent.STOP, Intent.PAUSE, Intent.PAIN})
_KEPT_INTERVALS: Final = 16


@dataclass(frozen=True, slots=True)
class GateSettings:
    """How strict the gate is."""

    tail_s: float = 0.25
    """After a sentence ends the room still rings: keep closed this long. Short, because people
    answer soon after the coach stops, and a reply must not be taken for the coach's echo."""
    margin_s: float = 0.05
    """Allowance for microphone latency when placing a command on the clock."""
    barge_in_confidence: float = 0.8
    """A barge-in word while speaking must be at least this certain."""


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    reason: str


@dataclass
class _Spoken:
    text: str
    start_s: float
    end_s: float | None = None


class ListeningGate:
    """Thread-safe: the speech worker reports, the listening thread asks."""

    def __init__(self, settings: GateSettings | None = None) -> None:
        self.settings = settings or GateSettings()
        self._lock = threading.Lock()
        self._spoken: deque[_Spoken] = deque(maxlen=_KEPT_INTERVALS)
        self._reset_done_for: float | None = None

    def observe(self, event: InboxEvent) -> None:
        """Feed SpeechStarted / SpeechEnded (other events are ignored)."""
        with self._lock:
            if isinstance(event, SpeechStarted):
                self._spoken.append(_Spoken(event.text, event.at_s))
            elif isinstance(event, SpeechEnded):
                for spoken in reversed(self._spoken):
                    if spoken.end_s is None:
                        spoken.end_s = event.at_s
                        break

    def speaking(self, now_s: float) -> bool:
        """True while a sentence plays or its tail has not passed."""
        with self._lock:
            return any(self._covers(s, now_s, now_s) for s in self._spoken)

    def judge(self, command: Command, heard_at_s: float) -> Verdict:
        """May `command`, reported at session second `heard_at_s`, act?"""
        # place the phrase on the session clock from its stream times
        end_s = heard_at_s - (command.emitted_s - command.end_s)
        start_s = end_s - (command.end_s - command.start_s) - self.settings.margin_s
        with self._lock:
            overlapping = [s for s in self._spoken if self._covers(s, start_s, end_s)]
        if not overlapping:
            return Verdict(True, "quiet")
        if command.intent not in BARGE_IN:
            return Verdict(False, "assistant speaking")
        if command.confidence < self.settings.barge_in_confidence:
            return Verdict(False, f"barge-in below {self.settings.barge_in_confidence:.2f}")
        heard_words = set(command.phrase.split())
        for spoken in overlapping:
            if heard_words & set(normalize(spoken.text).split()):
                return Verdict(False, "own words")
        return Verdict(True, "barge-in")

    def should_reset(self, now_s: float) -> bool:
        """True once after each stretch of speech has passed: reset the recognizer then."""
        with self._lock:
            ended = [s.end_s for s in self._spoken if s.end_s is not None]
            playing = any(s.end_s is None for s in self._spoken)
            if playing or not ended:
                return False
            last = max(ended)
            if now_s < last + self.settings.tail_s or self._reset_done_for == last:
                return False
            self._reset_done_for = last
            return True

    def _covers(self, spoken: _Spoken, start_s: float, end_s: float) -> bool:
        closes = (spoken.end_s if spoken.end_s is not None else float("inf")) + self.settings.tail_s
        return start_s <= closes and end_s >= spoken.start_s
