"""Stop signals: Ctrl-C (SIGINT), SIGTERM (systemd, `kill`) and SIGHUP (a closed terminal).

Each ends the program the way Ctrl-C does: one line, progress kept, exit status 0. While a
session loop (or `serve`'s wait) runs, a signal becomes a `Shutdown` event on its inbox, so
it can never land in the middle of a state-machine callback. Outside one (loading models,
rendering speech, opening devices), it raises `StopRequested` in the main thread, which
unwinds start-up through its `finally` blocks.

Only the standard library is imported here: the entry point installs the handlers before
the heavy imports, so that even an early Ctrl-C gets the short goodbye, not a traceback.
"""

from __future__ import annotations

import queue
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, Final

STOP_SIGNALS: Final = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
"""The signals that mean "stop" (SIGHUP does not exist on Windows)."""


class StopRequested(KeyboardInterrupt):
    """A stop signal outside a session loop; `str()` is the signal's name ("SIGTERM").

    A KeyboardInterrupt, so that code which already lets Ctrl-C through lets it through too.
    """


class StopSignals:
    """Where stop signals go: an inbox while one is registered, else `StopRequested`."""

    def __init__(self) -> None:
        self._inbox: queue.SimpleQueue[Any] | None = None
        self._make_event: Any = None

    def install(self) -> dict[int, Any]:
        """Take over the stop signals (main thread only; elsewhere nothing is done).

        Returns the handlers that were there before, for `restore()`.
        """
        previous: dict[int, Any] = {}
        if threading.current_thread() is not threading.main_thread():
            return previous
        for number in STOP_SIGNALS:
            previous[number] = signal.signal(number, self._handle)
        return previous

    @staticmethod
    def restore(previous: dict[int, Any]) -> None:
        for number, handler in previous.items():
            signal.signal(number, handler)

    @contextmanager
    def delivering_to(self, inbox: queue.SimpleQueue[Any]) -> Iterator[None]:
        """While inside, a stop signal puts `Shutdown("Ctrl-C" | "SIGTERM" | "SIGHUP")` on `inbox`.

        The inbox must be a `SimpleQueue`: its `put()` is reentrant, so it is safe in a signal
        handler even when the handler interrupts the same thread inside a `get()`. (A
        `queue.Queue` takes a lock that the interrupted thread may hold: a deadlock.)
        """
        from assistant.events import Shutdown

        saved = self._inbox, self._make_event
        self._inbox, self._make_event = inbox, Shutdown
        try:
            yield
        finally:
            self._inbox, self._make_event = saved

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        inbox, make_event = self._inbox, self._make_event
        if inbox is None:
            raise StopRequested(name)
        inbox.put(make_event(stop_name(name)))


STOP: Final = StopSignals()
"""The process's one set of stop signals (signal handlers are process-wide)."""


def stop_name(signal_name: str) -> str:
    """What a person calls the signal: Ctrl-C for SIGINT."""
    return "Ctrl-C" if signal_name in ("", "SIGINT") else signal_name


def stop_line(signal_name: str) -> str:
    """The one line printed when a stop signal ends the program outside a session."""
    return f"Stopped ({stop_name(signal_name)})."
