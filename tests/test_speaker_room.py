"""The real voice in the virtual room: what the assistant says is heard from the room's monitor."""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import numpy as np
import pytest

from assistant.errors import AudioDeviceError
from assistant.events import DeviceLost, InboxEvent, SpeechEnded, SpeechStarted
from assistant.playback import drain_within, find_output_device
from assistant.speaking import SpeechWorker, make_speaker
from tests.audio_checks import as_float, loud_rms, sound_span
from tests.recorder import RATE, RoomRecorder
from tests.room import Room, virtual_room

pytestmark = pytest.mark.audio

SPEECH_TIMEOUT_S: Final = 20.0
"""Longest wait for a sentence to be said."""
TAIL_S: Final = 0.3
PAREC_SETTLE_S: Final = 1.0
"""Recording kept after a sentence ends, so its tail has reached the monitor."""
MID_SENTENCE_S: Final = 1.0
"""How far into a sentence stop() is called."""
AT_ONCE_S: Final = 0.15
"""What a person hears as "at once"; the speaker buffers 35 ms, a busy machine adds to it.
The issue's bound (a cut-off, and a cached cue starting, within 50 ms) is measured by bench/speech.py."""

LONG: Final = ("Lie down on your stomach, rest your forehead on your hands, and let your "
               "shoulders sink towards the mat while you breathe slowly.")
SHORT: Final = "Let go of the position and rest."


class Events:
    """What the speaker posted, with a way to wait for one."""

    def __init__(self) -> None:
        self.items: list[InboxEvent] = []
        self._changed = threading.Condition()

    def post(self, event: InboxEvent) -> None:
        with self._changed:
            self.items.append(event)
            self._changed.notify_all()

    def wait_for(self, kind: type, text: str) -> InboxEvent:
        def found() -> InboxEvent | None:
            return next((e for e in self.items if isinstance(e, kind) and getattr(e, "text", "") == text), None)

        with self._changed:
            assert self._changed.wait_for(lambda: found() is not None, SPEECH_TIMEOUT_S), f"no {kind.__name__}"
        event = found()
        assert event is not None
        return event


@pytest.fixture(scope="module")
def recorder(room: Room) -> Iterator[RoomRecorder]:
    rec = RoomRecorder()
    yield rec
    rec.close()


@pytest.fixture(scope="module")
def voice(room: Room, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SpeechWorker, Events, Path]]:
    """One speaker on the room for the module (a new PulseAudio stream takes ~2 s to flow)."""
    events = Events()
    cache = tmp_path_factory.mktemp("speech")
    speaker = make_speaker("pulse", None, events.post, time.monotonic, cache_dir=cache,
                           config_dir=tmp_path_factory.mktemp("config"))
    speaker.prepare([LONG, SHORT], progress=False)
    yield speaker, events, cache
    speaker.close()


def _wav_of(speaker: SpeechWorker, cache: Path, text: str) -> tuple[np.ndarray, int]:
    rendered = speaker.audio_of(text)
    return as_float(rendered.samples), rendered.sample_rate


def test_what_is_played_into_the_room_is_the_sentence(
        voice: tuple[SpeechWorker, Events, Path], recorder: RoomRecorder) -> None:
    """The monitor hears the sentence whole: as long and as loud as its WAV, when the events say."""
    speaker, events, cache = voice
    wav, wav_rate = _wav_of(speaker, cache, SHORT)
    asked = time.monotonic()
    speaker.say(SHORT)
    started = events.wait_for(SpeechStarted, SHORT)
    ended = events.wait_for(SpeechEnded, SHORT)
    assert isinstance(started, SpeechStarted) and isinstance(ended, SpeechEnded)
    assert not ended.interrupted
    time.sleep(TAIL_S)
    heard, heard_from = recorder.between(asked - 0.1, time.monotonic())
    heard_span, wav_span = sound_span(heard, RATE), sound_span(wav, wav_rate)
    assert heard_span is not None and wav_span is not None
    assert heard_span[1] - heard_span[0] == pytest.approx(wav_span[1] - wav_span[0], abs=0.05)
    assert loud_rms(heard, RATE) == pytest.approx(loud_rms(wav, wav_rate), rel=0.2)
    # The reported start and end are when the sound was really there (within a block or two).
    assert heard_from + heard_span[0] - wav_span[0] == pytest.approx(started.at_s, abs=0.04)
    assert ended.at_s - started.at_s == pytest.approx(len(wav) / wav_rate, abs=0.04)


@pytest.mark.not_emulated("a timing target of the real chip; emulation runs about 11 times slower")
def test_a_prepared_cue_starts_sounding_at_once(
        voice: tuple[SpeechWorker, Events, Path], recorder: RoomRecorder) -> None:
    """No synthesis delay during the session: a prepared sentence is in the room at once.

    bench/speech.py measures the figure (the target is 50 ms; printed here with -s); a test on a
    shared machine only asks for what a person would call "at once".
    """
    speaker, events, cache = voice
    wav, wav_rate = _wav_of(speaker, cache, SHORT)
    wav_span = sound_span(wav, wav_rate)
    assert wav_span is not None
    delays = []
    for _ in range(3):
        asked = time.monotonic()
        speaker.say(SHORT)
        assert speaker.wait_until_quiet(SPEECH_TIMEOUT_S)
        time.sleep(TAIL_S)
        heard, heard_from = recorder.between(asked - 0.1, time.monotonic())
        span = sound_span(heard, RATE)
        assert span is not None
        delays.append(heard_from + span[0] - wav_span[0] - asked)
    print("cue to sound: " + ", ".join(f"{d * 1000:.0f} ms" for d in delays))
    assert sorted(delays)[1] < AT_ONCE_S, delays


@pytest.mark.not_emulated("a timing target of the real chip; emulation runs about 11 times slower")
def test_stop_cuts_the_sentence_off_at_once(
        voice: tuple[SpeechWorker, Events, Path], recorder: RoomRecorder) -> None:
    """'Stop' mid-sentence: the room is silent at once. Measured about 50 ms (printed with -s);
    a test on a shared machine only asks for what a person would call "at once"."""
    speaker, events, _ = voice
    speaker.say(LONG)
    events.wait_for(SpeechStarted, LONG)
    time.sleep(MID_SENTENCE_S)
    stopped_at = time.monotonic()
    speaker.stop()
    ended = events.wait_for(SpeechEnded, LONG)
    assert isinstance(ended, SpeechEnded) and ended.interrupted
    time.sleep(TAIL_S)
    heard, heard_from = recorder.between(stopped_at - 0.5, time.monotonic())
    span = sound_span(heard, RATE)
    assert span is not None, "the sentence was playing before stop()"
    print(f"cut off after {(heard_from + span[1] - stopped_at) * 1000:.0f} ms")
    assert heard_from + span[1] - stopped_at < AT_ONCE_S
    assert ended.at_s - stopped_at < AT_ONCE_S


def test_an_urgent_sentence_drops_what_was_queued(voice: tuple[SpeechWorker, Events, Path]) -> None:
    """Pain or stop: the urgent sentence is said at once, the queued ones never."""
    speaker, events, _ = voice
    urgent = "Stop the exercise now."
    speaker.say(LONG)
    speaker.say("Queued one.")
    speaker.say("Queued two.")
    events.wait_for(SpeechStarted, LONG)
    speaker.say(urgent, urgent=True)
    assert speaker.wait_until_quiet(SPEECH_TIMEOUT_S)
    said = [e.text for e in events.items if isinstance(e, SpeechStarted)]
    assert "Queued one." not in said and "Queued two." not in said
    assert said[-1] == urgent
    cut = events.wait_for(SpeechEnded, LONG)
    assert isinstance(cut, SpeechEnded) and cut.interrupted


def test_earcons_are_heard_in_the_room(voice: tuple[SpeechWorker, Events, Path], recorder: RoomRecorder) -> None:
    """The 'heard you' tone plays on the speaker even with no sentence playing."""
    speaker, _, _ = voice
    asked = time.monotonic()
    speaker.earcon("heard")
    time.sleep(TAIL_S)
    heard, _ = recorder.between(asked, time.monotonic())
    span = sound_span(heard, RATE)
    assert span is not None and 0.05 < span[1] - span[0] < 0.3


def test_a_speaker_name_that_does_not_exist_gets_a_clear_message(room: Room) -> None:
    """A typo in --output-device names the problem and the fix, before anything plays."""
    with pytest.raises(AudioDeviceError) as caught:
        find_output_device("no-such-speaker")
    assert "no-such-speaker" in caught.value.message
    assert "--output-device" in caught.value.message and "--text" in caught.value.message
    assert caught.value.exit_code == 2


def test_a_speaker_lost_mid_sentence_turns_into_printed_words(
        room: Room, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sound server goes away while speaking: DeviceLost is posted and the words are printed."""
    with virtual_room() as lost_room:
        monkeypatch.setenv("PULSE_SERVER", lost_room.env["PULSE_SERVER"])
        events, out = Events(), io.StringIO()
        speaker = make_speaker("pulse", None, events.post, time.monotonic, cache_dir=tmp_path / "speech",
                               config_dir=tmp_path / "config", out=out)
        monkeypatch.setenv("PULSE_SERVER", room.env["PULSE_SERVER"])
        try:
            speaker.say(LONG)
            events.wait_for(SpeechStarted, LONG)
            lost_room.pactl("exit")
            speaker.say(SHORT)
            assert speaker.wait_until_quiet(SPEECH_TIMEOUT_S)
        finally:
            speaker.close()
    lost = [e for e in events.items if isinstance(e, DeviceLost)]
    assert len(lost) == 1
    printed = out.getvalue()
    assert LONG in printed and SHORT in printed
    assert os.environ["PULSE_SERVER"] == room.env["PULSE_SERVER"]


def test_assistant_say_speaks_into_the_room(room: Room, tmp_path: Path) -> None:
    """`assistant say TEXT` on the default speaker: the room hears the whole sentence, and it exits 0."""
    import subprocess
    import sys

    env = {**room.env, "XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    raw = tmp_path / "room.raw"
    # parec, not an in-process stream: this process's own PortAudio streams are not what a user has
    with raw.open("wb") as sink, subprocess.Popen(
            ["parec", f"--device={room.monitor}", "--rate=16000", "--channels=1", "--format=s16le"],
            stdout=sink, env=room.env) as recording:
        time.sleep(PAREC_SETTLE_S)  # parec connects
        done = subprocess.run([sys.executable, "-m", "assistant", "--debug", "say", SHORT], env=env,
                              capture_output=True, text=True, timeout=60)
        time.sleep(PAREC_SETTLE_S)  # the last of the sound reaches parec
        recording.terminate()
    assert done.returncode == 0, done.stderr
    heard = np.frombuffer(raw.read_bytes(), dtype=np.int16).astype(np.float64) / 32768.0
    span = sound_span(heard, 16000)
    assert span is not None and span[1] - span[0] > 1.0, \
        f"the whole sentence, not a clipped start: heard {span}; said: {done.stdout!r} {done.stderr[-3000:]}"


class _StreamThatNeverDrains:
    """An output stream whose stop() never returns: a sound server that stopped answering."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def stop(self, ignore_errors: bool = False) -> None:
        self.release.wait(600.0)


def test_a_speaker_that_never_finishes_draining_does_not_hold_the_exit() -> None:
    """Closing waits for the device to play out, but not for ever."""
    stream = _StreamThatNeverDrains()
    started = time.monotonic()
    try:
        assert drain_within(stream, 0.2) is False
    finally:
        stream.release.set()
    assert time.monotonic() - started < 60.0
