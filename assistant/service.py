"""Start at boot: a systemd *user* unit that runs `assistant serve` and restarts it if it dies.

Why a user unit: on Raspberry Pi OS (bookworm) the sound server (PipeWire, or PulseAudio)
runs per user, so a user service reaches the same microphone and speaker as the desktop
user. `loginctl enable-linger` makes the user's services start at boot without a login.
"""

from __future__ import annotations

import getpass
import logging
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from assistant.errors import UsageError

_LOGGER = logging.getLogger(__name__)

UNIT_NAME: Final = "mat-coach.service"
_COMMAND_TIMEOUT_S: Final = 30.0


def default_unit_dir() -> Path:
    """Where systemd looks for a user's own units."""
    return Path.home() / ".config" / "systemd" / "user"


def assistant_executable() -> Path:
    """The `assistant` script of this installation (the venv's, when run from one)."""
    beside = Path(sys.executable).with_name("assistant")
    if beside.exists():
        return beside
    found = shutil.which("assistant")
    if found:
        return Path(found)
    raise UsageError("service-exe", "Cannot find the 'assistant' command of this installation; "
                     "install Mat Coach (make run) and run this from its .venv/bin/assistant.")


def unit_text(executable: Path, serve_args: list[str], working_dir: Path) -> str:
    """The unit file: serve at boot, restart on any exit, log to the journal."""
    command = shlex.join([str(executable), "serve", *serve_args])
    return f"""\
# Mat Coach: waits quietly for "start session" and coaches a session.
# Written by `assistant service install`; remove with `assistant service uninstall`.
[Unit]
Description=Mat Coach voice exercise coach
Documentation=file://{working_dir}/docs/raspberry-pi.md
# The sound server of the user session; harmless where it does not exist.
After=pipewire.service pipewire-pulse.service pulseaudio.service
# Never give up restarting: on a mat-side Pi there is nobody to restart it by hand.
StartLimitIntervalSec=0

[Service]
Type=simple
WorkingDirectory={working_dir}
ExecStart={command}
Restart=always
RestartSec=5
Environment=PYTHONUNBUFFERED=1
SyslogIdentifier=mat-coach

[Install]
WantedBy=default.target
"""


@dataclass(frozen=True, slots=True)
class ServicePlan:
    """What install or uninstall does: the unit file and the commands around it."""

    unit_path: Path
    commands: tuple[tuple[str, ...], ...]


def install_plan(unit_dir: Path, user: str | None = None) -> ServicePlan:
    user = user or getpass.getuser()
    return ServicePlan(unit_dir / UNIT_NAME, (
        ("systemctl", "--user", "daemon-reload"),
        ("systemctl", "--user", "enable", "--now", UNIT_NAME),
        ("loginctl", "enable-linger", user),
    ))


def uninstall_plan(unit_dir: Path) -> ServicePlan:
    return ServicePlan(unit_dir / UNIT_NAME, (
        ("systemctl", "--user", "disable", "--now", UNIT_NAME),
        ("systemctl", "--user", "daemon-reload"),
    ))


def install(unit_dir: Path, text: str, *, run_systemctl: bool) -> list[str]:
    """Write the unit and (optionally) enable it; returns what is left for the user to run."""
    plan = install_plan(unit_dir)
    try:
        unit_dir.mkdir(parents=True, exist_ok=True)
        tmp = plan.unit_path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(plan.unit_path)  # a half-written unit is never left behind
    except OSError as err:
        raise UsageError("service-write", f"Cannot write {plan.unit_path} ({err.strerror}); "
                         "choose another folder with --unit-dir.") from err
    return _run(plan, run_systemctl)


def uninstall(unit_dir: Path, *, run_systemctl: bool) -> list[str]:
    """Disable (optionally) and remove the unit; returns what is left for the user to run."""
    plan = uninstall_plan(unit_dir)
    if not plan.unit_path.exists():
        raise UsageError("service-missing", f"No Mat Coach service is installed at {plan.unit_path}.")
    left = _run(plan, run_systemctl, only_first=True)
    plan.unit_path.unlink()
    left += _run(ServicePlan(plan.unit_path, plan.commands[1:]), run_systemctl)
    return left


def _run(plan: ServicePlan, run_systemctl: bool, only_first: bool = False) -> list[str]:
    commands = plan.commands[:1] if only_first else plan.commands
    if not run_systemctl:
        return [shlex.join(c) for c in commands]
    left = []
    for command in commands:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=_COMMAND_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as err:
            _LOGGER.warning("%s failed: %s", shlex.join(command), err)
            left.append(shlex.join(command))
            continue
        if done.returncode != 0:
            _LOGGER.warning("%s failed: %s", shlex.join(command), done.stderr.strip())
            left.append(shlex.join(command))
    return left


