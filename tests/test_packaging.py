"""The built wheel carries everything a non-editable install needs."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


@pytest.mark.slow
def test_the_wheel_ships_grammars_routines_cues_and_type_information(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path),
                    str(ROOT)], check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("mat_coach-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("assistant/grammars/en.json", "assistant/routines/lower-back.toml",
                   "assistant/cues.toml", "assistant/py.typed", "assistant/cli.py"):
        assert needed in names, needed
    entry_points = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "assistant = assistant.__main__:run" in entry_points
