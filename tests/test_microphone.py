"""The microphone path, in real time: commands spoken into the virtual room reach the inbox."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import numpy as np
import pytest

from assistant.audio import RATE_HZ, AudioBlock, AudioSource, MicSource, WavSource
from assistant.commands import Grammar, Intent
from assistant.errors import AudioDeviceError
from assistant.events import CommandHeard, DeviceBack, DeviceLost, InboxEvent
from assistant.listener import JOIN_TIMEOUT_S, EngineChoice, Listener, start_listening
from assistant.listening import SphinxRecognizer, VoskRecognizer
from tests.korean import korean_grammar, korean_model_path
from tests.room import Room
from tests.speech import Voice, make_clip, synthesize, write_wav

TIMEOUT_S: Final = 20.0


def _two_commands(folder: Path, first: str, second: str, voice: Voice) -> Path:
    gap = np.zeros(int(2.0 * RATE_HZ), np.float32)
    a, b = synthesize(first, voice, folder / "tts"), synthesize(second, voice, folder / "tts")
    return write_wav(folder / f"room-{first}-{second}.wav", np.concatenate([gap[:RATE_HZ], a, gap, b, gap]))


def _collect(inbox: queue.Queue[InboxEvent], count: int) -> list[InboxEvent]:
    events: list[InboxEvent] = []
    deadline = time.monotonic() + TIMEOUT_S
    while len([e for e in events if isinstance(e, CommandHeard)]) < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            events.append(inbox.get(timeout=remaining))
        except queue.Empty:
            break
    return events


def _intents(events: list[InboxEvent]) -> list[Intent]:
    return [e.command.intent for e in events if isinstance(e, CommandHeard)]


@pytest.mark.audio
@pytest.mark.parametrize("rate_hz", [None, 48000], ids=["16kHz", "48kHz-resampled"])
def test_korean_commands_spoken_in_the_room_reach_the_inbox(room: Room, speech_dir: Path,
                                                            rate_hz: int | None) -> None:
    """Vosk listens to the room's monitor through sounddevice while paplay speaks two commands."""
    recognizer = VoskRecognizer(korean_model_path(), korean_grammar())
    recognizer.load()
    inbox: queue.Queue[InboxEvent] = queue.Queue()
    listener = Listener(recognizer, lambda: MicSource("pulse", rate_hz=rate_hz), inbox.put).start()
    try:
        assert listener.wait_until_listening(TIMEOUT_S)
        player = room.play(_two_commands(speech_dir, "정지", "계속", Voice("ko+f2", 160)))
        events = _collect(inbox, 2)
        player.wait(TIMEOUT_S)
    finally:
        listener.close()
    assert _intents(events) == [Intent.STOP, Intent.RESUME]
    heard = [e.command for e in events if isinstance(e, CommandHeard)]
    assert heard[1].start_s - heard[0].start_s == pytest.approx(2.0 + 0.8, abs=0.6), "stream times follow the audio"
    assert not listener.running


@pytest.mark.audio
def test_an_english_command_spoken_in_the_room_is_heard_by_pocketsphinx(room: Room, speech_dir: Path,
                                                                         english: Grammar) -> None:
    """The bundled engine on the live microphone path."""
    inbox: queue.Queue[InboxEvent] = queue.Queue()
    listener = Listener(SphinxRecognizer(english), lambda: MicSource("pulse"), inbox.put).start()
    try:
        assert listener.wait_until_listening(TIMEOUT_S)
        player = room.play(make_clip("say that again", Voice("en-us+f3", 150), speech_dir).path)
        events = _collect(inbox, 1)
        player.wait(TIMEOUT_S)
    finally:
        listener.close()
    assert _intents(events) == [Intent.REPEAT]


class _UnpluggedSource:
    """A microphone that gives a little sound, then is pulled out."""

    name = "USB mic"

    def blocks(self) -> Iterator[AudioBlock]:
        yield AudioBlock(b"\0" * 3200, 0.0)
        raise AudioDeviceError("microphone-lost", "The microphone 'USB mic' stopped working; check its cable.")

    def close(self) -> None:
        pass


def test_a_microphone_lost_mid_session_is_reported_and_retried(speech_dir: Path) -> None:
    """DeviceLost once (not once per retry), DeviceBack when it works again, then commands again."""
    attempts: list[str] = []
    command = WavSource(make_clip("네", Voice("ko+f2", 160), speech_dir).path)

    def open_source() -> AudioSource:
        attempts.append("open")
        if len(attempts) == 1:
            return _UnpluggedSource()
        if len(attempts) < 4:
            raise AudioDeviceError("no-microphone", "No microphone found.")
        return command

    recognizer = VoskRecognizer(korean_model_path(), korean_grammar())
    inbox: queue.Queue[InboxEvent] = queue.Queue()
    listener = Listener(recognizer, open_source, inbox.put, reconnect_s=0.05).start()
    try:
        events = _collect(inbox, 1)
    finally:
        listener.close()
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["DeviceLost", "DeviceBack", "CommandHeard"], kinds
    lost = events[0]
    assert isinstance(lost, DeviceLost) and lost.device == "USB mic" and "cable" in lost.reason
    assert isinstance(events[1], DeviceBack)
    assert _intents(events) == [Intent.YES]


def test_the_gate_decides_which_commands_reach_the_inbox(speech_dir: Path) -> None:
    """The hook for the speaking gate: a command the gate refuses is not posted."""
    recognizer = VoskRecognizer(korean_model_path(), korean_grammar())
    inbox: queue.Queue[InboxEvent] = queue.Queue()
    sources = [WavSource(make_clip(w, Voice("ko+f2", 160), speech_dir).path) for w in ("네", "정지")]
    listener = Listener(recognizer, lambda: sources.pop(0), inbox.put,
                        gate=lambda c: c.intent is Intent.STOP, reconnect_s=0.05).start()
    try:
        events = _collect(inbox, 1)
    finally:
        listener.close()
    assert _intents(events) == [Intent.STOP]


@pytest.mark.audio
def test_start_listening_hears_the_room_and_closes_cleanly(room: Room, speech_dir: Path) -> None:
    """The function `assistant run` calls: engine line, microphone by name part, commands posted."""
    choice = EngineChoice("vosk", korean_model_path(), "Listening with Vosk (test).")
    inbox: queue.Queue[InboxEvent] = queue.Queue()
    listener = start_listening(choice, korean_grammar(), inbox.put, input_device="puls")
    try:
        assert listener.wait_until_listening(TIMEOUT_S)
        player = room.play(make_clip("아니요", Voice("ko+f2", 160), speech_dir).path)
        events = _collect(inbox, 1)
        player.wait(TIMEOUT_S)
    finally:
        listener.close()
    assert _intents(events) == [Intent.NO]
    assert not listener.running


@pytest.mark.audio
def test_a_wrong_input_device_fails_before_listening_starts(room: Room, english: Grammar) -> None:
    """The message lists the microphones there are, so the user can pick one."""
    choice = EngineChoice("pocketsphinx", None, "")
    with pytest.raises(AudioDeviceError, match="No microphone matches --input-device 'headset-9'.*pulse"):
        start_listening(choice, english, lambda event: None, input_device="headset-9")


class _SlowToOpen:
    """A microphone whose opening takes as long as the test says (a USB device coming up)."""

    name = "slow mic"

    def __init__(self) -> None:
        self.closed = threading.Event()

    def blocks(self) -> Iterator[AudioBlock]:
        while not self.closed.is_set():
            yield AudioBlock(b"\0" * 3200, 0.0)
            self.closed.wait(0.1)

    def close(self) -> None:
        self.closed.set()


def test_stopping_while_the_microphone_is_still_opening_does_not_wait_for_it(english: Grammar) -> None:
    """Ctrl-C while the microphone opens: close() returns (it used to wait on a lock held by the open)."""
    may_open = threading.Event()
    opened: list[_SlowToOpen] = []

    def open_source() -> AudioSource:
        may_open.wait(10 * TIMEOUT_S)  # far longer than close() may take
        opened.append(_SlowToOpen())
        return opened[-1]

    listener = Listener(SphinxRecognizer(english), open_source, lambda event: None).start()
    closing = threading.Thread(target=listener.close)
    closing.start()
    closing.join(JOIN_TIMEOUT_S + TIMEOUT_S)
    returned = not closing.is_alive()
    may_open.set()  # the microphone comes up after all
    closing.join(TIMEOUT_S)
    assert returned, "close() waited for the microphone to open"
    deadline = time.monotonic() + TIMEOUT_S
    while not opened and time.monotonic() < deadline:
        may_open.wait(0.05)
    assert opened and opened[0].closed.wait(TIMEOUT_S), "the microphone that came up too late is closed"
