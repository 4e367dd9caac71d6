"""`assistant run` by voice: microphone -> recognizer -> gate -> session -> speaker, on a mat.

App lifecycle lives here (opening devices, threads, Ctrl-C, closing), not in the session.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final, TextIO

from assistant.clock import Clock, MonotonicClock
from assistant.commands import Command, Grammar
from assistant.cues import load_cues
from assistant.errors import HistoryError
from assistant.events import CommandHeard, InboxEvent, NotUnderstood, SessionEvent, SessionEventType
from assistant.gate import GateSettings, ListeningGate
from assistant.history import HistoryRecorder, SqliteHistory, progress_sentence
from assistant.loop import SessionLoop
from assistant.routine import load_routine
from assistant.session import Session
from assistant.settings import RunSettings
from assistant.speaking import Speaker
from assistant.stopping import STOP

if TYPE_CHECKING:
    from assistant.audio import AudioSource
    from assistant.echo import EchoReference
    from assistant.listener import Listener
    from assistant.listening import Recognizer
    from assistant.recording import HeardRecorder

_LOGGER = logging.getLogger(__name__)

CONFIRM_BELOW: Final = 0.75
"""A spoken "skip" heard with less confidence than this is asked about first."""


def open_history(settings: RunSettings) -> SqliteHistory | None:
    """The history of `settings.data_dir` (None: not recorded); what is wrong with it, in one line.

    A history that cannot be used (in use by another program, a folder that cannot be written)
    does not keep the person from exercising: the session goes on without being recorded.
    """
    if settings.data_dir is None:
        return None
    try:
        history = SqliteHistory.open(settings.data_dir)
    except HistoryError as err:
        print(f"{err.message} This session will not be recorded.", file=sys.stderr)
        return None
    if history.notice:
        print(history.notice, file=sys.stderr)
    return history


def build_loop(settings: RunSettings, clock: Clock, speaker: Speaker, *, confirm_below: float = 0.0,
               history: SqliteHistory | None = None) -> SessionLoop:
    """A session loop over the routine of `settings`, speaking through `speaker`, recording history.

    With a history, an interrupted session of today is offered first, "how am I doing" is
    answered from it, and every repetition is committed as it is done. `history` is one that
    stays open across sessions (serve); without it, the one of `settings.data_dir` is opened.
    """
    routine = load_routine(settings.routine)
    if history is None:
        history = open_history(settings)
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
    if history is not None and history.writable:
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


class VoiceRig:
    """Microphone, speaker and listening gate, opened once: one session for `run`, many for `serve`.

    Devices are checked before anything opens. Every event of the speaker and the listener
    goes through `post`: the gate learns exact speech times first, then the event reaches
    whoever listens now (a session loop, or `serve` waiting for its start phrase).
    """

    def __init__(self, settings: RunSettings, *, extra_lines: Sequence[str] = ()) -> None:
        from assistant.audio import find_input_device
        from assistant.listener import choose_engine
        from assistant.playback import find_output_device
        from assistant.speaking import make_speaker
        from assistant.speech_lines import session_lines

        self.settings = settings
        self.routine = load_routine(settings.routine)
        self.choice = choose_engine(settings.engine, settings.model)  # a missing model fails here
        # no microphone or speaker: one sentence, before anything opens
        microphone = find_input_device(settings.input_device)
        loudspeaker = find_output_device(settings.output_device)
        self.clock = MonotonicClock()
        self.reference, self._wrap = _echo_cancelling(settings, self.clock.now)
        # With the echo taken out, the coach's own words no longer reach the recognizer loud and
        # whole, so a barge-in word may be less certain (measured: no own-voice command either way).
        self.gate = ListeningGate(GateSettings(barge_in_confidence=0.7) if self._wrap else None)
        self._target: Callable[[InboxEvent], None] | None = None
        self.listener: Listener | None = None
        self.recorder: HeardRecorder | None = None
        if settings.record_dir is not None:
            from assistant.recording import HeardRecorder

            self.recorder = HeardRecorder(settings.record_dir, lambda: self.gate.speaking(self.clock.now()))
        self.speaker = make_speaker(settings.output_device, settings.voice, self.post, self.clock.now,
                                    earcons=settings.earcons, out=sys.stdout,
                                    prerendered_only=settings.low_power, reference=self.reference)
        cues = load_cues()
        lines = [*session_lines(self.routine, cues, every_number=settings.low_power), *extra_lines]
        if settings.low_power:  # also what only these devices can say
            lines += [cues.say("device_lost", device=name)
                      for name in ("microphone", microphone.name, f"speaker {loudspeaker.name}")]
        try:
            self.speaker.prepare(lines)
        except BaseException:
            self.speaker.close()
            raise

    def __enter__(self) -> VoiceRig:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def post(self, event: InboxEvent) -> None:
        """Thread-safe: the speaker, the listener and the keyboard hand their events here."""
        self.gate.observe(event)  # the gate learns exact speech times first
        target = self._target
        if target is not None:
            target(event)

    def route_to(self, target: Callable[[InboxEvent], None] | None) -> None:
        """Who gets the events from now on (None: nobody, they are dropped)."""
        self._target = target

    def allow(self, command: Command) -> bool:
        """The listening gate: never our own voice, barge-in words only while speaking."""
        verdict = self.gate.judge(command, self.clock.now())
        if not verdict.allowed:
            _LOGGER.info("Not obeyed (%s): '%s' %.2f", verdict.reason, command.phrase, command.confidence)
        return verdict.allowed

    def listen(self, grammar: Grammar, recognizer: Recognizer | None = None) -> None:
        """Open the microphone and listen on a thread (with `recognizer`, or one for `grammar`)."""
        from assistant.listener import start_listening
        from assistant.listening import hearing_settings

        self.listener = start_listening(self.choice, grammar, self.post, self.settings.input_device,
                                        gate=self.allow, should_reset=lambda: self.gate.should_reset(self.clock.now()),
                                        debug=self.settings.debug, recognizer=recognizer,
                                        settings=hearing_settings(self.settings.low_power), wrap=self._wrap,
                                        record=self.recorder,
                                        coach_speaking=lambda: self.gate.speaking(self.clock.now()))

    def start_keyboard(self, grammar: Grammar) -> None:
        """Typed commands work too (e.g. 'resume' when the microphone is gone); end of input is not the end."""

        def read() -> None:
            for line in sys.stdin:
                if line.strip():
                    self.post(heard(grammar, line, self.clock.now()))

        threading.Thread(target=read, name="keyboard", daemon=True).start()

    def run_session(self, history: SqliteHistory | None = None) -> SessionLoop:
        """One whole session in real time, until it finishes or is stopped (Ctrl-C, SIGTERM)."""
        loop = build_loop(self.settings, self.clock, self.speaker, confirm_below=CONFIRM_BELOW, history=history)
        if self.settings.low_power and loop.session.progress_report is not None:
            # "how am I doing" as it stands now: prepared, since nothing is rendered during a session
            self.speaker.prepare([loop.session.progress_report()], progress=False)
        screen = Screen(self.clock.now)
        loop.session_observers.append(screen.session_event)
        loop.inbox_observers.append(screen.inbox_event)
        self.route_to(loop.post)
        try:
            run_until_stopped(loop)
        finally:
            self.route_to(None)
        if loop.stopped_by:
            print(stopped_line(loop), file=sys.stderr)
        else:
            self.speaker.wait_until_quiet(timeout_s=30.0)  # let the goodbye be heard
        return loop

    def close(self) -> None:
        if self.listener is not None:
            self.listener.close()
        if self.recorder is not None:
            self.recorder.close()
        self.speaker.close()


def run_voice(settings: RunSettings, grammar: Grammar) -> int:
    """The real thing: one session by voice. Every part is closed at the end."""
    with VoiceRig(settings) as rig:
        rig.listen(grammar)
        rig.start_keyboard(grammar)
        rig.run_session()
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


def stopped_line(loop: SessionLoop) -> str:
    """What is printed when a session was stopped before its end (a signal, Ctrl-D)."""
    recorders = [o for o in loop.session_observers if isinstance(o, HistoryRecorder) and o.session_id is not None]
    if not recorders:
        kept = "it was not recorded"
    elif any(r.failed for r in recorders):
        kept = "only part of it was recorded (see the warning above)"
    else:
        kept = "your progress is saved"
    return f"Session stopped ({loop.stopped_by}); {kept}."


def run_until_stopped(loop: SessionLoop) -> None:
    """Start and run the session in real time, until it ends or a Shutdown arrives.

    Ctrl-C, SIGTERM and SIGHUP arrive as a Shutdown on the loop's inbox, between two events,
    never inside one (progress is kept).
    """
    with STOP.delivering_to(loop.inbox):
        loop.start()
        loop.run()
