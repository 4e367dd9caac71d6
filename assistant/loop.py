"""The inbox consumer: the one thread that owns the session and drives it with time."""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
from collections.abc import Callable
from typing import Final

from assistant.clock import Clock, FakeClock
from assistant.events import (
    CommandHeard,
    DeviceBack,
    DeviceLost,
    InboxEvent,
    NotUnderstood,
    SessionEvent,
    SessionEventType,
    Shutdown,
    SpeechEnded,
    SpeechStarted,
)
from assistant.session import Session
from assistant.speaking import Speaker, VoiceControl

_LOGGER = logging.getLogger(__name__)

SessionObserver = Callable[[SessionEvent], None]
InboxObserver = Callable[[InboxEvent, float], None]

_MAX_IDLE_WAIT_S: Final = 0.5
"""Longest real wait with nothing due, so a stop request is noticed promptly."""


class SessionLoop:
    """Takes events from one queue, feeds the session, and sends its cues to the speaker.

    Threads (keyboard, microphone, speech worker) only call `post()`. `run()` waits in real
    time; `run_until_idle()` moves a `FakeClock` from deadline to deadline instead.
    """

    def __init__(self, session_factory: Callable[[Callable[[SessionEvent], None]], Session],
                 clock: Clock, speaker: Speaker) -> None:
        self.clock = clock
        self.speaker = speaker
        self.inbox: queue.SimpleQueue[InboxEvent] = queue.SimpleQueue()
        """A SimpleQueue: its put() is reentrant, so a signal handler may post a Shutdown here."""
        self._scheduled: list[tuple[float, int, InboxEvent]] = []
        self._order = itertools.count()
        self.session_observers: list[SessionObserver] = []
        self.inbox_observers: list[InboxObserver] = []
        self.stopped_by: str | None = None
        self.session = session_factory(self._on_session_event)

    # ------------------------------------------------------------ inputs

    def post(self, event: InboxEvent) -> None:
        """Thread-safe: hand an event to the loop."""
        self.inbox.put(event)

    def post_at(self, at_s: float, event: InboxEvent) -> None:
        """Deliver `event` when the clock reaches `at_s` (used by scripted sessions)."""
        heapq.heappush(self._scheduled, (at_s, next(self._order), event))

    # ------------------------------------------------------------ running

    def start(self) -> None:
        if self.session.state.name == "IDLE":
            self.session.begin()

    def run_until_idle(self) -> None:
        """Drive the session on a FakeClock until it ends or nothing more can happen."""
        self.run_until(None)

    def run_until(self, until_s: float | None) -> None:
        """Drive the session on a FakeClock up to session second `until_s` (None: no limit)."""
        if not isinstance(self.clock, FakeClock):
            raise TypeError("run_until needs a FakeClock")
        while not self._done():
            self._drain()
            self._deliver_scheduled()
            self.session.check_time()
            if self._done() or not self.inbox.empty():
                continue
            due = self.next_due()
            if due is None or (until_s is not None and due > until_s):
                break
            self.clock.advance_to(due)
        if until_s is not None and not self._done():
            self.clock.advance_to(until_s)
            self._deliver_scheduled()
            self.session.check_time()

    def run(self) -> None:
        """Drive the session in real time until it ends or a Shutdown arrives."""
        while not self._done():
            self._deliver_scheduled()
            self.session.check_time()
            if self._done():
                break
            due = self.next_due()
            wait = _MAX_IDLE_WAIT_S
            if due is not None:
                wait = min(wait, self.clock.real_seconds(due - self.clock.now()))
            try:
                event = self.inbox.get(timeout=max(0.0, wait))
            except queue.Empty:
                continue
            self._handle(event)

    # ------------------------------------------------------------ internals

    def _done(self) -> bool:
        return self.session.finished or self.stopped_by is not None

    def next_due(self) -> float | None:
        """When the session or a scheduled event next needs the loop (session seconds)."""
        times = [t for t in (self.session.next_deadline(),
                             self._scheduled[0][0] if self._scheduled else None) if t is not None]
        return min(times) if times else None

    def _drain(self) -> None:
        while not self._done():
            try:
                event = self.inbox.get_nowait()
            except queue.Empty:
                return
            self._handle(event)

    def _deliver_scheduled(self) -> None:
        now = self.clock.now()
        while self._scheduled and self._scheduled[0][0] <= now and not self._done():
            _, _, event = heapq.heappop(self._scheduled)
            self._handle(event)

    def _handle(self, event: InboxEvent) -> None:
        for observe in self.inbox_observers:
            observe(event, self.clock.now())
        self.session.check_time()  # what was due before this event happens first
        if isinstance(event, CommandHeard):
            self.session.hear(event.command)
        elif isinstance(event, NotUnderstood):
            self.session.not_understood()
        elif isinstance(event, Shutdown):
            self.stopped_by = event.reason or "shutdown"
        elif isinstance(event, DeviceLost):
            _LOGGER.warning("Lost the %s: %s", event.device, event.reason)
            if self.session.may_trigger("device_lost"):
                self.session.trigger("device_lost", device=event.device)
        elif isinstance(event, DeviceBack):
            _LOGGER.warning("The %s works again", event.device)
            if self.session.may_trigger("device_back"):
                self.session.trigger("device_back")
        elif isinstance(event, SpeechStarted | SpeechEnded):
            _LOGGER.debug("%s", event)

    def _on_session_event(self, event: SessionEvent) -> None:
        if event.type is SessionEventType.CUE:
            self.speaker.say(event.data["text"], urgent=bool(event.data.get("urgent")))
        elif event.type is SessionEventType.STOP_SPEAKING:
            self.speaker.stop()
        elif event.type is SessionEventType.VOICE_CONTROL:
            self.speaker.adjust(VoiceControl(event.data["control"]))
        elif event.type is SessionEventType.EARCON:
            self.speaker.earcon(event.data["name"])
        elif event.type is SessionEventType.COMMAND_ACCEPTED:
            self.speaker.earcon("heard")
        for observe in self.session_observers:
            observe(event)
