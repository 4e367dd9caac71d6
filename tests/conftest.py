"""Shared fixtures: the virtual sound room and small helpers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from assistant.commands import Grammar, load_grammar
from tests.room import Room, RoomUnavailable, virtual_room

EMULATED: Final = os.environ.get("PI_EMULATED") == "1"
"""Running in the emulated Raspberry Pi OS of `make test-pi` (qemu-user, 6 to 12 times slower)."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under emulation, skip the tests marked not_emulated, each with the reason it gives."""
    if not EMULATED:
        return
    for item in items:
        marker = item.get_closest_marker("not_emulated")
        if marker is not None:
            reason = marker.args[0] if marker.args else "cannot run under emulation"
            item.add_marker(pytest.mark.skip(reason=f"emulated Pi: {reason}"))


@pytest.fixture(scope="session", autouse=True)
def private_history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Sessions run by tests (and their subprocesses) never write to the real user's history."""
    saved = os.environ.get("MATCOACH_DATA_DIR")
    os.environ["MATCOACH_DATA_DIR"] = str(tmp_path_factory.mktemp("history"))
    yield
    if saved is None:
        os.environ.pop("MATCOACH_DATA_DIR", None)
    else:
        os.environ["MATCOACH_DATA_DIR"] = saved


MIN_TALLIED: Final = 10
"""Fewer commands than this (a single room test run alone) are reported, not judged."""


def _first_try_summary() -> tuple[int, int, str]:
    from tests.voice_room import TALLY

    first = sum(1 for _, tries in TALLY if tries == 1)
    late = ", ".join(f"{intent} ({'never' if tries is None else f'try {tries}'})"
                     for intent, tries in TALLY if tries != 1)
    return first, len(TALLY), late


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    first, said, late = _first_try_summary()
    if said:
        terminalreporter.write_line(f"Room commands acted on at the first try: {first} of {said} "
                                    f"({first / said:.0%}); not at the first: {late or 'none'}")


@pytest.fixture(scope="session")
def room() -> Iterator[Room]:
    """A PulseAudio virtual room, set as this process's sound server.

    Skips (saying why) where PulseAudio cannot start; in CI (CI=true) that is a failure.
    sounddevice is re-initialized so that PortAudio sees the room's `pulse` device. When the
    room closes, the commands its tests said must have been acted on at the first try
    (FIRST_TRY_SHARE of them at least): a test that needs tries to be heard hides a failure.
    """
    yield from _room()
    from tests.voice_room import FIRST_TRY_SHARE

    first, said, late = _first_try_summary()
    if said >= MIN_TALLIED:
        assert first / said >= FIRST_TRY_SHARE, \
            f"only {first} of {said} room commands were acted on at the first try; late: {late}"


def _room() -> Iterator[Room]:
    try:
        with virtual_room() as started:
            saved = {k: os.environ.get(k) for k in ("XDG_RUNTIME_DIR", "PULSE_SERVER",
                                                    "PULSE_SINK", "PULSE_SOURCE")}
            os.environ.update({k: started.env[k] for k in saved})
            try:
                import sounddevice as sd

                sd._terminate()
                sd._initialize()
                yield started
            finally:
                for key, value in saved.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value
    except RoomUnavailable as err:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the PulseAudio virtual room must work in CI: {err}")
        pytest.skip(f"no PulseAudio virtual room here: {err}")


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthesized clips, made once per test session and shared by every listening test."""
    return tmp_path_factory.mktemp("speech")


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the user says in the room, synthesized once per test session."""
    return tmp_path_factory.mktemp("user-clips")


@pytest.fixture(scope="session")
def speech_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The assistant's speech cache, shared by the room tests: the routine is rendered once."""
    return tmp_path_factory.mktemp("speech-cache")


@pytest.fixture(scope="session")
def english() -> Grammar:
    return load_grammar()


@pytest.fixture(autouse=True)
def _no_user_models(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never pick up a model from the developer's own cache or environment."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.delenv("VOSK_MODEL_PATH", raising=False)
    monkeypatch.delenv("MATCOACH_MODEL_URL", raising=False)
