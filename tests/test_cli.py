"""The command line, run as a user would run it: as a process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Final

import pytest

ROOT: Final = Path(__file__).parents[1]
TIMEOUT_S: Final = 60.0


def assistant(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assistant", *args], input=stdin,
                          capture_output=True, text=True, timeout=TIMEOUT_S, cwd=ROOT)


def lines_with_times(stdout: str) -> list[tuple[float, str]]:
    found = re.findall(r"^\[\s*([0-9.]+)\][ !](.*)$", stdout, flags=re.MULTILINE)
    return [(float(t), text) for t, text in found]


def test_a_scripted_session_walks_the_whole_routine_and_exits_0() -> None:
    """`run --text --script` prints every sentence with its session time and ends with the summary."""
    started = time.monotonic()
    done = assistant("run", "--text", "--script", "examples/session.txt")
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", "nothing but the session on the screen"
    said = lines_with_times(done.stdout)
    times = [t for t, _ in said]
    assert times == sorted(times), "session time only goes forward"
    texts = [text for _, text in said]
    assert texts[0] == "Welcome to Mat Coach."
    assert "you: it hurts" in texts
    assert texts[texts.index("you: it hurts") + 1] == "Stop the exercise now."
    assert texts[-1] == "Goodbye, and take care of your back."
    assert any(t.startswith("Session finished after 20 minutes") for t in texts)
    assert said[-1][0] == 1210.0
    assert elapsed < TIMEOUT_S


def test_the_same_script_gives_the_same_session_every_time() -> None:
    """A scripted session is deterministic."""
    first = assistant("run", "--text", "--script", "examples/session.txt")
    second = assistant("run", "--text", "--script", "examples/session.txt")
    assert first.stdout == second.stdout


def test_an_empty_script_still_runs_to_the_end_on_timers(tmp_path: Path) -> None:
    script = tmp_path / "silent.txt"
    script.write_text("# nothing said\n")
    done = assistant("run", "--text", "--script", str(script))
    assert done.returncode == 0
    assert "5 of 5 holds" in done.stdout and "10 of 10 slides" in done.stdout


@pytest.mark.parametrize(
    ("args", "script_text", "message"),
    [
        (["--text", "--script"], "ten next\n", "line 1: expected '<seconds> <phrase>'"),
        (["--text", "--script"], "5\n", "line 1: expected '<seconds> <phrase>'"),
        (["--script"], "5 next\n", "--script works with --text"),
        (["--text", "--speed", "0", "--script"], "5 next\n", "--speed must be from 0.1 to 1000"),
    ],
)
def test_a_wrong_script_or_flag_is_one_clear_line_and_exit_2(
    tmp_path: Path, args: list[str], script_text: str, message: str
) -> None:
    script = tmp_path / "s.txt"
    script.write_text(script_text)
    done = assistant("run", *args, str(script))
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr


def test_a_missing_script_file_is_named(tmp_path: Path) -> None:
    done = assistant("run", "--text", "--script", str(tmp_path / "none.txt"))
    assert done.returncode == 2 and "none.txt" in done.stderr and "Traceback" not in done.stderr


def test_typed_commands_are_answered_in_real_time() -> None:
    """`run --text`: type 'help', read the answer; closing the input ends the session cleanly."""
    with subprocess.Popen([sys.executable, "-m", "assistant", "run", "--text", "--speed", "5"],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}) as proc:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        assert "Welcome to Mat Coach." in proc.stdout.readline()
        proc.stdin.write("what can i say\n")
        proc.stdin.flush()
        answer = ""
        deadline = time.monotonic() + TIMEOUT_S
        while "You can say" not in answer and time.monotonic() < deadline:
            answer = proc.stdout.readline()
        assert "You can say next to go to the first exercise" in answer
        proc.stdin.close()
        assert proc.wait(TIMEOUT_S) == 0
        assert "Session stopped (end of input)" in proc.stderr.read()


def test_the_diagram_is_drawn_as_svg(tmp_path: Path) -> None:
    """`assistant diagram` draws every state of the session machine."""
    out = tmp_path / "session.svg"
    done = assistant("diagram", "--out", str(out))
    if "Graphviz program 'dot' is not installed" in done.stderr and os.environ.get("CI") != "true":
        pytest.skip("Graphviz is not installed here")
    assert done.returncode == 0, done.stderr
    svg = out.read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    for state in ("OPENING", "INSTRUCTING", "HOLDING", "RESTING", "MOVING", "BREATHING", "PAUSED",
                  "CONFIRMING STOP", "FINISHED"):
        assert state in svg


def test_the_diagram_refuses_an_unknown_format(tmp_path: Path) -> None:
    done = assistant("diagram", "--out", str(tmp_path / "x.gif"))
    assert done.returncode == 2 and "must end in .svg, .png" in done.stderr


def test_routine_show_and_check(tmp_path: Path) -> None:
    """A user copies the routine, changes a default, and checks it."""
    shown = assistant("routine", "show")
    assert shown.returncode == 0 and "[[exercises]]" in shown.stdout
    mine = tmp_path / "mine.toml"
    mine.write_text(shown.stdout.replace("rest_s = 20 ", "rest_s = 30 "))
    checked = assistant("routine", "check", str(mine))
    assert checked.returncode == 0, checked.stderr
    assert "5 x 60 s hold, 30 s rest (our defaults: rest_s)" in checked.stdout
    listed = assistant("routine", "list")
    assert listed.stdout.startswith("lower-back: ")


def test_version_and_help() -> None:
    assert assistant("--version").stdout.startswith("assistant ")
    assert "run" in assistant("--help").stdout
