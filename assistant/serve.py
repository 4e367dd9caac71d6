"""`assistant serve`: always on. Waits quietly for "start session", coaches, waits again.

App lifecycle only: the session itself is the same as `assistant run` (the same `VoiceRig`,
settings and history). Between sessions the listener hears with the strict wake grammar;
during one, with the session's grammar. Both recognizers stay loaded, so switching is
instant. The main thread owns everything: it waits for a start, then runs the session loop.
"""

from __future__ import annotations

import logging
import queue
import sys
from typing import Final, TextIO

from assistant.app import VoiceRig, open_history
from assistant.audio import AudioBlock
from assistant.commands import Command, Grammar
from assistant.cues import load_cues
from assistant.events import CommandHeard, InboxEvent, Shutdown
from assistant.listening import OnDecision, Recognizer
from assistant.settings import RunSettings
from assistant.stopping import STOP, StopRequested, stop_line
from assistant.wake import WakeSettings, is_start

_LOGGER = logging.getLogger(__name__)

_POLL_S: Final = 0.5
"""Longest wait for an event while idle (Ctrl-C and SIGTERM are noticed at once anyway)."""
_ACK_TIMEOUT_S: Final = 10.0
"""Longest wait for the spoken acknowledgement to be heard before the session begins."""


class SwitchingRecognizer:
    """Two loaded recognizers, one listening at a time: `use()` switches without reloading.

    `use()` may be called from any thread; the switch itself happens on the listening thread,
    at the next block, with the new recognizer reset (it hears nothing said before).
    """

    def __init__(self, waiting: Recognizer, session: Recognizer) -> None:
        self._waiting = waiting
        self._session = session
        self._wanted: Recognizer = waiting
        self._current: Recognizer = waiting

    def use(self, *, session: bool) -> None:
        self._wanted = self._session if session else self._waiting

    @property
    def over_speech(self) -> bool:
        return bool(getattr(self._current, "over_speech", False))

    @over_speech.setter
    def over_speech(self, speaking: bool) -> None:
        for recognizer in (self._waiting, self._session):
            if hasattr(recognizer, "over_speech"):
                recognizer.over_speech = speaking

    @property
    def on_decision(self) -> OnDecision | None:
        return getattr(self._session, "on_decision", None)

    @on_decision.setter
    def on_decision(self, record: OnDecision | None) -> None:
        for recognizer in (self._waiting, self._session):
            if hasattr(recognizer, "on_decision"):
                recognizer.on_decision = record

    @property
    def in_session(self) -> bool:
        return self._wanted is self._session

    def accept(self, block: AudioBlock) -> list[Command]:
        wanted = self._wanted
        if wanted is not self._current:
            self._current = wanted
            wanted.reset()
        return wanted.accept(block)

    def finish(self) -> list[Command]:
        return self._current.finish()

    def reset(self) -> None:
        self._current.reset()


def wait_for_start(inbox: queue.SimpleQueue[InboxEvent], wake: Grammar,
                   settings: WakeSettings) -> Command | Shutdown:
    """The first heard (or typed) command that starts a session, or a Shutdown (a stop signal)."""
    while True:
        try:
            event = inbox.get(timeout=_POLL_S)
        except queue.Empty:
            continue
        if isinstance(event, Shutdown):
            return event
        if isinstance(event, CommandHeard):
            if is_start(event.command, wake, settings):
                return event.command
            _LOGGER.info("Waiting; not a start: '%s' %.2f", event.command.phrase, event.command.confidence)


def run_serve(settings: RunSettings, grammar: Grammar, wake: Grammar, wake_settings: WakeSettings | None = None,
              out: TextIO | None = None) -> int:
    """Wait, coach, wait again, until Ctrl-C or SIGTERM (exit status 0, progress saved)."""
    from assistant.listener import make_recognizer
    from assistant.listening import hearing_settings

    wake_settings = wake_settings or WakeSettings()
    out = out if out is not None else sys.stdout
    cues = load_cues()
    acknowledgement = cues.say("wake_heard")
    first_phrase = next(iter(wake.phrases))
    try:
        with VoiceRig(settings, extra_lines=[acknowledgement]) as rig:
            hearing = hearing_settings(settings.low_power)
            waiting = make_recognizer(rig.choice, wake, wake_settings.hearing(hearing), debug=settings.debug)
            session = make_recognizer(rig.choice, grammar, hearing, debug=settings.debug)
            switch = SwitchingRecognizer(waiting, session)
            rig.listen(grammar, recognizer=switch)
            rig.start_keyboard(grammar)
            history = open_history(settings)
            try:
                while True:
                    inbox: queue.SimpleQueue[InboxEvent] = queue.SimpleQueue()  # nothing heard before counts
                    switch.use(session=False)
                    rig.route_to(inbox.put)
                    print(f"Waiting for '{first_phrase}'…", file=out, flush=True)
                    with STOP.delivering_to(inbox):
                        start = wait_for_start(inbox, wake, wake_settings)
                    rig.route_to(None)
                    if isinstance(start, Shutdown):
                        print(f"Stopped ({start.reason}).", file=sys.stderr)
                        break
                    print(f"Heard '{start.phrase}' ({start.confidence:.0%}): starting a session.", file=out,
                          flush=True)
                    switch.use(session=True)
                    rig.speaker.earcon("heard")
                    rig.speaker.say(acknowledgement)
                    rig.speaker.wait_until_quiet(_ACK_TIMEOUT_S)
                    loop = rig.run_session(history)
                    if loop.stopped_by:
                        break
            finally:
                if history is not None:
                    history.close()
    except StopRequested as stop:  # between two phases, e.g. while the acknowledgement plays
        print(stop_line(str(stop)), file=sys.stderr)
    return 0
