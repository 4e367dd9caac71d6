"""Progress is never lost: real SQLite files in temporary folders, real processes killed."""

from __future__ import annotations

import csv
import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

import pytest

from assistant.cues import load_cues
from assistant.history import (
    _MIGRATIONS,
    HISTORY_FILE,
    SCHEMA_VERSION,
    HistoryRecorder,
    SqliteHistory,
    progress_sentence,
)
from assistant.report import plot_minutes, print_history, write_csv
from tests.fakes import CoachedSession
from tests.test_session import short_routine

ROOT: Final = Path(__file__).parents[1]
TIMEOUT_S: Final = 60.0


class SteppedTime:
    """Wall-clock time for the history that the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.at = start

    def __call__(self) -> datetime:
        return self.at


def recorded_session(history: SqliteHistory) -> CoachedSession:
    """A short session, recorded into `history`."""
    routine = short_routine()
    return CoachedSession(routine, observers=(HistoryRecorder(history, routine),))


def test_a_session_is_written_as_it_goes_and_read_back(tmp_path: Path) -> None:
    """Each completed hold is committed at once: another connection sees it mid-session."""
    history = SqliteHistory.open(tmp_path)
    coach = recorded_session(history)
    coach.run_until_said("Rest for 15 seconds.")
    other = SqliteHistory.open(tmp_path)  # as a second process would see the file
    rows = other.exercise_rows()
    assert [(r["exercise"], r["repetitions"], r["exercise_status"]) for r in rows] == [("hold", 1, "started")]
    coach.run_to_end()
    (record,) = other.sessions()
    assert record.status == "finished"
    assert (record.exercises_done, record.exercises_total) == (3, 3)
    assert [r["repetitions"] for r in other.exercise_rows()] == [2, 4, 1]


def test_pauses_and_pain_are_recorded_with_their_exercise(tmp_path: Path) -> None:
    history = SqliteHistory.open(tmp_path)
    coach = recorded_session(history)
    hold = coach.run_until_said("Repetition 1 of 2.")
    coach.say_at(hold + 3, "pause").say_at(hold + 5, "resume").say_at(hold + 8, "it hurts")
    coach.say_at(hold + 10, "stop").say_at(hold + 11, "yes").run_to_end()
    (record,) = history.sessions()
    assert (record.pauses, record.pain_reports, record.status) == (2, 1, "stopped")
    assert write_csv_rows(history)[0]["pain_reports"] == "1"


def write_csv_rows(history: SqliteHistory) -> list[dict[str, str]]:
    out = io.StringIO()
    write_csv(history, out)
    return list(csv.DictReader(io.StringIO(out.getvalue())))


def _wait_for(proc: subprocess.Popen[str], text: str) -> list[str]:
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError(f"{text!r} never came; last lines: {seen[-5:]}")


@pytest.mark.slow
def test_killed_in_the_middle_of_a_hold_loses_only_that_hold_and_resumes_there(tmp_path: Path) -> None:
    """SIGKILL during hold 3: holds 1 and 2 are kept, and the next run offers to go on at hold 3."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(
        [sys.executable, "-m", "assistant", "run", "--text", "--speed", "100", "--data-dir", str(tmp_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
        env=env,
    ) as proc:
        _wait_for(proc, "Repetition 3 of 5.")
        _wait_for(proc, "Keep")  # well inside the third hold
        proc.send_signal(signal.SIGKILL)
        proc.wait(TIMEOUT_S)
    db = sqlite3.connect(tmp_path / HISTORY_FILE)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert db.execute("SELECT status, ended_at FROM sessions").fetchall() == [("running", None)]
    assert db.execute("SELECT exercise_id, status, reps_done, next_rep FROM exercises").fetchall() == [
        ("pelvis-under-trunk", "started", 2, 3)]
    db.close()

    script = tmp_path / "yes.txt"
    script.write_text("2 yes\n")
    done = subprocess.run(
        [sys.executable, "-m", "assistant", "run", "--text", "--script", str(script), "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=TIMEOUT_S, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "Last time you stopped during exercise 1 of 3" in lines[0]
    first_rep = next(line for line in lines if "Repetition" in line)
    assert "Repetition 3 of 5." in first_rep
    assert any("5 of 5 holds" in line for line in lines)
    (record,) = SqliteHistory.open(tmp_path).sessions()
    assert record.status == "finished" and record.exercises_done == 3


def test_saying_no_to_the_offer_starts_afresh_and_keeps_the_old_session_as_unfinished(tmp_path: Path) -> None:
    history = SqliteHistory.open(tmp_path)
    coach = recorded_session(history)
    coach.run_until_said("Repetition 2 of 2.")  # then the process "dies": nothing more is written
    routine = short_routine()
    point = history.interrupted_today(routine)
    assert point is not None and (point.ex_index, point.rep) == (0, 2)
    again = CoachedSession(routine, resume_point=point,
                           observers=(HistoryRecorder(history, routine, offered=point),))
    again.say_at(1, "no").run_to_end()
    statuses = [s.status for s in history.sessions()]
    assert statuses == ["finished", "interrupted"]
    assert history.interrupted_today(routine) is None
    assert "unfinished" in _printed(history)


def test_yesterdays_interrupted_session_is_not_offered(tmp_path: Path) -> None:
    clock = SteppedTime(datetime(2026, 11, 23, 20, 0).astimezone())
    history = SqliteHistory.open(tmp_path, now=clock)
    recorded_session(history).run_until_said("Repetition 2 of 2.")
    clock.at += timedelta(hours=14)
    assert history.interrupted_today(short_routine()) is None


def test_a_first_schema_file_is_migrated_and_keeps_its_sessions(tmp_path: Path) -> None:
    """A history written by schema 1 opens with the current schema, its sessions intact."""
    path = tmp_path / HISTORY_FILE
    db = sqlite3.connect(path)
    db.executescript(_MIGRATIONS[0])
    db.execute("INSERT INTO sessions (started_at, ended_at, routine, status) VALUES "
               "('2026-11-20T08:00:00+00:00', '2026-11-20T08:21:00+00:00', 'Short test routine', 'finished')")
    db.execute("INSERT INTO exercises VALUES (1, 0, 'hold', 'The hold', 'done', 2, 60.0)")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    history = SqliteHistory.open(tmp_path)
    assert history._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    (record,) = history.sessions()
    assert (record.minutes, record.exercises_done, record.pauses) == (21.0, 1, 0)
    history.record_pause(record.id, "asked", "hold")
    assert history.sessions()[0].pauses == 1


def test_a_history_from_a_newer_version_is_refused_clearly(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / HISTORY_FILE)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    done = subprocess.run([sys.executable, "-m", "assistant", "history", "--data-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=TIMEOUT_S, cwd=ROOT)
    assert done.returncode == 2 and "written by a newer Mat Coach" in done.stderr
    assert "Traceback" not in done.stderr


_WRITER: Final = """
import sys
from pathlib import Path
from assistant.history import SqliteHistory
history = SqliteHistory.open(Path(sys.argv[1]))
sid = history.start_session("writer " + sys.argv[2])
for i in range(60):
    history.record_exercise(sid, i, f"ex{i}", "x", status="started", reps_done=i)
    history.record_pause(sid, "asked", f"ex{i}")
history.end_session(sid, "finished")
"""


@pytest.mark.slow
def test_two_processes_writing_at_once_do_not_corrupt_the_file(tmp_path: Path) -> None:
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), str(n)], cwd=ROOT)
               for n in range(2)]
    assert [w.wait(TIMEOUT_S) for w in writers] == [0, 0]
    history = SqliteHistory.open(tmp_path)
    assert history._db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    records = history.sessions()
    assert sorted(r.routine for r in records) == ["writer 0", "writer 1"]
    assert all(r.pauses == 60 and r.exercises_total == 60 for r in records)


def test_a_damaged_file_is_moved_aside_with_its_name_said_and_a_new_one_started(tmp_path: Path) -> None:
    path = tmp_path / HISTORY_FILE
    garbage = b"this is not a database, it was damaged by a power cut" * 100
    path.write_bytes(garbage)
    done = subprocess.run([sys.executable, "-m", "assistant", "history", "--data-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=TIMEOUT_S, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    (moved,) = tmp_path.glob(f"{HISTORY_FILE}.damaged-*")
    assert moved.read_bytes() == garbage, "never silently deleted"
    assert moved.name in done.stderr and "a new one was started" in done.stderr
    assert "No sessions recorded yet." in done.stdout
    assert SqliteHistory.open(tmp_path).sessions() == []


def test_a_history_folder_that_cannot_be_made_is_one_clear_sentence(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    done = subprocess.run([sys.executable, "-m", "assistant", "history", "--data-dir", str(blocker / "sub")],
                          capture_output=True, text=True, timeout=TIMEOUT_S, cwd=ROOT)
    assert done.returncode == 2
    assert "Cannot create the history folder" in done.stderr and "--data-dir" in done.stderr
    assert "Traceback" not in done.stderr


def _known_week(tmp_path: Path) -> SqliteHistory:
    """Three sessions on two days: a whole one, a stopped one with pain, and a whole one."""
    clock = SteppedTime(datetime(2026, 11, 24, 8, 0).astimezone())
    history = SqliteHistory.open(tmp_path, now=clock)
    for day, minutes, stop in ((22, 20, False), (24, 5, True), (24, 25, False)):
        clock.at = clock.at.replace(day=day, hour=8 if minutes != 25 else 18, minute=0)
        sid = history.start_session("Lower back")
        for position in range(3 if not stop else 1):
            history.record_exercise(sid, position, f"ex{position}", f"Exercise {position}", status="done",
                                    reps_done=5)
        if stop:
            history.record_pain(sid, "ex0")
        clock.at += timedelta(minutes=minutes)
        history.end_session(sid, "stopped" if stop else "finished")
    clock.at = datetime(2026, 11, 24, 19, 0).astimezone()
    return history


def _printed(history: SqliteHistory) -> str:
    out = io.StringIO()
    print_history(history, out)
    return out.getvalue()


def test_the_history_table_shows_the_last_sessions_and_the_week(tmp_path: Path) -> None:
    text = _printed(_known_week(tmp_path))
    assert "Last 3 sessions" in text
    assert "2026-11-24  18:00       25     3/3        0  finished" in text
    assert "2026-11-24  08:00        5     1/1        1  stopped" in text
    assert "Sun 22 Nov         1       20          3     0" in text
    assert "Tue 24 Nov         2       30          4     1" in text
    assert "total              3       50          7     1" in text


def test_the_csv_export_has_one_row_per_exercise_per_session(tmp_path: Path) -> None:
    rows = write_csv_rows(_known_week(tmp_path))
    assert len(rows) == 7
    assert rows[0]["started_at"].startswith("2026-11-22T08:00:00")
    assert {r["exercise_status"] for r in rows} == {"done"}
    assert [r["pain_reports"] for r in rows if r["session_status"] == "stopped"] == ["1"]


def test_the_plot_is_a_png_of_minutes_per_day(tmp_path: Path) -> None:
    out = tmp_path / "week.png"
    plot_minutes(_known_week(tmp_path), out, days=14)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (800, 350)


def test_how_am_i_doing_is_answered_from_the_week(tmp_path: Path) -> None:
    sentence = progress_sentence(_known_week(tmp_path), load_cues())
    assert sentence == "In the last seven days you exercised on 2 days: 3 sessions, 50 minutes in all."


def test_the_history_command_prints_csv_and_plots(tmp_path: Path) -> None:
    _known_week(tmp_path).close()
    base = [sys.executable, "-m", "assistant", "history", "--data-dir", str(tmp_path)]
    shown = subprocess.run(base, capture_output=True, text=True, timeout=TIMEOUT_S, cwd=ROOT)
    assert shown.returncode == 0 and "Last 3 sessions" in shown.stdout
    exported = subprocess.run([*base, "--csv", "-"], capture_output=True, text=True, timeout=TIMEOUT_S, cwd=ROOT)
    assert exported.stdout.startswith("session,started_at,")
    plotted = subprocess.run([*base, "--plot", str(tmp_path / "p.png")], capture_output=True, text=True,
                             timeout=TIMEOUT_S, cwd=ROOT)
    assert plotted.returncode == 0 and (tmp_path / "p.png").exists()


# ---------------------------------------------------------------- a history that is not as expected


def _assistant(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True,
                          timeout=TIMEOUT_S, cwd=ROOT)


def _one_finished_session(folder: Path) -> None:
    history = SqliteHistory.open(folder)
    sid = history.start_session("Lower back")
    history.record_exercise(sid, 0, "pelvis-under-trunk", "Pelvis", status="done", reps_done=5)
    history.record_pause(sid, "asked", "pelvis-under-trunk")
    history.end_session(sid, "finished")
    history.close()


_HOLDER: Final = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA locking_mode=EXCLUSIVE")
db.execute("BEGIN EXCLUSIVE")
db.execute("UPDATE sessions SET routine = routine")
print("holding", flush=True)
sys.stdin.read()
"""


def test_a_history_held_by_another_program_is_in_use_not_damaged(tmp_path: Path) -> None:
    """Busy is not damaged: one line naming who holds it; the file stays; a session goes on unrecorded."""
    _one_finished_session(tmp_path)
    script = tmp_path / "s.txt"
    script.write_text("10 next\n")
    with subprocess.Popen([sys.executable, "-c", _HOLDER, str(tmp_path / HISTORY_FILE)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as holder:
        assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
        shown = _assistant("history", "--data-dir", str(tmp_path))
        session = _assistant("run", "--text", "--script", str(script), "--data-dir", str(tmp_path))
        assert holder.stdin is not None
        holder.stdin.close()
    assert shown.returncode == 2, shown.stderr
    assert shown.stderr.count("\n") == 1 and "is in use by process" in shown.stderr, shown.stderr
    assert f"process {holder.pid} (" in shown.stderr, "says which process, where it can tell"
    assert session.returncode == 0, session.stderr
    assert "in use" in session.stderr and "This session will not be recorded." in session.stderr
    assert "Session finished after" in session.stdout
    assert list(tmp_path.glob("*.damaged-*")) == [], "a good file is never moved aside"
    assert len(SqliteHistory.open(tmp_path).sessions()) == 1, "and its history is all there"


def _read_only(folder: Path) -> list[str] | None:
    """A command prefix that runs what follows with `folder` read-only, as a read-only SD card is."""
    probe = subprocess.run(["unshare", "-m", "sh", "-c", f"mount --bind '{folder}' '{folder}' && "
                            f"mount -o remount,bind,ro '{folder}' && ! touch '{folder}/probe'"],
                           capture_output=True, text=True, timeout=TIMEOUT_S)
    if probe.returncode == 0:
        return ["unshare", "-m", "sh", "-c",
                f"mount --bind '{folder}' '{folder}' && mount -o remount,bind,ro '{folder}' && exec \"$@\"", "-"]
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return []
    return None


def test_a_history_in_a_read_only_folder_is_shown_and_a_session_goes_on_unrecorded(tmp_path: Path) -> None:
    """The Pi's card turned read-only: the history can still be read; nothing is moved, no traceback."""
    data = tmp_path / "data"
    data.mkdir()
    _one_finished_session(data)
    prefix = _read_only(data)
    if prefix is None:
        pytest.skip("cannot make a read-only folder here (root without mount namespaces)")
    script = tmp_path / "s.txt"
    script.write_text("10 next\n")
    base = [*prefix, sys.executable, "-m", "assistant"]
    shown = subprocess.run([*base, "history", "--data-dir", str(data)], capture_output=True, text=True,
                           timeout=TIMEOUT_S, cwd=ROOT)
    session = subprocess.run([*base, "run", "--text", "--script", str(script), "--data-dir", str(data)],
                             capture_output=True, text=True, timeout=TIMEOUT_S, cwd=ROOT)
    data.chmod(0o755)
    assert shown.returncode == 0, shown.stderr
    assert "Last 1 sessions" in shown.stdout
    assert "cannot be written" in shown.stderr and "Traceback" not in shown.stderr
    assert session.returncode == 0, session.stderr
    assert "this session will not be recorded" in session.stderr and "Traceback" not in session.stderr
    assert sorted(p.name for p in data.iterdir()) == [HISTORY_FILE]


def test_records_that_cannot_be_read_are_left_out_and_named_the_rest_is_shown(tmp_path: Path) -> None:
    """A bad date or a missing time in one row no longer hides the whole history."""
    _one_finished_session(tmp_path)
    db = sqlite3.connect(tmp_path / HISTORY_FILE)
    now = datetime.now().astimezone().isoformat(timespec="seconds")
    db.execute("INSERT INTO sessions (started_at, routine, status) VALUES ('yesterday', 'Lower back', 'finished')")
    db.execute("INSERT INTO sessions (started_at, ended_at, updated_at, routine, status) "
               "VALUES (?, NULL, NULL, 'Lower back', 'stopped')", (now,))
    # one cut off today, left at a repetition that no routine has: not offered, not a crash
    db.execute("INSERT INTO sessions (started_at, updated_at, routine, status) "
               "VALUES (?, ?, 'Lower back', 'running')", (now, now))
    sid = db.execute("SELECT max(id) FROM sessions").fetchone()[0]
    db.execute("INSERT INTO exercises (session_id, position, exercise_id, name, status, next_rep) "
               "VALUES (?, 0, 'pelvis-under-trunk', 'Pelvis', 'started', 'three')", (sid,))
    db.commit()
    db.close()
    shown = _assistant("history", "--data-dir", str(tmp_path))
    assert shown.returncode == 0, shown.stderr
    assert "Last 3 sessions" in shown.stdout, shown.stdout
    assert "session 2: its start time 'yesterday' is not a date" in shown.stderr
    assert "session 3: its end time None is not a date" in shown.stderr
    assert "Traceback" not in shown.stderr
    script = tmp_path / "s.txt"
    script.write_text("5 how am i doing\n")
    session = _assistant("run", "--text", "--script", str(script), "--data-dir", str(tmp_path))
    assert session.returncode == 0, session.stderr
    assert "Last time you stopped" not in session.stdout
    assert "In the last seven days you exercised" in session.stdout


@pytest.mark.parametrize(("table", "words"), [("pauses", "pauses"), ("pain_reports", "pain reports"),
                                              ("exercises", "exercises done")])
def test_a_table_dropped_from_the_file_is_made_again_and_the_rest_is_shown(tmp_path: Path, table: str,
                                                                           words: str) -> None:
    _one_finished_session(tmp_path)
    db = sqlite3.connect(tmp_path / HISTORY_FILE)
    db.execute(f"DROP TABLE {table}")
    db.commit()
    db.close()
    shown = _assistant("history", "--data-dir", str(tmp_path))
    assert shown.returncode == 0, shown.stderr
    assert shown.stderr.strip() == (f"The history file {tmp_path / HISTORY_FILE} had lost its table of {words}; "
                                    "it was made again, empty, and everything else is kept.")
    assert "Last 1 sessions" in shown.stdout
    script = tmp_path / "s.txt"
    script.write_text("10 next\n")
    session = _assistant("run", "--text", "--script", str(script), "--data-dir", str(tmp_path))
    assert session.returncode == 0 and "Traceback" not in session.stderr, session.stderr
    assert len(SqliteHistory.open(tmp_path).sessions()) == 2, "the new session was recorded"


def test_a_column_dropped_from_the_file_is_made_again(tmp_path: Path) -> None:
    _one_finished_session(tmp_path)
    db = sqlite3.connect(tmp_path / HISTORY_FILE)
    db.execute("ALTER TABLE exercises DROP COLUMN briefed")
    db.commit()
    db.close()
    history = SqliteHistory.open(tmp_path)
    assert "the column 'briefed' of its exercises done" in history.notice
    assert history.sessions()[0].exercises_done == 1


def test_a_damaged_file_is_one_sentence_and_the_details_only_with_debug(tmp_path: Path) -> None:
    """SQLite's integrity report (20 lines) is for --debug; the person reads one sentence, once."""
    history = SqliteHistory.open(tmp_path)
    for n in range(300):
        sid = history.start_session(f"routine {n}" * 20)
        history.record_exercise(sid, 0, "x", "y" * 200, status="done")
    history.close()
    path = tmp_path / HISTORY_FILE
    data = bytearray(path.read_bytes())
    page = 4096
    for at in range(3 * page + 100, len(data) - page, 5 * page):  # scribble inside many pages
        data[at:at + 300] = b"\xff" * 300
    path.write_bytes(bytes(data))
    shown = _assistant("history", "--data-dir", str(tmp_path))
    assert shown.returncode == 0, shown.stderr
    assert shown.stderr.count("\n") == 1, shown.stderr
    assert "was damaged; it was moved to" in shown.stderr
    (moved,) = tmp_path.glob(f"{HISTORY_FILE}.damaged-*")
    moved.rename(path)
    debug = _assistant("--debug", "history", "--data-dir", str(tmp_path))
    assert "is damaged:" in debug.stderr, "the details are there with --debug"


def test_a_crash_after_the_last_hold_but_before_the_exercise_closed_goes_on_with_the_next(tmp_path: Path) -> None:
    """All holds were done; only the 'exercise finished' write was lost: no hold is done twice."""
    routine = short_routine()
    history = SqliteHistory.open(tmp_path)
    sid = history.start_session(routine.name)
    history.record_exercise(sid, 0, "hold", "The hold", status="started", reps_done=2, next_rep=2, briefed=True)
    point = history.interrupted_today(routine)
    assert point is not None and (point.ex_index, point.rep, point.briefed) == (1, 1, False)
    assert point.progress[0][:2] == ("done", 2)


class _StoreThatLocksUp:
    """A history store whose writes start failing, as when another program takes the file."""

    def __init__(self, inner: SqliteHistory, fail_after: int) -> None:
        self.inner = inner
        self.writes = 0
        self.fail_after = fail_after

    def __getattr__(self, name: str) -> object:
        method = getattr(self.inner, name)

        def write(*args: object, **kwargs: object) -> object:
            self.writes += 1
            if self.writes > self.fail_after:
                raise sqlite3.OperationalError("database is locked")
            return method(*args, **kwargs)

        return write


def test_a_history_that_fails_mid_session_is_warned_about_once_and_not_tried_again(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Each try could wait for the lock, on the thread that runs the session: one try, one warning."""
    routine = short_routine()
    store = _StoreThatLocksUp(SqliteHistory.open(tmp_path), fail_after=3)
    recorder = HistoryRecorder(store, routine)  # type: ignore[arg-type]
    coach = CoachedSession(routine, observers=(recorder,))
    coach.run_to_end()
    assert coach.session.finished, "the session went on"
    assert store.writes == 4, "no write was tried after the first that failed"
    warnings = [r.message for r in caplog.records if "could not be saved" in r.message]
    assert warnings == ["Progress could not be saved to the history (database is locked); "
                        "the session goes on, no longer recorded."]
