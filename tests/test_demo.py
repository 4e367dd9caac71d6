"""`assistant demo`: a whole session with a synthetic user, heard by the real recognizer."""

from __future__ import annotations

import re
import subprocess
import sys
import wave
from pathlib import Path
from typing import Final

import pytest

ROOT: Final = Path(__file__).parents[1]
TIMEOUT_S: Final = 300.0


@pytest.mark.slow
def test_the_demo_runs_a_session_where_spoken_commands_are_heard_and_writes_the_room(tmp_path: Path) -> None:
    out = tmp_path / "room.wav"
    done = subprocess.run(
        [sys.executable, "-m", "assistant", "demo", "--routine", "tests/data/short-routine.toml",
         "--engine", "pocketsphinx", "--out", str(out)],
        capture_output=True, text=True, timeout=TIMEOUT_S, cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")},
    )
    assert done.returncode == 0, done.stderr
    said = re.findall(r"user says: (.+)", done.stdout)
    heard = re.findall(r"heard: (.+) \(\d+%\)", done.stdout)
    assert said and heard, done.stdout[-2000:]
    assert "coach: Goodbye, and take care of your back." in done.stdout
    with wave.open(str(out)) as room:
        assert room.getframerate() == 16000 and room.getnchannels() == 1
        assert room.getnframes() / 16000 > 60, "the whole session, both voices"
    assert "were heard and acted on" in done.stderr
