"""`assistant demo`: a whole session in a room simulated in memory, no sound card needed.

The assistant's sentences (rendered by the real voice) and a synthetic user's commands
(another voice, said at sensible moments) are mixed on one 16 kHz timeline. The real
recognizer listens to that mix block by block, so it hears the assistant too, exactly as a
microphone on a mat would; the listening gate must keep it from obeying itself. Quiet
stretches (the middle of a hold, a rest) are shortened `speed` times in the audio, while the
session clock jumps to its next deadline.
"""

from __future__ import annotations

import logging
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, TextIO

import numpy as np
import numpy.typing as npt

from assistant.clock import FakeClock
from assistant.commands import Command, Grammar, Intent
from assistant.errors import UsageError
from assistant.events import CommandHeard, SessionEvent, SessionEventType, SpeechEnded, SpeechStarted
from assistant.gate import ListeningGate
from assistant.loop import SessionLoop
from assistant.routine import Routine
from assistant.session import Session
from assistant.speaking import VoiceControl

if TYPE_CHECKING:
    from assistant.audio import AudioBlock
    from assistant.listening import Recognizer

_LOGGER = logging.getLogger(__name__)

RATE_HZ: Final = 16_000
BLOCK_S: Final = 0.1
_QUIET_MIN_S: Final = 0.6
"""Shortest silence kept in the audio when a quiet stretch is shortened."""
_ANSWER_WAIT_S: Final = 5.0
"""Session seconds the user waits for a command to be acted on before saying it again."""
_TRIES: Final = 4
_HEARING_S: Final = 1.0
"""After the user speaks, time passes at its real pace this long: the phrase is decoded first."""
_POLITE_GAP_S: Final = 0.5
"""The user waits for the coach to finish a sentence, and this much more, before speaking."""

Int16Array = npt.NDArray[np.int16]
AudioOf = Callable[[str], Int16Array]
"""Text -> 16 kHz mono int16 samples of it spoken."""


@dataclass(frozen=True, slots=True)
class UserLine:
    """The synthetic user says `phrase` `delay_s` session seconds after the coach says `after`."""

    after: str
    delay_s: float
    phrase: str


# A user who hurries through the start, asks, pauses, interrupts, and finishes.
DEMO_USER: Final = (
    UserLine("Today we work on your lower back.", 0.5, "next"),
    UserLine("Lie down on your stomach.", 1.0, "repeat"),
    UserLine("Repetition 1 of", 12.0, "how long"),
    UserLine("Repetition 1 of", 20.0, "pause"),
    UserLine("Paused.", 4.0, "resume"),
    UserLine("Repetition 2 of", 6.0, "mistakes"),
    UserLine("Repetition 3 of", 4.0, "next"),
    UserLine("Repetition 4 of", 3.0, "skip"),
    UserLine("Slide 1 of", 3.0, "slower"),
    UserLine("Slide 3 of", 2.0, "how long"),
    UserLine("Now change to the", 2.0, "next"),
    UserLine("Exercise 3 of", 1.5, "stop"),
    UserLine("End the session?", 1.0, "no"),
    UserLine("Begin breathing now.", 20.0, "done"),
)


class RoomTimeline:
    """Two tracks on one clock (stream seconds): the coach's voice and the user's."""

    def __init__(self) -> None:
        self._coach = np.zeros(0, dtype=np.float32)
        self._user = np.zeros(0, dtype=np.float32)

    def _grow(self, track: npt.NDArray[np.float32], end: int) -> npt.NDArray[np.float32]:
        if end <= len(track):
            return track
        return np.concatenate([track, np.zeros(end - len(track) + RATE_HZ * 10, dtype=np.float32)])

    def place(self, who: str, at_s: float, samples: Int16Array) -> float:
        """Put `samples` on a track from `at_s`; returns where they end."""
        start = int(round(at_s * RATE_HZ))
        end = start + len(samples)
        values = samples.astype(np.float32) / 32768.0
        if who == "coach":
            self._coach = self._grow(self._coach, end)
            self._coach[start:end] += values
        else:
            self._user = self._grow(self._user, end)
            self._user[start:end] += values
        return end / RATE_HZ

    def cut_coach(self, from_s: float) -> None:
        """Silence the coach from `from_s` on (speech cut off)."""
        self._coach[int(round(from_s * RATE_HZ)):] = 0.0

    def mix(self, start_s: float, end_s: float) -> Int16Array:
        start, end = int(round(start_s * RATE_HZ)), int(round(end_s * RATE_HZ))
        self._coach = self._grow(self._coach, end)
        self._user = self._grow(self._user, end)
        both = self._coach[start:end] + self._user[start:end]
        return np.asarray(np.clip(both, -1.0, 1.0) * 32767, dtype=np.int16)

    def write_wav(self, path: Path, end_s: float) -> None:
        samples = self.mix(0.0, end_s)
        try:
            with wave.open(str(path), "wb") as out:
                out.setnchannels(1)
                out.setsampwidth(2)
                out.setframerate(RATE_HZ)
                out.writeframes(samples.tobytes())
        except OSError as err:  # the disk filled up during the demo, say
            raise UsageError("bad-output", f"Cannot write {path} ({err.strerror}); choose another --out.") from err


@dataclass
class RoomSpeaker:
    """The Speaker of the demo: sentences go onto the coach track, one after another."""

    timeline: RoomTimeline
    audio_of: AudioOf
    stream_now: Callable[[], float]
    report: Callable[[SpeechStarted | SpeechEnded], None]
    earcon_of: Callable[[str], Int16Array] | None = None
    busy_until_s: float = 0.0
    spoken: list[tuple[float, float, str]] = field(default_factory=list)

    def say(self, text: str, *, urgent: bool = False) -> None:
        if urgent:
            self.stop()
        samples = self.audio_of(text)
        start = max(self.stream_now(), self.busy_until_s)
        self.busy_until_s = self.timeline.place("coach", start, samples)
        self.spoken.append((start, self.busy_until_s, text))
        self.report(SpeechStarted(text, start))
        self.report(SpeechEnded(text, self.busy_until_s))

    def stop(self) -> None:
        now = self.stream_now()
        if self.busy_until_s > now:
            self.timeline.cut_coach(now)
            self.busy_until_s = now

    def adjust(self, control: VoiceControl) -> None:
        """The demo keeps one voice; the session itself changes its pace."""

    def duration_s(self, text: str) -> float:
        return len(self.audio_of(text)) / RATE_HZ

    def earcon(self, name: str) -> None:
        if self.earcon_of is not None:
            self.timeline.place("coach", self.stream_now(), self.earcon_of(name))

    def close(self) -> None:
        """Nothing to release."""


@dataclass
class DemoReport:
    """What happened, for the screen and for measuring."""

    said_by_user: list[tuple[float, str]] = field(default_factory=list)
    acted_on: list[Command] = field(default_factory=list)
    gated: list[tuple[Command, str]] = field(default_factory=list)
    audio_s: float = 0.0
    session_s: float = 0.0
    finished: bool = False


class DemoRun:
    """Runs one simulated session; `run()` returns the report."""

    def __init__(self, routine: Routine, grammar: Grammar, recognizer: Recognizer,
                 coach_audio: AudioOf, user_audio: AudioOf, *, speed: float = 10.0,
                 user_lines: tuple[UserLine, ...] = DEMO_USER, out: TextIO | None = None,
                 earcon_of: Callable[[str], Int16Array] | None = None,
                 max_session_s: float = 3 * 3600) -> None:
        self.routine = routine
        self.grammar = grammar
        self.recognizer = recognizer
        self.user_audio = user_audio
        self.speed = speed
        self.out = out
        self.max_session_s = max_session_s
        self.timeline = RoomTimeline()
        self.clock = FakeClock()
        self.stream_s = 0.0
        self.gate = ListeningGate()
        self.report = DemoReport()
        self._rules = list(user_lines)
        self._due: list[tuple[float, str]] = []  # (session s, phrase)
        self._user_until_s = 0.0
        """Stream second at which the user's last words have been said."""
        self._waiting: tuple[float, str, int] | None = None
        """(session s to give up waiting, the intent, tries so far) for the last thing said."""
        self.speaker = RoomSpeaker(self.timeline, coach_audio, lambda: self.stream_s,
                                   self.gate.observe, earcon_of)
        self.loop = SessionLoop(
            lambda announce: Session(routine, self.clock, announce, duration_of=self.speaker.duration_s),
            self.clock, self.speaker)
        self.loop.session_observers.append(self._on_event)

    def _print(self, text: str) -> None:
        if self.out is not None:
            print(f"[{self.clock.now():7.1f}] {text}", file=self.out, flush=True)

    def _on_event(self, event: SessionEvent) -> None:
        if event.type is SessionEventType.COMMAND_ACCEPTED and self._waiting is not None:
            self._waiting = None  # acted on: the user stops repeating
        if event.type is not SessionEventType.CUE:
            return
        text = str(event.data["text"])
        self._print(f"coach: {text}")
        for rule in list(self._rules):
            if rule.after in text:
                self._rules.remove(rule)
                self._due.append((self.clock.now() + rule.delay_s, rule.phrase))
        self._due.sort()

    def run(self) -> DemoReport:
        self.loop.start()
        while not self.loop.session.finished and self.clock.now() < self.max_session_s:
            self._user_speaks()
            self._listen(self.stream_s, self.stream_s + BLOCK_S)
            self.stream_s += BLOCK_S
            self.loop.run_until(self.clock.now() + BLOCK_S)
            self._shorten_quiet()
        self.report.audio_s = max(self.stream_s, self.speaker.busy_until_s)
        self.report.session_s = self.clock.now()
        self.report.finished = self.loop.session.finished
        return self.report

    def write_wav(self, path: Path) -> None:
        self.timeline.write_wav(path, self.report.audio_s + 0.5)

    def _user_speaks(self) -> None:
        """Like a person on the mat: wait until the coach is quiet, speak, and say it again
        in other words when nothing happens."""
        if self.speaker.busy_until_s + _POLITE_GAP_S > self.stream_s:
            return
        now = self.clock.now()
        if self._waiting is not None:
            give_up_at, intent, tries = self._waiting
            if now < give_up_at:
                return
            self._waiting = None
            if tries < _TRIES:
                phrases = self.grammar.phrases_for(Intent(intent))
                self._speak(phrases[tries % len(phrases)], intent, tries + 1)
            return
        if self._due and self._due[0][0] <= now:
            _, phrase = self._due.pop(0)
            matched = self.grammar.match(phrase)
            self._speak(phrase, matched.value if matched else phrase, 1)

    def _speak(self, phrase: str, intent: str, tries: int) -> None:
        end = self.timeline.place("user", self.stream_s, self.user_audio(phrase))
        self._user_until_s = end
        self.report.said_by_user.append((self.clock.now(), phrase))
        self._print(f"user says: {phrase}" + (f" (again, try {tries})" if tries > 1 else ""))
        self._waiting = (self.clock.now() + (end - self.stream_s) + _ANSWER_WAIT_S, intent, tries)

    def _listen(self, start_s: float, end_s: float) -> None:
        from assistant.audio import AudioBlock

        block: AudioBlock = AudioBlock(self.timeline.mix(start_s, end_s).tobytes(), start_s)
        if self.gate.should_reset(start_s):
            self.recognizer.reset()
        if hasattr(self.recognizer, "over_speech"):  # as the listener tells it in a real session
            self.recognizer.over_speech = self.gate.speaking(start_s)
        for command in self.recognizer.accept(block):
            verdict = self.gate.judge(command, heard_at_s=end_s)
            if verdict.allowed:
                self.report.acted_on.append(command)
                self._print(f"heard: {command.phrase} ({command.confidence:.0%})")
                self.loop.post(CommandHeard(command))
            else:
                self.report.gated.append((command, verdict.reason))
                self._print(f"ignored ({verdict.reason}): {command.phrase}")

    def _shorten_quiet(self) -> None:
        """Nothing playing and nothing to hear: jump the session clock, keep a little silence."""
        if self.speaker.busy_until_s > self.stream_s - 0.5 or self.gate.speaking(self.stream_s):
            return
        if self._user_until_s > self.stream_s - _HEARING_S:
            return  # the recognizer is still hearing (or deciding about) what the user said
        upcoming = [t for t in (self.loop.next_due(), self._due[0][0] if self._due else None,
                                self._waiting[0] if self._waiting else None) if t is not None]
        if not upcoming:
            return
        gap = min(upcoming) - self.clock.now()
        if gap <= _QUIET_MIN_S:
            return
        kept = max(_QUIET_MIN_S, gap / self.speed)
        # listen through the silence that is kept, so a phrase being decoded is finished
        heard_before = len(self.report.acted_on)
        for _ in range(int(kept / BLOCK_S)):
            self._listen(self.stream_s, self.stream_s + BLOCK_S)
            self.stream_s += BLOCK_S
            if len(self.report.acted_on) > heard_before:
                return  # a command came in: let the session take it at this moment
        self.clock.advance_to(self.clock.now() + gap - BLOCK_S)


def _to_16k(samples: Int16Array, rate: int) -> Int16Array:
    from assistant.audio import Resampler

    floats = Resampler(rate)(samples.astype(np.float32) / 32768.0)
    return np.asarray(np.clip(floats, -1.0, 1.0) * 32767, dtype=np.int16)


def _user_voice(voices: list[str], coach_voice: str | None) -> str | None:
    """A voice unlike the coach's, so a listener can tell the two apart."""
    for wanted in ("en-us", "en-gb-x-rp", "en-gb", "en"):
        for voice in voices:
            if voice.lower().endswith(wanted) and voice != coach_voice:
                return voice
    return None


def run_demo(routine: Routine, grammar: Grammar, recognizer: Recognizer, *, speed: float, out_wav: Path | None,
             screen: TextIO, voice: str | None = None) -> DemoReport:
    """Render both voices (cached), run the simulated session, write the room's sound if asked."""
    from assistant.cues import load_cues
    from assistant.earcons import earcon_samples
    from assistant.rendering import VoiceParams, shared_renderer
    from assistant.speaking import resolve_voice
    from assistant.speech_cache import SpeechCache
    from assistant.speech_lines import session_lines
    from assistant.voice_settings import VoiceSettingsStore

    renderer = shared_renderer()
    voices = renderer.voices()
    settings = VoiceSettingsStore().load()
    coach_voice = resolve_voice(voices, voice) if voice else settings.voice
    coach = VoiceParams(coach_voice, settings.rate_wpm, settings.volume)
    user = VoiceParams(_user_voice([v.id for v in voices], coach_voice), 150, 1.0)
    cache = SpeechCache(renderer)
    cache.prepare(session_lines(routine, load_cues()), coach)
    cache.prepare(sorted({line.phrase for line in DEMO_USER}), user)
    memo: dict[tuple[str, str], Int16Array] = {}

    def audio(who: str, params: VoiceParams) -> AudioOf:
        def of(text: str) -> Int16Array:
            if (who, text) not in memo:
                rendered = cache.get(text, params)
                memo[(who, text)] = _to_16k(rendered.samples, rendered.sample_rate)
            return memo[(who, text)]

        return of

    def earcon(name: str) -> Int16Array:
        return earcon_samples(name, RATE_HZ, 0.5)

    run = DemoRun(routine, grammar, recognizer, audio("coach", coach), audio("user", user), speed=speed,
                  out=screen, earcon_of=earcon)
    report = run.run()
    if out_wav is not None:
        run.write_wav(out_wav)
    return report
