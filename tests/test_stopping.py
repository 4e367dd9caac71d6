"""Stopping at any moment: Ctrl-C, SIGTERM (systemd, kill) and SIGHUP (a closed terminal).

Each ends the program as Ctrl-C does: one line, progress kept, exit status 0. In a session a
signal is a Shutdown on the inbox, never an exception thrown into a state-machine callback.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from assistant.events import SessionEvent, SessionEventType
from assistant.session import SessionState
from assistant.stopping import STOP, StopRequested
from tests.fakes import CoachedSession

ROOT: Final = Path(__file__).parents[1]
TIMEOUT_S: Final = 60.0
SORRY: Final = "Sorry, something went wrong"


@pytest.fixture
def stop_signals() -> Iterator[None]:
    """Mat Coach's stop handlers, as `assistant` installs them; pytest's own put back after."""
    previous = STOP.install()
    try:
        yield
    finally:
        STOP.restore(previous)


def _signal_when(kind: SessionEventType, signum: int) -> tuple[list[SessionEvent], object]:
    """An observer that sends this process `signum` while the session announces `kind`.

    Observers run inside the state machine's callbacks, so the signal lands inside one.
    """
    seen: list[SessionEvent] = []

    def observe(event: SessionEvent) -> None:
        if event.type is kind and not seen:
            seen.append(event)
            signal.raise_signal(signum)

    return seen, observe


def test_sigterm_inside_a_session_callback_stops_the_session_like_a_shutdown(stop_signals: None) -> None:
    """systemd's SIGTERM while exercise 1 is starting: the loop stops; no apology, no pause."""
    seen, observe = _signal_when(SessionEventType.EXERCISE_STARTED, signal.SIGTERM)
    coach = CoachedSession(observers=(observe,))  # type: ignore[arg-type]
    with STOP.delivering_to(coach.loop.inbox):
        coach.run_to_end()
    assert seen, "the signal was sent"
    assert coach.loop.stopped_by == "SIGTERM"
    assert coach.session.state is SessionState.INSTRUCTING, "stopped where it was, not paused"
    assert not any(SORRY in text for text in coach.texts())
    assert not coach.events_of(SessionEventType.PAUSED)


@pytest.mark.parametrize(("signum", "reason"), [(signal.SIGINT, "Ctrl-C"), (signal.SIGHUP, "SIGHUP")])
def test_ctrl_c_and_sighup_inside_a_callback_stop_it_the_same_way(stop_signals: None, signum: int,
                                                                   reason: str) -> None:
    seen, observe = _signal_when(SessionEventType.REP_STARTED, signum)
    coach = CoachedSession(observers=(observe,))  # type: ignore[arg-type]
    with STOP.delivering_to(coach.loop.inbox):
        coach.run_to_end()
    assert seen and coach.loop.stopped_by == reason
    assert not any(SORRY in text for text in coach.texts())


def test_a_stop_outside_a_loop_is_never_swallowed_by_the_session(stop_signals: None) -> None:
    """With no inbox to take it, the stop goes up through the callback; the session does not
    catch it, apologise and pause (which left `serve` running 30 s after SIGTERM)."""
    seen, observe = _signal_when(SessionEventType.EXERCISE_STARTED, signal.SIGTERM)
    coach = CoachedSession(observers=(observe,))  # type: ignore[arg-type]
    with pytest.raises(StopRequested, match="SIGTERM"):
        coach.run_to_end()
    assert seen
    assert coach.session.state is not SessionState.PAUSED
    assert not any(SORRY in text for text in coach.texts())


def test_a_bug_in_a_callback_still_pauses_with_an_apology() -> None:
    """An ordinary exception is a bug: the person hears one apology and the session waits."""
    def broken(event: SessionEvent) -> None:
        if event.type is SessionEventType.EXERCISE_STARTED:
            raise RuntimeError("a bug")

    coach = CoachedSession(observers=(broken,))
    coach.run_to_end()
    assert coach.session.state is SessionState.PAUSED
    assert any(SORRY in text for text in coach.texts())


# ---------------------------------------------------------------- as a process


def _spawn(*args: str, data_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "assistant", *args, "--data-dir", str(data_dir)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT)


def _wait_for_line(process: subprocess.Popen[str], part: str) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if part in line:
            return lines
    process.kill()
    raise AssertionError(f"never printed {part!r}; printed: {lines[-5:]}")


@pytest.mark.parametrize(("signum", "reason"), [(signal.SIGTERM, "SIGTERM"), (signal.SIGHUP, "SIGHUP"),
                                                 (signal.SIGINT, "Ctrl-C")])
def test_a_typed_session_stopped_by_a_signal_says_so_keeps_progress_and_exits_0(
        tmp_path: Path, signum: int, reason: str) -> None:
    """kill, systemd or a closed terminal mid-hold: one line, exit 0, and the hold is in the history."""
    with _spawn("run", "--text", "--speed", "50", data_dir=tmp_path) as process:
        _wait_for_line(process, "Repetition 1 of 5")
        process.send_signal(signum)
        process.wait(TIMEOUT_S)  # stdin stays open: end of input would stop it too
        assert process.stderr is not None
        err = process.stderr.read()
    assert process.returncode == 0, err
    assert f"Session stopped ({reason}); your progress is saved." in err
    assert "Traceback" not in err
    db = sqlite3.connect(tmp_path / "history.sqlite3")
    try:
        rows = db.execute("SELECT s.status, e.exercise_id, e.status FROM sessions s "
                          "JOIN exercises e ON e.session_id = s.id").fetchall()
    finally:
        db.close()
    assert rows == [("running", "pelvis-under-trunk", "started")], "kept, and offered by the next run today"


_STOP_WHILE_IMPORTING: Final = """
import runpy, signal, sys
def hook(event, args):
    if event == "import" and args[0] == {module!r}:
        signal.raise_signal(signal.{name})
sys.addaudithook(hook)
sys.argv = ["assistant", "run", "--text", "--script", "examples/session.txt"]
runpy.run_module("assistant", run_name="__main__")
"""


@pytest.mark.parametrize("module", ["assistant.cli", "transitions", "sqlite3", "assistant.session"])
@pytest.mark.parametrize(("name", "reason"), [("SIGINT", "Ctrl-C"), ("SIGTERM", "SIGTERM"), ("SIGHUP", "SIGHUP")])
def test_a_stop_while_the_program_is_still_loading_is_one_line_and_exit_0(module: str, name: str,
                                                                           reason: str) -> None:
    """Ctrl-C right after Enter (while the modules load): no traceback (it used to be 8 in 8)."""
    code = _STOP_WHILE_IMPORTING.format(module=module, name=name)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT_S,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == f"Stopped ({reason}).", done.stderr
    assert done.stdout == "", "stopped before the session began"
