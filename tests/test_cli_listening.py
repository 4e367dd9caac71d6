"""`assistant recognize` and `assistant devices`, the way other tools and users call them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assistant.audio import RATE_HZ
from assistant.cli import main
from tests.room import Room
from tests.speech import Voice, make_clip, synthesize, write_wav

KEYS = ["intent", "phrase", "confidence", "start_s", "end_s", "emitted_s"]


def test_recognize_json_prints_one_object_per_command(speech_dir: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Two commands in a file: two JSON lines with exactly the documented keys, in stream order."""
    voice = Voice("en-us+f3", 150)
    gap = np.zeros(2 * RATE_HZ, np.float32)
    speech = [synthesize(p, voice, speech_dir / "tts") for p in ("say that again", "skip exercise")]
    wav = write_wav(tmp_path / "two.wav", np.concatenate([gap, speech[0], gap, speech[1], gap]))
    assert main(["recognize", str(wav), "--engine", "pocketsphinx", "--json"]) == 0
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert [list(line) for line in lines] == [KEYS, KEYS]
    assert [(line["intent"], line["phrase"]) for line in lines] == [("repeat", "say that again"),
                                                                     ("skip", "skip exercise")]
    assert lines[0]["start_s"] == pytest.approx(2.0, abs=0.3)
    assert lines[0]["end_s"] <= lines[0]["emitted_s"] < lines[1]["start_s"]
    assert err.strip() == "Listening with PocketSphinx, as asked (--engine pocketsphinx)."


def test_recognize_without_json_is_readable(speech_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """Without a Vosk model anywhere, auto says so in one line and uses PocketSphinx."""
    monkeypatch.chdir(tmp_path)  # no ./models here
    clip = make_clip("skip exercise", Voice("en-us+f3", 150), speech_dir)
    assert main(["recognize", str(clip.path)]) == 0
    out, err = capsys.readouterr()
    assert "skip" in out and "'skip exercise'" in out
    assert err.startswith("Listening with PocketSphinx: no Vosk model found")


def test_recognize_a_file_that_is_not_audio_exits_2_with_one_line(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "photo.wav"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    assert main(["recognize", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "photo.wav" in err and "Traceback" not in err


@pytest.mark.audio
def test_devices_lists_the_room_as_microphone_and_speaker(room: Room, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    microphones, speakers = out.split("Speakers")
    assert "pulse" in microphones and "pulse" in speakers
