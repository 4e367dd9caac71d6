"""`assistant serve` in the PulseAudio virtual room: it waits, coaches when asked, and waits again.

The person and the assistant in the room are in tests/voice_room.py. systemd stops the
service with SIGTERM, which is what `Assistant.close()` sends.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from assistant.history import SqliteHistory
from tests.room import Room, RoomUnavailable, virtual_room
from tests.voice_room import START_TIMEOUT_S, USER_VOICES, Assistant, User

pytestmark = [pytest.mark.audio, pytest.mark.slow]

WAITING: Final = r"^Waiting for 'start my session'"
STARTED: Final = r"^Heard '(start my session|coach start session)'"
HOUSEHOLD_TALK: Final = (
    "Can you start the car?",
    "The session starts at six.",
    "Coach said the station is closed.",
    "start session",
    "coach start",
    "my session",
)
"""Said in the room while the coach waits: near misses of the start phrases, none of them one."""


@pytest.fixture(scope="module")
def room() -> Iterator[Room]:
    """A room of serve's own. On the shared room, `assistant say` in the next module came out
    clipped after serve's sessions (with output underflows; 4 of 6 runs), never on its own;
    with a room of its own here, 0 of 2 (cause not found: see the closing note)."""
    try:
        with virtual_room() as own:
            yield own
    except RoomUnavailable as err:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the virtual room is needed in CI: {err}")
        pytest.skip(str(err))


@pytest.fixture
def serving(room: Room, tmp_path: Path, speech_cache: Path) -> Iterator[Assistant]:
    running = Assistant(room, tmp_path / "data", speech_cache, command="serve")
    try:
        assert running.wait_for(WAITING, START_TIMEOUT_S) is not None, f"did not start: {running.errors[-5:]}"
        yield running
    finally:
        running.close()


def test_serve_waits_starts_a_session_when_i_say_start_my_session_and_waits_again_after_i_stop_it(
        serving: Assistant, room: Room, clips: Path, tmp_path: Path) -> None:
    """start my session -> a session (in the history); pause, stop, yes -> waiting again; SIGTERM -> exit 0."""
    user = User(room, clips)
    user.say_until(serving, "start", STARTED, tries=8)
    assert serving.wait_for(r"Welcome\.", 30.0) is not None, serving.transcript()[-5:]
    # a quiet moment to speak in (the coach talks through the opening); paused, the room stays quiet
    assert serving.wait_for(r"Repetition 1 of 2\. Hold", 60.0) is not None, serving.transcript()[-5:]
    user.say_until(serving, "pause", r"Paused\. Say resume")
    user.say_until(serving, "stop", r"End the session\?")
    user.say_until(serving, "yes", r"Session finished after")
    waiting = [at for at, text in serving.lines if re.search(WAITING, text)]
    assert serving.wait_for(WAITING, 60.0, since=waiting[0] + 0.001) is not None, serving.transcript()[-5:]
    assert serving.close() == 0, serving.errors[-5:]
    assert any("Stopped (SIGTERM)" in line for line in serving.errors), serving.errors[-5:]
    history = SqliteHistory.open(tmp_path / "data")
    try:
        assert [s.status for s in history.sessions()] == ["stopped"]
    finally:
        history.close()


def test_talk_that_is_not_the_start_phrase_does_not_start_a_session(serving: Assistant, room: Room,
                                                                    clips: Path) -> None:
    """Near misses said in the room start nothing; then the real phrase does, and SIGTERM mid-session exits 0."""
    user = User(room, clips)
    for number, sentence in enumerate(HOUSEHOLD_TALK):
        user.say(sentence, USER_VOICES[number % 2])
    assert serving.wait_for(STARTED, 3.0) is None, f"talk started a session: {serving.transcript()[-5:]}"
    user.say_until(serving, "start", STARTED, tries=8)
    assert serving.wait_for(r"Welcome\.", 30.0) is not None
    assert serving.close() == 0, serving.errors[-5:]
    assert any("Session stopped (SIGTERM); your progress is saved." in line for line in serving.errors), \
        serving.errors[-5:]
