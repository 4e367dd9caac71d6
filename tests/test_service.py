"""Starting at boot: the systemd unit is right, and install/uninstall round-trip."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Final

import pytest

from assistant.service import UNIT_NAME, unit_text

ROOT: Final = Path(__file__).parents[1]
TIMEOUT_S: Final = 60.0


def assistant(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True,
                          timeout=TIMEOUT_S, cwd=ROOT)


def test_install_writes_a_unit_that_serves_restarts_and_logs_and_uninstall_removes_it(tmp_path: Path) -> None:
    from assistant import service

    executable = Path(sys.executable).with_name("assistant")
    left = service.install(tmp_path, unit_text(executable, ["--engine", "pocketsphinx"], ROOT), run_systemctl=False)
    unit = (tmp_path / UNIT_NAME).read_text()
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert exec_start.endswith("assistant serve --engine pocketsphinx")
    assert Path(exec_start.removeprefix("ExecStart=").split()[0]).exists()
    assert "Restart=always" in unit and "WantedBy=default.target" in unit
    assert "SyslogIdentifier=mat-coach" in unit
    assert "systemctl --user enable --now mat-coach.service" in left
    assert any(c.startswith("loginctl enable-linger") for c in left)
    service.uninstall(tmp_path, run_systemctl=False)
    assert not (tmp_path / UNIT_NAME).exists()
    again = assistant("service", "uninstall", "--unit-dir", str(tmp_path), "--no-systemctl")
    assert again.returncode == 2 and "No Mat Coach service is installed" in again.stderr


def test_install_from_the_command_line_runs_serve_with_my_options(tmp_path: Path) -> None:
    """`assistant service install -- OPTIONS` writes a unit whose ExecStart is `assistant serve OPTIONS`."""
    done = assistant("service", "install", "--unit-dir", str(tmp_path), "--no-systemctl", "--",
                     "--engine", "pocketsphinx", "--input-device", "USB")
    assert done.returncode == 0, done.stderr
    unit = (tmp_path / UNIT_NAME).read_text()
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert exec_start.endswith("assistant serve --engine pocketsphinx --input-device USB")
    assert "systemctl --user enable --now mat-coach.service" in done.stdout
    removed = assistant("service", "uninstall", "--unit-dir", str(tmp_path), "--no-systemctl")
    assert removed.returncode == 0 and not (tmp_path / UNIT_NAME).exists()


def test_install_refuses_options_that_serve_does_not_take(tmp_path: Path) -> None:
    """A typo is one clear line now, not a unit that fails at every boot."""
    done = assistant("service", "install", "--unit-dir", str(tmp_path), "--no-systemctl", "--", "--text")
    assert done.returncode == 2 and "`assistant serve` does not take --text" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / UNIT_NAME).exists()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    """`systemd-analyze verify` finds nothing to complain about (and does complain about a bad one)."""
    executable = Path(sys.executable).with_name("assistant")
    good = tmp_path / UNIT_NAME
    good.write_text(unit_text(executable, [], ROOT))
    checked = subprocess.run(["systemd-analyze", "verify", str(good)], capture_output=True, text=True,
                             timeout=TIMEOUT_S)
    assert checked.returncode == 0 and checked.stderr == "", checked.stderr
    bad = tmp_path / "bad" / UNIT_NAME
    bad.parent.mkdir()
    bad.write_text(unit_text(tmp_path / "no-such-assistant", [], ROOT))
    refused = subprocess.run(["systemd-analyze", "verify", str(bad)], capture_output=True, text=True,
                             timeout=TIMEOUT_S)
    assert refused.returncode != 0 and "not executable" in refused.stderr
