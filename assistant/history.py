"""Session history in SQLite: every repetition committed as it is done, so nothing is lost.

One file in the user's data folder (WAL mode, synchronous=FULL, so a power cut on the Pi loses
at most the repetition in progress). The schema is versioned with `PRAGMA user_version`;
`_MIGRATIONS[n]` takes a file from version n to n + 1.
"""

from __future__ import annotations

import logging
import os
import sqlite3
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

SCHEMA_VERSION: Final = 2
HISTORY_FILE: Final = "history.sqlite3"
_BUSY_TIMEOUT_S: Final = 10.0
"""How long a write waits for another Mat Coach process that holds the file."""

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
)
assert len(_MIGRATIONS) == SCHEMA_VERSION


def local_now() -> datetime:
    return datetime.now().astimezone()


def _stamp(when: datetime) -> str:
    return when.isoformat(timespec="seconds")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


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
                        next_side: int | None = None) -> None: ...
    def record_pause(self, session_id: int, reason: str, exercise_id: str) -> None: ...
    def record_pain(self, session_id: int, exercise_id: str) -> None: ...
    def end_session(self, session_id: int, status: str) -> None: ...
    def mark_interrupted(self, session_id: int) -> None: ...


class SqliteHistory:
    """The history file. Open it with `SqliteHistory.open(folder)`."""

    def __init__(self, path: Path, connection: sqlite3.Connection,
                 now: Callable[[], datetime] = local_now, notice: str = "") -> None:
        self.path = path
        self._db = connection
        self._now = now
        self.notice = notice
        """A sentence for the user when something had to be repaired (a damaged file moved aside)."""

    # ------------------------------------------------------------ opening

    @classmethod
    def open(cls, folder: Path, now: Callable[[], datetime] = local_now) -> SqliteHistory:
        """Open (or create) the history in `folder`; a damaged file is moved aside, never deleted."""
        path = folder / HISTORY_FILE
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise HistoryError("history-folder", f"Cannot create the history folder {folder} "
                               f"({err.strerror}); choose another one with --data-dir.") from err
        if path.exists() and not os.access(path, os.R_OK | os.W_OK):
            raise HistoryError("history-access", f"Cannot read and write the history file {path}; "
                               "fix its permissions or choose another folder with --data-dir.")
        notice = ""
        try:
            connection = cls._connect(path)
        except sqlite3.DatabaseError as err:
            moved = cls._move_aside(path)
            notice = (f"The history file {path} was damaged ({err}); it was moved to {moved.name} "
                      "and a new one was started.")
            _LOGGER.warning("%s", notice)
            connection = cls._connect(path)
        return cls(path, connection, now, notice)

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_S, isolation_level=None,
                                 check_same_thread=False)
        except sqlite3.OperationalError as err:
            raise HistoryError("history-open", f"Cannot open the history file {path} ({err}); "
                               "choose another folder with --data-dir.") from err
        try:
            check = db.execute("PRAGMA quick_check").fetchone()
            if check is None or check[0] != "ok":
                raise sqlite3.DatabaseError(f"integrity check: {check[0] if check else 'no answer'}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # a commit survives a power cut
            db.execute("PRAGMA foreign_keys=ON")
            _migrate(db, path)
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    @staticmethod
    def _move_aside(path: Path) -> Path:
        stamp = local_now().strftime("%Y%m%d-%H%M%S")
        moved = path.with_name(f"{path.name}.damaged-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            part = Path(f"{path}{suffix}")
            if part.exists():
                part.rename(Path(f"{moved}{suffix}"))
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
                        next_side: int | None = None) -> None:
        """Create or update one exercise of a session; fields left None keep their value."""
        with self._write() as db:
            db.execute(
                "INSERT INTO exercises (session_id, position, exercise_id, name, status) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (session_id, position) DO NOTHING",
                (session_id, position, exercise_id, name, status or "started"))
            db.execute(
                "UPDATE exercises SET status = COALESCE(?, status), "
                "reps_done = COALESCE(?, reps_done), active_s = COALESCE(?, active_s), "
                "next_rep = COALESCE(?, next_rep), next_side = COALESCE(?, next_side) "
                "WHERE session_id = ? AND position = ?",
                (status, reps_done, active_s, next_rep, next_side, session_id, position))
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
        """The latest session of this routine that was cut off today, with where it stopped."""
        today = self._now().date()
        rows = self._db.execute(
            "SELECT id, started_at, updated_at FROM sessions WHERE status = 'running' AND routine = ? "
            "ORDER BY started_at DESC, id DESC LIMIT 5", (routine.name,)).fetchall()
        for session_id, started_at, updated_at in rows:
            if _parse(started_at).date() != today:
                continue
            exercises = {row[0]: row[1:] for row in self._db.execute(
                "SELECT position, exercise_id, status, reps_done, active_s, next_rep, next_side "
                "FROM exercises WHERE session_id = ?", (session_id,))}
            ids = [exercises[p][0] for p in sorted(exercises)]
            if not exercises or any(i >= len(routine.exercises) or routine.exercises[i].id != ex_id
                                    for i, ex_id in zip(sorted(exercises), ids, strict=True)):
                continue  # the routine changed since: nothing sensible to continue
            under_way = [p for p in sorted(exercises) if exercises[p][1] == "started"]
            if not under_way:
                continue
            current = under_way[-1]
            progress = tuple(
                (exercises[i][1], exercises[i][2], exercises[i][3]) if i in exercises
                else ("not reached", 0, 0.0)
                for i in range(len(routine.exercises)))
            _, _, _, _, next_rep, next_side = exercises[current]
            elapsed = (_parse(updated_at) - _parse(started_at)).total_seconds()
            return ResumePoint(token=session_id, ex_index=current, rep=next_rep,
                               side_index=next_side, progress=progress, elapsed_s=max(0.0, elapsed))
        return None

    def sessions(self, limit: int = 10) -> list[SessionRecord]:
        """The latest sessions, newest first."""
        rows = self._db.execute(
            """
            SELECT s.id, s.started_at, COALESCE(s.ended_at, s.updated_at), s.routine, s.status,
                   (SELECT COUNT(*) FROM exercises e WHERE e.session_id = s.id AND e.status = 'done'),
                   (SELECT COUNT(*) FROM exercises e WHERE e.session_id = s.id),
                   (SELECT COUNT(*) FROM pain_reports p WHERE p.session_id = s.id),
                   (SELECT COUNT(*) FROM pauses q WHERE q.session_id = s.id)
            FROM sessions s ORDER BY s.started_at DESC, s.id DESC LIMIT ?
            """, (limit,)).fetchall()
        return [SessionRecord(id=r[0], started_at=_parse(r[1]),
                              minutes=(_parse(r[2]) - _parse(r[1])).total_seconds() / 60,
                              routine=r[3], status=r[4], exercises_done=r[5], exercises_total=r[6],
                              pain_reports=r[7], pauses=r[8])
                for r in rows]

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
        self._warned = False

    def __call__(self, event: SessionEvent) -> None:
        try:
            self._record(event)
        except (sqlite3.Error, HistoryError) as err:
            if not self._warned:
                _LOGGER.warning("Progress could not be saved to the history (%s); the session goes on.",
                                err)
                self._warned = True

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
