"""History for people: a terminal table, a CSV export, a PNG plot."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TextIO

from assistant.errors import UsageError
from assistant.history import SqliteHistory

_STATUS_WORDS = {"running": "unfinished", "interrupted": "unfinished"}


def print_history(history: SqliteHistory, out: TextIO, last: int = 10, days: int = 7) -> None:
    """The last sessions, then one line per day with its totals."""
    sessions = history.sessions(last)
    print(f"Last {len(sessions)} sessions" if sessions else "No sessions recorded yet.", file=out)
    if sessions:
        print(f"  {'date':<10}  {'start':<5}  {'minutes':>7}  {'exercises':>9}  {'pain':>4}  status",
              file=out)
    for s in sessions:
        print(f"  {s.started_at:%Y-%m-%d}  {s.started_at:%H:%M}  {s.minutes:7.0f}  "
              f"{s.exercises_done:>4}/{s.exercises_total:<4}  {s.pain_reports:>4}  "
              f"{_STATUS_WORDS.get(s.status, s.status)}", file=out)
    summary = history.days(days)
    print(f"\nLast {days} days ({summary[0].day:%Y-%m-%d} to {summary[-1].day:%Y-%m-%d})", file=out)
    print(f"  {'day':<10}  {'sessions':>8}  {'minutes':>7}  {'exercises':>9}  {'pain':>4}", file=out)
    for d in summary:
        print(f"  {d.day:%a %d %b}  {d.sessions:>8}  {d.minutes:7.0f}  {d.exercises_done:>9}  "
              f"{d.pain_reports:>4}", file=out)
    print(f"  {'total':<10}  {sum(d.sessions for d in summary):>8}  "
          f"{sum(d.minutes for d in summary):7.0f}  {sum(d.exercises_done for d in summary):>9}  "
          f"{sum(d.pain_reports for d in summary):>4}", file=out)


def write_csv(history: SqliteHistory, out: TextIO) -> int:
    """One row per exercise per session, for a physiotherapist; returns the number of rows."""
    rows = history.exercise_rows()
    fields = list(rows[0]) if rows else ["session", "started_at", "ended_at", "session_status",
                                         "routine", "position", "exercise", "exercise_name",
                                         "exercise_status", "repetitions", "active_seconds",
                                         "pain_reports"]
    writer = csv.DictWriter(out, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    return len(rows)


def plot_minutes(history: SqliteHistory, path: Path, days: int = 28) -> None:
    """A bar chart of minutes per day over the last `days` days, as PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no screen needed
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise UsageError("plot-missing", "Plotting needs matplotlib: "
                         ".venv/bin/pip install 'mat-coach[plot]'") from err
    if path.suffix.lower() != ".png":
        raise UsageError("usage", f"--plot writes a PNG; give a file name ending in .png, not {path.name}.")
    summary = history.days(days)
    figure, axes = plt.subplots(figsize=(8, 3.5), dpi=100)
    axes.bar(range(len(summary)), [d.minutes for d in summary], color="#4a7ab5")
    step = max(1, len(summary) // 14)  # at most about 14 day labels
    axes.set_xticks(range(0, len(summary), step),
                    [f"{d.day:%a %d %b}" for d in summary[::step]])
    axes.set_ylabel("minutes")
    axes.set_title(f"Mat Coach: minutes of exercise per day, last {days} days")
    figure.autofmt_xdate()
    figure.tight_layout()
    try:
        figure.savefig(path, format="png")
    except OSError as err:
        raise UsageError("plot-write", f"Cannot write {path} ({err.strerror}).") from err
    finally:
        plt.close(figure)
