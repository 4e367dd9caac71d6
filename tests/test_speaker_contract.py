"""What the session relies on from any Speaker: the printed one and the real voice alike."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from assistant.rendering import shared_renderer
from assistant.speaking import Speaker, SpeechWorker, TextSpeaker, VoiceControl
from assistant.speech_cache import SpeechCache
from assistant.voice_settings import EARCON_NAMES, VoiceSettingsStore
from tests.fakes import InstantPlayer

QUIET_TIMEOUT_S: Final = 30.0


@pytest.fixture(params=["text", "voice"])
def speaker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Speaker]:
    if request.param == "text":
        made: Speaker = TextSpeaker(lambda: 0.0, io.StringIO())
    else:
        store = VoiceSettingsStore(tmp_path / "config")
        made = SpeechWorker(InstantPlayer(), SpeechCache(shared_renderer(), tmp_path / "speech"),
                            store.load(), lambda event: None, lambda: 0.0, store=store, out=io.StringIO())
    yield made
    made.close()


def test_longer_sentences_take_longer_to_say(speaker: Speaker) -> None:
    """The session paces itself with duration_s: it must grow with the text."""
    short, long = "Relax.", "Slide your right heel slowly along the mat and bring it back again."
    assert 0 < speaker.duration_s(short) < speaker.duration_s(long)


def test_faster_speech_takes_less_time(speaker: Speaker) -> None:
    """After 'faster' the same sentence is expected to take less time (so holds stay right)."""
    text = "Keep your shoulders relaxed and breathe."
    before = speaker.duration_s(text)
    speaker.adjust(VoiceControl.FASTER)
    assert speaker.duration_s(text) < before


def test_saying_stopping_and_earcons_never_raise(speaker: Speaker) -> None:
    """Every call the loop makes is accepted in any order, including an empty sentence."""
    speaker.say("First.")
    speaker.say("", urgent=True)
    speaker.say("Urgent.", urgent=True)
    speaker.stop()
    for name in EARCON_NAMES:
        speaker.earcon(name)
    for control in VoiceControl:
        speaker.adjust(control)
    if isinstance(speaker, SpeechWorker):
        assert speaker.wait_until_quiet(QUIET_TIMEOUT_S)

