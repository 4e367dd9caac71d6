"""`assistant run` by voice: microphone -> recognizer -> gate -> session -> speaker, on a mat.

App lifecycle lives here (opening devices, threads, Ctrl-C, closing), not in the session.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, TextIO

from assistant.clock import Clock, MonotonicClock
from assistant.commands import Command, Grammar
from assistant.cues import load_cues
from assistant.events import CommandHeard, InboxEvent, NotUnderstood, SessionEvent, SessionEventType
from assistant.gate import GateSettings, ListeningGate
from assistant.history import HistoryRecorder, SqliteHistory, progress_sentence
from assistant.loop import SessionLoop
from assistant.routine import load_routine
from assistant.session import Session
from assistant.settings import RunSettings
from assistant.speaking import Speaker

if TYPE_CHECKING:
    from assistant.audio import AudioSource
    from assistant.echo import EchoReference

_LOGGER = logging.getLogger(__name__)

CONFIRM_BELOW: Final = 0.75
"""A spoken "skip" heard with less confidence than this is asked about first."""


def build_loop(settings: RunSettings, clock: Clock, speaker: Speaker, *, confirm_below: float = 0.0) -> SessionLoop:
    """A session loop over the routine of `settings`, speaking through `speaker`, recording history.

    With a history, an interrupted session of today is offered first, "how am I doing" is
    answered from it, and every repetition is committed as it is done.
    """
    routine = load_routine(settings.routine)
    history = None
    if settings.data_dir is not None:
        history = SqliteHistory.open(settings.data_dir)
        if history.notice:
            print(history.notice, file=sys.stderr)
    resume_point = history.interrupted_today(routine) if history else None
    cues = load_cues()

    def progress() -> str:
        return progress_sentence(history, cues) if history else ""

    if settings.low_power:
        # Said as it stood when the session began, so that it can be prepared before it starts.
        at_start = progress()

        def progress() -> str:
            return at_start

    loop = SessionLoop(
        lambda announce: Session(routine, clock, announce, duration_of=speaker.duration_s, cues=cues,
                                 resume_point=resume_point, progress_report=progress,
                                 confirm_below=confirm_below),
        clock,
        speaker,
    )
    if history is not None:
        loop.session_observers.append(HistoryRecorder(history, routine, offered=resume_point))
    return loop


def heard(grammar: Grammar, phrase: str, at_s: float) -> InboxEvent:
    """A typed or scripted phrase, as the recognizer would report it."""
    intent = grammar.match(phrase)
    if intent is None:
        return NotUnderstood(phrase)
    return CommandHeard(Command(intent, phrase.strip().lower(), 1.0, at_s, at_s, at_s))


class Screen:
    """What a person glancing at the screen sees: what was said and what was heard."""

    def __init__(self, now: Callable[[], float], out: TextIO | None = None) -> None:
        self._now = now
        self._out = out if out is not None else sys.stdout

    def session_event(self, event: SessionEvent) -> None:
        if event.type is SessionEventType.CUE:
            mark = "!" if event.data.get("urgent") else " "
            self._line(f"{mark}{event.data['text']}")

    def inbox_event(self, event: InboxEvent, at_s: float) -> None:
        if isinstance(event, CommandHeard):
            command = event.command
            self._line(f" you: {command.phrase} ({command.confidence:.0%})")
        elif isinstance(event, NotUnderstood):
            self._line(f" you: {event.text}")

    def _line(self, text: str) -> None:
        print(f"[{self._now():7.1f}]{text}", file=self._out, flush=True)


def run_voice(settings: RunSettings, grammar: Grammar) -> int:
    """The real thing. Devices are checked before anything opens; every part is closed at the end."""
    from assistant.audio import find_input_device
    from assistant.listener import choose_engine, start_listening
    from assistant.listening import hearing_settings
    from assistant.playback import find_output_device
    from assistant.speaking import make_speaker
    from assistant.speech_lines import session_lines

    routine = load_routine(settings.routine)
    choice = choose_engine(settings.engine, settings.model)  # a missing model fails here
    microphone = find_input_device(settings.input_device)  # no microphone: one sentence, before opening anything
    loudspeaker = find_output_device(settings.output_device)

    clock = MonotonicClock()
    reference, wrap = _echo_cancelling(settings, clock.now)
    # With the echo taken out, the coach's own words no longer reach the recognizer loud and
    # whole, so a barge-in word may be less certain (measured: no own-voice command either way).
    gate = ListeningGate(GateSettings(barge_in_confidence=0.7) if wrap else None)
    holder: list[SessionLoop] = []

    def post(event: InboxEvent) -> None:
        gate.observe(event)  # the gate learns exact speech times first
        if holder:
            holder[0].post(event)

    speaker = make_speaker(settings.output_device, settings.voice, post, clock.now, earcons=settings.earcons,
                           out=sys.stdout, prerendered_only=settings.low_power, reference=reference)
    listener = None
    try:
        loop = build_loop(settings, clock, speaker, confirm_below=CONFIRM_BELOW)
        cues = load_cues()
        lines = session_lines(routine, cues, every_number=settings.low_power)
        if settings.low_power:  # also what only this session, these devices and this history can say
            lines += [cues.say("device_lost", device=name)
                      for name in ("microphone", microphone.name, f"speaker {loudspeaker.name}")]
            lines.append(loop.session.progress_report() if loop.session.progress_report else "")
        speaker.prepare(lines)
        holder.append(loop)
        screen = Screen(clock.now)
        loop.session_observers.append(screen.session_event)
        loop.inbox_observers.append(screen.inbox_event)

        def allow(command: Command) -> bool:
            verdict = gate.judge(command, clock.now())
            if not verdict.allowed:
                _LOGGER.info("Not obeyed (%s): '%s' %.2f", verdict.reason, command.phrase, command.confidence)
            return verdict.allowed

        listener = start_listening(choice, grammar, post, settings.input_device, gate=allow,
                                   should_reset=lambda: gate.should_reset(clock.now()), debug=settings.debug,
                                   settings=hearing_settings(settings.low_power), wrap=wrap)
        _start_keyboard(loop, grammar, clock.now)
        run_until_stopped(loop)
        if loop.stopped_by:
            print(f"Session stopped ({loop.stopped_by}); your progress is saved.", file=sys.stderr)
        else:
            speaker.wait_until_quiet(timeout_s=30.0)  # let the goodbye be heard
    finally:
        if listener is not None:
            listener.close()
        speaker.close()
    return 0


def _echo_cancelling(settings: RunSettings, now: Callable[[], float]
                     ) -> tuple[EchoReference | None, Callable[[AudioSource], AudioSource] | None]:
    """The speaker's tap and the microphone's filter, or (None, None) when off or unavailable."""
    if not settings.echo_cancel:
        return None, None
    from assistant.echo import EchoCancelledSource, EchoReference, EchoUnavailable, SpeexCanceller

    try:
        SpeexCanceller().close()  # the library is there and works
    except EchoUnavailable as err:
        print(err, file=sys.stderr)
        return None, None
    reference = EchoReference()

    def wrap(source: AudioSource) -> AudioSource:
        return EchoCancelledSource(source, reference, now)

    return reference, wrap


def run_until_stopped(loop: SessionLoop) -> None:
    """Start and run the session in real time; Ctrl-C stops it like a Shutdown (progress is kept)."""
    loop.start()
    try:
        loop.run()
    except KeyboardInterrupt:
        loop.stopped_by = "Ctrl-C"


def _start_keyboard(loop: SessionLoop, grammar: Grammar, now: Callable[[], float]) -> None:
    """Typed commands work too (e.g. 'resume' when the microphone is gone); end of input is not the end."""

    def read() -> None:
        for line in sys.stdin:
            if line.strip():
                loop.post(heard(grammar, line, now()))

    threading.Thread(target=read, name="keyboard", daemon=True).start()
