"""Fault injection: a session killed (SIGKILL, as a power cut or the OOM killer would) at 20 random
moments. After each, the history passes SQLite's integrity check, and the next run offers to go
on at the repetition that was under way.

A killed process gets no chance to save anything: what survives is what was committed as it
went. The typed session runs 1000 times faster than real time; the kill comes after a random
number of its printed lines plus a random few milliseconds, so it lands anywhere, mid-write
included. Then everything it printed before it died is read, and the file is looked at as the
next run will find it (SQLite's recovery of the write-ahead log included).
"""

from __future__ import annotations

import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Final

import pytest

from assistant.cues import load_cues
from assistant.routine import ExerciseKind, load_routine

pytestmark = pytest.mark.slow

ROOT: Final = Path(__file__).parents[1]
TIMEOUT_S: Final = 60.0
KILLS: Final = 20
SPEED: Final = "1000"
SEED: Final = 20261202

Point = tuple[int, int, int] | None
"""Where a resume would go on: (exercise number, repetition, side index), or None (nothing to resume)."""


class PrintedSession:
    """Follows the printed lines of the built-in routine: what the history must say after each.

    `point` is where a resume must go on after the last line read; `then` is what the history
    may already say instead, when the last line is the last one before a write that is not
    followed by anything printed yet (the kill can land between the write and the next line).
    """

    def __init__(self) -> None:
        self.routine = load_routine()
        self.cues = load_cues()
        self.point: Point = None
        self.then: set[Point] = set()
        self.ex = 0

    def read(self, text: str) -> None:
        cues, routine = self.cues, self.routine
        ex = routine.exercises[self.ex - 1] if self.ex else None
        self.then = set()
        if match := re.match(r"Exercise (\d) of \d: ", text):
            self.ex = int(match[1])
            self.point = (self.ex, 1, 0)
        elif text == routine.opening[-1]:
            self.then = {(1, 1, 0)}
        elif ex is None or self.point is None and text != cues.say("exercise_done"):
            return
        elif match := re.match(r"Repetition (\d+) of (\d+)\. Hold", text):
            self.point = (self.ex, int(match[1]), 0)
        elif text == cues.say("countdown", seconds=round(routine.pacing.countdown_s)):
            self.then = {self._after_rep()} if self._after_rep() else self._after_exercise()
        elif text == cues.say("hold_end"):
            assert self.point is not None
            self.point = (self.ex, self.point[1] + 1, 0)
        elif match := re.match(r"Slide (\d+) of \d+, (\w+) leg\.", text):
            self.point = (self.ex, int(match[1]), ex.dose.sides.index(match[2]))
        elif self.point is not None and ex.kind is ExerciseKind.SLIDES and \
                text == ex.rep_cues[-1].replace("{side}", ex.dose.sides[self.point[2]]):
            self.then = {self._after_rep()} if self._after_rep() else self._after_exercise()
        elif match := re.match(r"Now change to the (\w+) leg\.", text):
            self.point = (self.ex, 1, ex.dose.sides.index(match[1]))
        elif text == cues.say("breathing_end"):
            self.then = self._after_exercise()
        elif text == cues.say("exercise_done"):
            self.point = None
            self.then = {(self.ex + 1, 1, 0)} if self.ex < len(routine.exercises) else set()

    def _after_rep(self) -> Point:
        """The next repetition of this exercise, or None after its last one."""
        assert self.point is not None and self.ex
        ex_number, rep, side = self.point
        dose = self.routine.exercises[ex_number - 1].dose
        if rep < dose.reps:
            return (ex_number, rep + 1, side)
        if side < len(dose.sides) - 1:
            return (ex_number, 1, side + 1)
        return None

    def _after_exercise(self) -> set[Point]:
        """Once an exercise is done: nothing under way, or already the next exercise."""
        return {None} | ({(self.ex + 1, 1, 0)} if self.ex < len(self.routine.exercises) else set())


def _committed(data: Path) -> Point:
    """Where the history file says a resume would go on, read with SQLite alone (not Mat Coach).

    Opened for writing, so that SQLite recovers its write-ahead log as the next run will: a
    transaction written whole before the kill counts, even if no reader had seen it yet.
    """
    path = data / "history.sqlite3"
    if not path.exists():
        return None
    db = sqlite3.connect(path)
    try:
        row = db.execute("SELECT id FROM sessions WHERE status = 'running' ORDER BY id DESC LIMIT 1").fetchone()
        if row is None:
            return None
        started = db.execute("SELECT position, next_rep, next_side FROM exercises WHERE session_id = ? "
                             "AND status = 'started' ORDER BY position DESC LIMIT 1", row).fetchone()
    except sqlite3.OperationalError:  # killed before the tables were made
        return None
    finally:
        db.close()
    return None if started is None else (started[0] + 1, started[1], started[2])


def _kill_at_random(data: Path, rng: random.Random, lines_in_a_session: int) -> tuple[list[str], Point]:
    """Start a typed session, and kill it after a random number of lines; what it printed before
    it died, and where the history it left says a resume would go on."""
    after_lines = rng.randrange(lines_in_a_session + 1)
    extra_s = rng.uniform(0.0, 0.05)
    with subprocess.Popen([sys.executable, "-m", "assistant", "run", "--text", "--speed", SPEED,
                           "--data-dir", str(data)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, cwd=ROOT) as process:
        assert process.stdout is not None
        printed: list[str] = []
        while len(printed) < after_lines and (line := process.stdout.readline()):
            printed.append(line)
        threading.Event().wait(extra_s)  # the kill lands between lines, not just after one
        process.send_signal(signal.SIGKILL)
        process.wait(TIMEOUT_S)
        printed += process.stdout.readlines()  # what it printed before it died
    committed = _committed(data)
    texts = [m[1] for line in printed if (m := re.match(r"^\[\s*[0-9.]+\][ !](.*)$", line.rstrip("\n")))]
    return texts, committed


def _next_run(data: Path, tmp_path: Path) -> tuple[Point, list[str]]:
    """Start again and answer yes: where the session goes on (None: nothing was offered)."""
    script = tmp_path / "answer-yes.txt"
    script.write_text("1 yes\n")
    done = subprocess.run([sys.executable, "-m", "assistant", "run", "--text", "--script", str(script),
                           "--data-dir", str(data)], capture_output=True, text=True, timeout=TIMEOUT_S, cwd=ROOT)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    texts = [m[1] for m in re.finditer(r"^\[\s*[0-9.]+\][ !](.*)$", done.stdout, flags=re.MULTILINE)]
    offer = re.match(r"Last time you stopped during exercise (\d) of", texts[0])
    if offer is None:
        return None, texts
    after = texts[texts.index("you: yes") + 1:]
    routine = load_routine()
    for text in after:
        if match := re.match(r"Repetition (\d+) of \d+\. Hold", text):
            return (int(offer[1]), int(match[1]), 0), after
        if match := re.match(r"Slide (\d+) of \d+, (\w+) leg\.", text):
            sides = routine.exercises[int(offer[1]) - 1].dose.sides
            return (int(offer[1]), int(match[1]), sides.index(match[2])), after
        if text.startswith("Begin breathing now."):
            return (int(offer[1]), 1, 0), after
    raise AssertionError(f"the resumed session never reached a repetition: {after[:10]}")


def test_a_session_killed_at_twenty_random_moments_loses_nothing_and_goes_on_where_it_was(tmp_path: Path) -> None:
    empty = tmp_path / "silent.txt"
    empty.write_text("# the person says nothing\n")
    whole = subprocess.run([sys.executable, "-m", "assistant", "run", "--text", "--script", str(empty)],
                           capture_output=True, text=True, timeout=TIMEOUT_S, cwd=ROOT)
    lines_in_a_session = whole.stdout.count("\n")
    rng = random.Random(SEED)
    routine = load_routine()
    seen: list[Point] = []
    started = time.monotonic()
    for n in range(KILLS):
        data = tmp_path / f"kill-{n}"
        printed, committed = _kill_at_random(data, rng, lines_in_a_session)
        follow = PrintedSession()
        for text in printed:
            follow.read(text)
        assert committed == follow.point or committed in follow.then, (
            f"kill {n}: the history says {committed}, but the screen showed {follow.point} "
            f"(or {follow.then}); last lines: {printed[-3:]}")
        if (data / "history.sqlite3").exists():
            db = sqlite3.connect(data / "history.sqlite3")
            try:
                assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)], f"kill {n}"
            finally:
                db.close()
        resumed, said = _next_run(data, tmp_path)
        assert resumed == committed, f"kill {n}: the next run went on at {resumed}, the history had {committed}"
        if resumed is not None and (resumed[1] > 1 or resumed[2] > 0):
            goal = routine.exercises[resumed[0] - 1].goal
            assert not set(goal) & set(said), f"kill {n}: mid-exercise, the briefing is not said again"
        seen.append(committed)
    print(f"\n{KILLS} kills in {time.monotonic() - started:.0f} s; the next run went on at: {seen}")
    assert sum(p is not None for p in seen) >= KILLS // 2, f"most kills should land mid-exercise: {seen}"
