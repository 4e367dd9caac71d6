"""Test doubles, named by behaviour, passed to constructors."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from assistant.clock import FakeClock
from assistant.commands import Command, load_grammar
from assistant.events import NotUnderstood, SessionEvent, SessionEventType
from assistant.loop import SessionLoop
from assistant.playback import OutputDevice, Playback
from assistant.routine import Routine, load_routine
from assistant.session import ResumePoint, Session
from assistant.speaking import VoiceControl, estimate_speech_s


@dataclass
class Said:
    at_s: float
    text: str
    urgent: bool = False


@dataclass
class RecordingSpeaker:
    """Remembers everything it was asked to say, stop, change or beep."""

    now: Callable[[], float]
    said: list[Said] = field(default_factory=list)
    stops: list[float] = field(default_factory=list)
    controls: list[VoiceControl] = field(default_factory=list)
    earcons: list[tuple[float, str]] = field(default_factory=list)

    def say(self, text: str, *, urgent: bool = False) -> None:
        self.said.append(Said(self.now(), text, urgent))

    def stop(self) -> None:
        self.stops.append(self.now())

    def adjust(self, control: VoiceControl) -> None:
        self.controls.append(control)

    def duration_s(self, text: str) -> float:
        return estimate_speech_s(text)

    def earcon(self, name: str) -> None:
        self.earcons.append((self.now(), name))

    def close(self) -> None:
        pass


class CoachedSession:
    """A whole session on a fake clock: say things at session seconds, then read what it said."""

    def __init__(self, routine: Routine | None = None, *, resume_point: ResumePoint | None = None,
                 progress_report: Callable[[], str] | None = None,
                 observers: tuple[Callable[[SessionEvent], None], ...] = ()) -> None:
        self.clock = FakeClock()
        self.speaker = RecordingSpeaker(self.clock.now)
        self.grammar = load_grammar()
        self.events: list[SessionEvent] = []
        routine = routine or load_routine()
        self.loop = SessionLoop(
            lambda announce: Session(routine, self.clock, announce,
                                     duration_of=self.speaker.duration_s,
                                     resume_point=resume_point, progress_report=progress_report),
            self.clock, self.speaker,
        )
        self.loop.session_observers += [*observers, self.events.append]
        self.session = self.loop.session
        self.loop.start()

    def say_at(self, at_s: float, phrase: str) -> CoachedSession:
        """The user says `phrase` at session second `at_s` (delivered when time gets there)."""
        from assistant.events import CommandHeard

        intent = self.grammar.match(phrase)
        event = (CommandHeard(Command(intent, phrase, 1.0, at_s, at_s, at_s)) if intent
                 else NotUnderstood(phrase))
        self.loop.post_at(at_s, event)
        return self

    def run_until(self, at_s: float) -> CoachedSession:
        """Let time pass up to `at_s`: due deadlines fire, due phrases are heard."""
        self.loop.run_until(at_s)
        return self

    def run_until_said(self, text_part: str, limit_s: float = 10_000.0) -> float:
        """Let time pass until a sentence containing `text_part` is said; its session time."""
        while not any(text_part in s.text for s in self.speaker.said):
            due = self.loop.next_due()
            assert due is not None and due < limit_s and not self.session.finished, (
                f"{text_part!r} was never said; last said: {self.texts()[-5:]}")
            self.loop.run_until(due)
        return self.when(text_part)

    def run_to_end(self) -> CoachedSession:
        self.loop.run_until_idle()
        return self

    def when(self, text_part: str, nth: int = 1) -> float:
        """Session time of the nth sentence that contains `text_part`."""
        hits = [s.at_s for s in self.speaker.said if text_part in s.text]
        assert len(hits) >= nth, f"never said {text_part!r} (x{nth}); said: {self.texts()[-8:]}"
        return hits[nth - 1]

    def texts(self, since_s: float = 0.0) -> list[str]:
        return [s.text for s in self.speaker.said if s.at_s >= since_s]

    def said_after(self, at_s: float) -> list[str]:
        """Sentences said at or after `at_s`."""
        return self.texts(since_s=at_s)

    def count(self, text_part: str) -> int:
        return sum(text_part in s.text for s in self.speaker.said)

    def events_of(self, kind: SessionEventType) -> list[SessionEvent]:
        return [e for e in self.events if e.type is kind]


class InstantPlayer:
    """A sound output that 'plays' each sentence at once and keeps what it was given.

    `fail()` makes it behave like a speaker that was unplugged.
    """

    def __init__(self) -> None:
        self.device = OutputDevice(0, "instant", 22050.0)
        self.failure: str | None = None
        self.last_callback_at = time.monotonic()
        self.played: list[npt.NDArray[np.int16]] = []
        self.earcons: list[npt.NDArray[np.int16]] = []
        self.closed = False

    @property
    def healthy(self) -> bool:
        return self.failure is None

    def play(self, samples: npt.NDArray[np.int16], sample_rate: int) -> Playback:
        playback = Playback(samples)
        if self.failure is None:
            self.played.append(samples)
            playback.started_at_s = 0.0
            playback.ended_at_s = len(samples) / sample_rate
            playback.started.set()
            playback.done.set()
        return playback

    def cut(self) -> None:
        """Nothing keeps playing here."""

    def add_earcon(self, samples: npt.NDArray[np.int16]) -> None:
        self.earcons.append(samples)

    def close(self) -> None:
        self.closed = True

    def fail(self, reason: str = "unplugged") -> None:
        self.failure = reason
