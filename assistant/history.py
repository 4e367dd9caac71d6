"""Session history in SQLite: every repetition committed as it is done, so nothing is lost.

One file in the user's data folder (WAL mode, synchronous=FULL, so a power cut on the Pi loses
at most the repetition in progress). The schema is versioned with `PRAGMA user_version`;
`_MIGRATIONS[n]` takes a file from version n to n + 1.
"""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Protocol

from assistant.cues import CueTable
from assistant.errors import HistoryError
from assistant.events import SessionEvent, SessionEventType
from assistant.routine import Routine
from assistant.session import ResumePoint

_LOGGER = logging.getLogger(__name__)

SCHEMA_VERSION: Final = 3
HISTORY_FILE: Final = "history.sqlite3"
_BUSY_TIMEOUT_S: Final = 2.0
"""How long a read or write waits for another process that holds the file (a write of ours
takes milliseconds; a file held longer is in use, and is said to be)."""
_BUSY_RETRY_S: Final = 0.05
_BUSY: Final = {5, 6}
"""SQLite's SQLITE_BUSY and SQLITE_LOCKED: someone else holds the file."""
_CANNOT_WRITE: Final = {3, 8, 10, 13, 14, 23}
"""SQLITE_PERM, _READONLY, _IOERR, _FULL, _CANTOPEN and _AUTH: the file may be fine, but this
process cannot write it here (a read-only folder or disk, a full disk). Any other error while
opening means the file itself is broken."""
_TABLE_WORDS: Final = {"sessions": "sessions", "exercises": "exercises done", "pain_reports": "pain reports",
                       "pauses": "pauses"}

_MIGRATIONS: Final[tuple[str, ...]] = (
    # 0 -> 1: sessions, the exercises done in them, pain reports
    """
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,          -- local time, ISO 8601 with UTC offset
        ended_at TEXT,                     -- NULL while running or when interrupted
        routine TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'running'  -- running, finished, stopped, interrupted
    );
    CREATE TABLE exercises (
        session_id INTEGER NOT NULL REFERENCES sessions(id),
        position INTEGER NOT NULL,         -- 0-based place in the routine
        exercise_id TEXT NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,              -- started, done, skipped, stopped
        reps_done INTEGER NOT NULL DEFAULT 0,
        active_s REAL NOT NULL DEFAULT 0,
        PRIMARY KEY (session_id, position)
    );
    CREATE TABLE pain_reports (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id),
        at TEXT NOT NULL,
        exercise_id TEXT NOT NULL          -- '' when outside an exercise
    );
    """,
    # 1 -> 2: where to resume, pauses, and the time of the last write
    """
    ALTER TABLE sessions ADD COLUMN updated_at TEXT;
    UPDATE sessions SET updated_at = COALESCE(ended_at, started_at);
    ALTER TABLE exercises ADD COLUMN next_rep INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE exercises ADD COLUMN next_side INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE pauses (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id),
        at TEXT NOT NULL,
        reason TEXT NOT NULL,              -- asked, pain
        exercise_id TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX sessions_by_start ON sessions(started_at);
    """,
    # 2 -> 3: whether an exercise's repetitions had begun (a resume then skips its briefing)
    """
    ALTER TABLE exercises ADD COLUMN briefed INTEGER NOT NULL DEFAULT 0;
    UPDATE exercises SET briefed = 1 WHERE reps_done > 0 OR next_rep > 1 OR next_side > 0;
    """,
)
assert len(_MIGRATIONS) == SCHEMA_VERSION


def local_now() -> datetime:
    return datetime.now().astimezone()


def _stamp(when: datetime) -> str:
    return when.isoformat(timespec="seconds")


def _parse(text: object) -> datetime:
    """A stored time; ValueError or TypeError when the record holds something else."""
    if not isinstance(text, str):
        raise TypeError(f"{text!r} is not a time")
    when = datetime.fromisoformat(text)
    return when if when.tzinfo is not None else when.astimezone()


def _is_count(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One past session, for the history table."""

    id: int
    started_at: datetime
    minutes: float
    routine: str
    status: str
    exercises_done: int
    exercises_total: int
    pain_reports: int
    pauses: int


@dataclass(frozen=True, slots=True)
class DaySummary:
    """All sessions of one day."""

    day: date
    sessions: int
    minutes: float
    exercises_done: int
    pain_reports: int


class HistoryStore(Protocol):
    """Where sessions are recorded."""

    def start_session(self, routine: str) -> int: ...
    def resume_session(self, session_id: int) -> None: ...
    def record_exercise(self, session_id: int, position: int, exercise_id: str, name: str, *,
                        status: str | None = None, reps_done: int | None = None,
                        active_s: float | None = None, next_rep: int | None = None,
                        next_side: int | None = None, briefed: bool | None = None) -> None: ...
    def record_pause(self, session_id: int, reason: str, exercise_id: str) -> None: ...
    def record_pain(self, session_id: int, exercise_id: str) -> None: ...
    def end_session(self, session_id: int, status: str) -> None: ...
    def mark_interrupted(self, session_id: int) -> None: ...


class SqliteHistory:
    """The history file. Open it with `SqliteHistory.open(folder)`."""

    def __init__(self, path: Path, connection: sqlite3.Connection,
                 now: Callable[[], datetime] = local_now, notice: str = "", *, writable: bool = True) -> None:
        self.path = path
        self._db = connection
        self._now = now
        self.notice = notice
        """One sentence for the user when something was not as expected (a damaged file moved
        aside, a lost table made again, a read-only folder)."""
        self.writable = writable
        """False when the file could only be opened for reading (a read-only folder or disk)."""
        self.unreadable: list[str] = []
        """Records left out of what was read, each named with why ("session 7: its start time ...")."""

    # ------------------------------------------------------------ opening

    @classmethod
    def open(cls, folder: Path, now: Callable[[], datetime] = local_now) -> SqliteHistory:
        """Open (or create) the history in `folder`.

        A damaged file is moved aside, never deleted; a file in use or in a folder that cannot
        be written is never called damaged: the first raises HistoryError, the second is
        opened read-only when it can be read at all.
        """
        path = folder / HISTORY_FILE
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise HistoryError("history-folder", f"Cannot create the history folder {folder} "
                               f"({err.strerror}); choose another one with --data-dir.") from err
        if path.exists() and not path.is_file():
            raise HistoryError("history-access", f"{path} is not a file, so the history cannot be kept there; "
                               "move it away or choose another folder with --data-dir.")
        if path.exists() and not os.access(path, os.R_OK):
            raise HistoryError("history-access", f"Cannot read the history file {path}; fix its permissions "
                               "or choose another folder with --data-dir.")
        try:
            connection, repaired = cls._connect_when_free(path)
        except (sqlite3.Error, _Damaged) as err:
            code = _primary_code(err)
            if code in _BUSY:
                raise _in_use(path) from err
            if code in _CANNOT_WRITE and not isinstance(err, _Damaged):
                return cls._open_read_only(path, now, err)
            _LOGGER.debug("History file %s is damaged: %s", path, err)
            moved = cls._move_aside(path)
            notice = (f"The history file {path} was damaged; it was moved to {moved.name} and a new one "
                      "was started (--debug shows what was wrong).")
            try:
                connection, _ = cls._connect(path)
            except (sqlite3.Error, _Damaged) as again:
                raise HistoryError("history-open", f"Cannot start a new history file {path} ({again}); "
                                   "choose another folder with --data-dir.") from again
            return cls(path, connection, now, notice)
        notice = ""
        if repaired:
            notice = (f"The history file {path} had lost {' and '.join(repaired)}; it was made again, empty, "
                      "and everything else is kept.")
        return cls(path, connection, now, notice)

    @classmethod
    def _connect_when_free(cls, path: Path) -> tuple[sqlite3.Connection, list[str]]:
        """`_connect`, tried again for a while when the file is busy.

        Turning a new file to WAL mode fails at once, without waiting, while another process
        is creating it too; a holder that keeps the file longer than _BUSY_TIMEOUT_S is in use.
        """
        deadline = time.monotonic() + _BUSY_TIMEOUT_S
        while True:
            try:
                return cls._connect(path)
            except sqlite3.Error as err:
                if _primary_code(err) not in _BUSY or time.monotonic() > deadline:
                    raise
            time.sleep(_BUSY_RETRY_S)

    @staticmethod
    def _connect(path: Path) -> tuple[sqlite3.Connection, list[str]]:
        """A checked, migrated connection, and the tables that had to be made again."""
        db = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        try:
            _check_integrity(db)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # a commit survives a power cut
            db.execute("PRAGMA foreign_keys=ON")
            _migrate(db, path)
            repaired = _repair_schema(db)
        except BaseException:
            db.close()
            raise
        return db, repaired

    @classmethod
    def _open_read_only(cls, path: Path, now: Callable[[], datetime], why: sqlite3.Error) -> SqliteHistory:
        """The file in a folder or disk that cannot be written: readable, not writable."""
        cannot = HistoryError("history-access", f"Cannot write the history in {path.parent} ({_plain(why)}); "
                              "make the folder writable or choose another one with --data-dir.")
        if not path.exists():
            raise cannot from why
        _LOGGER.debug("History file %s cannot be written (%s); trying to read it", path, why)
        for mode in ("ro", "ro&immutable=1"):  # immutable: a read-only disk, where no -shm can be made
            try:
                db = sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True, timeout=_BUSY_TIMEOUT_S,
                                     isolation_level=None, check_same_thread=False)
            except sqlite3.Error:
                continue
            try:
                _check_integrity(db)
                version = db.execute("PRAGMA user_version").fetchone()[0]
                missing, lacking = _missing_tables(db)
                if version != SCHEMA_VERSION or missing or lacking:
                    raise cannot from why  # it would need writing before it could be read
            except (sqlite3.Error, _Damaged):
                db.close()
                continue
            except BaseException:
                db.close()
                raise
            notice = (f"The history folder {path.parent} cannot be written ({_plain(why)}); your past sessions "
                      "can be read, but this session will not be recorded.")
            return cls(path, db, now, notice, writable=False)
        raise cannot from why

    @staticmethod
    def _move_aside(path: Path) -> Path:
        stamp = local_now().strftime("%Y%m%d-%H%M%S")
        moved = path.with_name(f"{path.name}.damaged-{stamp}")
        try:
            for suffix in ("", "-wal", "-shm"):
                part = Path(f"{path}{suffix}")
                if part.exists():
                    part.rename(Path(f"{moved}{suffix}"))
        except OSError as err:
            raise HistoryError("history-damaged", f"The history file {path} is damaged and cannot be moved "
                               f"aside ({err.strerror}); move it away by hand or choose another folder with "
                               "--data-dir.") from err
        return moved

    def close(self) -> None:
        self._db.close()

    # ------------------------------------------------------------ writing

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction; BEGIN IMMEDIATE takes the write lock up front (no deadlock upgrade)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def start_session(self, routine: str) -> int:
        now = _stamp(self._now())
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO sessions (started_at, updated_at, routine) VALUES (?, ?, ?)",
                (now, now, routine))
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def resume_session(self, session_id: int) -> None:
        with self._write() as db:
            db.execute("UPDATE sessions SET status = 'running', updated_at = ? WHERE id = ?",
                       (_stamp(self._now()), session_id))

    def record_exercise(self, session_id: int, position: int, exercise_id: str, name: str, *,
                        status: str | None = None, reps_done: int | None = None,
                        active_s: float | None = None, next_rep: int | None = None,
                        next_side: int | None = None, briefed: bool | None = None) -> None:
        """Create or update one exercise of a session; fields left None keep their value."""
        with self._write() as db:
            db.execute(
                "INSERT INTO exercises (session_id, position, exercise_id, name, status) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (session_id, position) DO NOTHING",
                (session_id, position, exercise_id, name, status or "started"))
            db.execute(
                "UPDATE exercises SET status = COALESCE(?, status), "
                "reps_done = COALESCE(?, reps_done), active_s = COALESCE(?, active_s), "
                "next_rep = COALESCE(?, next_rep), next_side = COALESCE(?, next_side), "
                "briefed = COALESCE(?, briefed) WHERE session_id = ? AND position = ?",
                (status, reps_done, active_s, next_rep, next_side,
                 None if briefed is None else int(briefed), session_id, position))
            self._touch(db, session_id)

    def record_pause(self, session_id: int, reason: str, exercise_id: str) -> None:
        with self._write() as db:
            db.execute("INSERT INTO pauses (session_id, at, reason, exercise_id) VALUES (?, ?, ?, ?)",
                       (session_id, _stamp(self._now()), reason, exercise_id))
            self._touch(db, session_id)

    def record_pain(self, session_id: int, exercise_id: str) -> None:
        with self._write() as db:
            db.execute("INSERT INTO pain_reports (session_id, at, exercise_id) VALUES (?, ?, ?)",
                       (session_id, _stamp(self._now()), exercise_id))
            self._touch(db, session_id)

    def end_session(self, session_id: int, status: str) -> None:
        now = _stamp(self._now())
        with self._write() as db:
            db.execute("UPDATE sessions SET ended_at = ?, updated_at = ?, status = ? WHERE id = ?",
                       (now, now, status, session_id))

    def mark_interrupted(self, session_id: int) -> None:
        with self._write() as db:
            db.execute("UPDATE sessions SET status = 'interrupted' WHERE id = ? AND status = 'running'",
                       (session_id,))

    def _touch(self, db: sqlite3.Connection, session_id: int) -> None:
        db.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (_stamp(self._now()), session_id))

    # ------------------------------------------------------------ reading

    def interrupted_today(self, routine: Routine) -> ResumePoint | None:
        """The latest session of this routine that was cut off today, with where it stopped.

        A record that cannot be read (a bad date, a count that is no count) is not offered.
        """
        today = self._now().date()
        rows = self._db.execute(
            "SELECT id, started_at, updated_at FROM sessions WHERE status = 'running' AND routine = ? "
            "ORDER BY started_at DESC, id DESC LIMIT 5", (routine.name,)).fetchall()
        for session_id, started_at, updated_at in rows:
            try:
                started = _parse(started_at)
                if started.date() != today:
                    continue
                point = self._resume_point(routine, session_id, started, updated_at)
            except (TypeError, ValueError) as err:
                _LOGGER.info("Session %s cannot be continued: %s", session_id, err)
                continue
            if point is not None:
                return point
        return None

    def _resume_point(self, routine: Routine, session_id: int, started: datetime,
                      updated_at: object) -> ResumePoint | None:
        exercises = {row[0]: row[1:] for row in self._db.execute(
            "SELECT position, exercise_id, status, reps_done, active_s, next_rep, next_side, briefed "
            "FROM exercises WHERE session_id = ?", (session_id,))}
        if not exercises or any(not isinstance(p, int) or not 0 <= p < len(routine.exercises)
                                or routine.exercises[p].id != exercises[p][0] for p in exercises):
            return None  # the routine changed since: nothing sensible to continue
        under_way = [p for p in sorted(exercises) if exercises[p][1] == "started"]
        if not under_way:
            return None
        current = under_way[-1]
        dose = routine.exercises[current].dose
        _, _, reps_done, _, next_rep, next_side, briefed = exercises[current]
        if not (_is_count(next_rep, 1, max(1, dose.reps)) and _is_count(next_side, 0, max(0, len(dose.sides) - 1))):
            raise ValueError(f"exercise {current + 1} was left at repetition {next_rep!r}, side {next_side!r}")
        if _is_count(reps_done, max(1, dose.reps * max(1, len(dose.sides))), 10_000):
            # its last repetition was done, and the crash came before the exercise was closed
            exercises[current] = (exercises[current][0], "done", *exercises[current][2:])
            current += 1
            if current >= len(routine.exercises):
                return None
            next_rep, next_side, briefed = 1, 0, False
        progress = []
        for i in range(len(routine.exercises)):
            if i not in exercises:
                progress.append(("not reached", 0, 0.0))
                continue
            _, status, reps_done, active_s, *_ = exercises[i]
            if not _is_count(reps_done, 0, 10_000) or not isinstance(active_s, int | float) or active_s < 0:
                raise ValueError(f"exercise {i + 1} has {reps_done!r} repetitions in {active_s!r} s")
            progress.append((str(status), int(reps_done), float(active_s)))
        elapsed = (_parse(updated_at) - started).total_seconds() if updated_at is not None else 0.0
        return ResumePoint(token=session_id, ex_index=current, rep=next_rep, side_index=next_side,
                           progress=tuple(progress), elapsed_s=max(0.0, elapsed), briefed=bool(briefed))

    def sessions(self, limit: int = 10) -> list[SessionRecord]:
        """The latest sessions, newest first; one that cannot be read is left out and named in `unreadable`."""
        rows = self._db.execute(
            """
            SELECT s.id, s.started_at, COALESCE(s.ended_at, s.updated_at), s.routine, s.status,
                   (SELECT COUNT(*) FROM exercises e WHERE e.session_id = s.id AND e.status = 'done'),
                   (SELECT COUNT(*) FROM exercises e WHERE e.session_id = s.id),
                   (SELECT COUNT(*) FROM pain_reports p WHERE p.session_id = s.id),
                   (SELECT COUNT(*) FROM pauses q WHERE q.session_id = s.id)
            FROM sessions s ORDER BY s.started_at DESC, s.id DESC LIMIT ?
            """, (limit,)).fetchall()
        records = []
        for r in rows:
            try:
                started = _parse(r[1])
            except (TypeError, ValueError):
                self._left_out(f"session {r[0]}: its start time {r[1]!r} is not a date")
                continue
            try:
                minutes = max(0.0, (_parse(r[2]) - started).total_seconds() / 60)
            except (TypeError, ValueError):
                self._left_out(f"session {r[0]}: its end time {r[2]!r} is not a date, so its minutes are not counted")
                minutes = 0.0
            records.append(SessionRecord(id=r[0], started_at=started, minutes=minutes, routine=str(r[3]),
                                         status=str(r[4]), exercises_done=r[5], exercises_total=r[6],
                                         pain_reports=r[7], pauses=r[8]))
        return records

    def _left_out(self, what: str) -> None:
        if what not in self.unreadable:
            self.unreadable.append(what)

    def days(self, count: int = 7) -> list[DaySummary]:
        """One summary per day for the last `count` days, oldest first (days without sessions too)."""
        today = self._now().date()
        first = today - timedelta(days=count - 1)
        by_day = {first + timedelta(days=i): [0, 0.0, 0, 0] for i in range(count)}
        for record in self.sessions(limit=100_000):
            day = record.started_at.date()
            if day < first:
                break
            if day in by_day:
                totals = by_day[day]
                totals[0] += 1
                totals[1] += record.minutes
                totals[2] += record.exercises_done
                totals[3] += record.pain_reports
        return [DaySummary(day, int(t[0]), float(t[1]), int(t[2]), int(t[3])) for day, t in by_day.items()]

    def exercise_rows(self) -> list[dict[str, Any]]:
        """One row per exercise per session, oldest first (for CSV export)."""
        cursor = self._db.execute(
            """
            SELECT s.id, s.started_at, s.ended_at, s.status, s.routine, e.position, e.exercise_id,
                   e.name, e.status, e.reps_done, e.active_s,
                   (SELECT COUNT(*) FROM pain_reports p
                    WHERE p.session_id = s.id AND p.exercise_id = e.exercise_id)
            FROM sessions s JOIN exercises e ON e.session_id = s.id
            ORDER BY s.started_at, s.id, e.position
            """)
        names = ["session", "started_at", "ended_at", "session_status", "routine", "position",
                 "exercise", "exercise_name", "exercise_status", "repetitions", "active_seconds",
                 "pain_reports"]
        return [dict(zip(names, row, strict=True)) for row in cursor]


class _Damaged(Exception):
    """SQLite's integrity check found the file broken (the details are for --debug)."""


def _primary_code(err: BaseException) -> int:
    return int(getattr(err, "sqlite_errorcode", 0) or 0) & 0xFF


def _plain(err: BaseException) -> str:
    """SQLite's words for an error, without Python's decoration."""
    return str(err).rstrip(".") or type(err).__name__


def _check_integrity(db: sqlite3.Connection) -> None:
    found = [row[0] for row in db.execute("PRAGMA quick_check").fetchall()]
    if found != ["ok"]:
        raise _Damaged("; ".join(str(f) for f in found) or "no answer to the integrity check")


def _in_use(path: Path) -> HistoryError:
    holders = _processes_holding(path)
    who = ", ".join(holders) if holders else "another program"
    return HistoryError("history-busy", f"The history file {path} is in use by {who}; close it and try again, "
                        "or choose another folder with --data-dir.")


def _processes_holding(path: Path) -> list[str]:
    """'process 1234 (python3 backup.py)' for every other process with the file open (Linux; else [])."""
    targets = {os.path.realpath(f"{path}{suffix}") for suffix in ("", "-wal", "-shm")}
    proc = Path("/proc")
    found: list[str] = []
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if not any(os.path.realpath(fd) in targets for fd in (entry / "fd").iterdir()):
                continue
            command = " ".join((entry / "cmdline").read_bytes().decode(errors="replace").replace("\0", " ").split())
        except OSError:  # gone meanwhile, or not ours to look at
            continue
        found.append(f"process {entry.name} ({command[:60] or '?'})")
    return found


@functools.cache
def _reference_schema() -> tuple[dict[str, str], dict[str, list[tuple[Any, ...]]], list[str]]:
    """What every table, column and index of a current file is: CREATE statements and column info."""
    db = sqlite3.connect(":memory:")
    try:
        for migration in _MIGRATIONS:
            for statement in migration.split(";"):
                if statement.strip():
                    db.execute(statement)
        tables = dict(db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall())
        columns = {name: db.execute(f"PRAGMA table_info({name})").fetchall() for name in tables}
        indexes = [sql for (sql,) in db.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")]
    finally:
        db.close()
    return tables, columns, indexes


def _missing_tables(db: sqlite3.Connection) -> tuple[list[str], dict[str, list[tuple[Any, ...]]]]:
    """The tables a current file should have and does not, and the columns missing from the others."""
    tables, columns, _ = _reference_schema()
    present = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    missing = [name for name in tables if name not in present]
    lacking: dict[str, list[tuple[Any, ...]]] = {}
    for name in tables:
        if name in present:
            have = {row[1] for row in db.execute(f"PRAGMA table_info({name})")}
            gone = [col for col in columns[name] if col[1] not in have]
            if gone:
                lacking[name] = gone
    return missing, lacking


def _repair_schema(db: sqlite3.Connection) -> list[str]:
    """Make again, empty, whatever table or column of the current schema is missing; what was made.

    A table someone dropped (the schema version still set) would otherwise fail every query
    that names it, hiding the whole history; the rest of the file is good and is kept.
    """
    missing, lacking = _missing_tables(db)
    if not missing and not lacking:
        return []
    tables, _, indexes = _reference_schema()
    made: list[str] = []
    db.execute("BEGIN IMMEDIATE")
    try:
        for name in missing:
            db.execute(tables[name])
            made.append(f"its table of {_TABLE_WORDS.get(name, name)}")
        for name, gone in lacking.items():
            for _, column, kind, not_null, default, primary in gone:
                if primary or (not_null and default is None):
                    raise _Damaged(f"table {name} lost its column {column}, which cannot be added back")
                db.execute(f"ALTER TABLE {name} ADD COLUMN {column} {kind}"
                           f"{' NOT NULL' if not_null else ''}{f' DEFAULT {default}' if default is not None else ''}")
                made.append(f"the column '{column}' of its {_TABLE_WORDS.get(name, name)}")
        for sql in indexes:
            db.execute(sql.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1))
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return made


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise HistoryError("history-newer", f"The history file {path} was written by a newer Mat Coach "
                           f"(schema {version}); update Mat Coach or choose another --data-dir.")
    if version == SCHEMA_VERSION:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]  # another process may have won
        for step in range(version, SCHEMA_VERSION):
            for statement in _MIGRATIONS[step].split(";"):
                if statement.strip():
                    db.execute(statement)
            _LOGGER.info("History schema migrated to version %d", step + 1)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


class HistoryRecorder:
    """Writes session events to the history as they happen; a write error never stops the session."""

    def __init__(self, store: HistoryStore, routine: Routine,
                 offered: ResumePoint | None = None) -> None:
        self.store = store
        self.routine = routine
        self.offered = offered
        self.session_id: int | None = None
        self.failed = False
        """A write failed: nothing more is written in this session (each try could wait for a lock)."""
        self._briefed: dict[int, bool] = {}

    def __call__(self, event: SessionEvent) -> None:
        if self.failed:
            return
        try:
            self._record(event)
        except (sqlite3.Error, HistoryError) as err:
            self.failed = True
            why = "another program holds the file" if _primary_code(err) in _BUSY else _plain(err)
            _LOGGER.warning("Progress could not be saved to the history (%s); the session goes on, "
                            "no longer recorded.", why)

    def _record(self, event: SessionEvent) -> None:
        data = event.data
        kind = event.type
        if kind is SessionEventType.SESSION_STARTED:
            if self.offered is not None:
                self.store.mark_interrupted(self.offered.token)
            self.session_id = self.store.start_session(self.routine.name)
            return
        if kind is SessionEventType.SESSION_RESUMED:
            self.session_id = int(data["token"])
            self.store.resume_session(self.session_id)
            return
        if self.session_id is None:
            return
        sid = self.session_id
        if kind is SessionEventType.EXERCISE_STARTED:
            index = int(data["number"]) - 1
            self.store.record_exercise(sid, index, str(data["exercise"]), str(data["name"]),
                                       status="started")
        elif kind is SessionEventType.REP_STARTED:
            index = [e.id for e in self.routine.exercises].index(str(data["exercise"]))
            if not self._briefed.get(index):  # once: the briefing was heard, a resume can skip it
                self._briefed[index] = True
                ex = self.routine.exercises[index]
                self.store.record_exercise(sid, index, ex.id, ex.name, briefed=True)
        elif kind is SessionEventType.REP_ENDED:
            index = int(data["index"])
            ex = self.routine.exercises[index]
            self.store.record_exercise(sid, index, ex.id, ex.name, reps_done=int(data["reps_done"]),
                                       active_s=float(data["active_s"]), next_rep=int(data["next_rep"]),
                                       next_side=int(data["next_side_index"]))
        elif kind is SessionEventType.EXERCISE_ENDED:
            index = [e.id for e in self.routine.exercises].index(str(data["exercise"]))
            ex = self.routine.exercises[index]
            self.store.record_exercise(sid, index, ex.id, ex.name, status=str(data["status"]),
                                       reps_done=int(data["reps_done"]), active_s=float(data["active_s"]))
        elif kind is SessionEventType.PAUSED:
            self.store.record_pause(sid, str(data["reason"]), str(data.get("exercise", "")))
        elif kind is SessionEventType.PAIN_REPORTED:
            self.store.record_pain(sid, str(data["exercise"]))
        elif kind is SessionEventType.SESSION_ENDED:
            for index, row in enumerate(data["progress"]):
                if row["status"] == "stopped":
                    ex = self.routine.exercises[index]
                    self.store.record_exercise(sid, index, ex.id, ex.name, status="stopped")
            self.store.end_session(sid, str(data["how"]))


def progress_sentence(history: SqliteHistory, cues: CueTable) -> str:
    """One spoken sentence about the last seven days, or '' when there is nothing yet."""
    days = history.days(7)
    sessions = sum(d.sessions for d in days)
    if not sessions:
        return ""
    active_days = sum(1 for d in days if d.sessions)
    minutes = round(sum(d.minutes for d in days))
    spoken_minutes = (cues.say("minutes_one") if minutes == 1
                      else cues.say("minutes_many", count=minutes))
    return cues.say("progress_week", days=active_days, day_word="day" if active_days == 1 else "days",
                    sessions=sessions, session_word="session" if sessions == 1 else "sessions",
                    minutes=spoken_minutes)


def default_data_dir() -> Path:
    """$MATCOACH_DATA_DIR, else the platform's user data folder."""
    override = os.environ.get("MATCOACH_DATA_DIR")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_data_path

    return user_data_path("mat-coach", appauthor=False)
