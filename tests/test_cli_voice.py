"""`assistant say`, `assistant voices` and the voice flags of `assistant run`."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from assistant.cli import _run_settings, build_parser, main


@pytest.fixture(autouse=True)
def private_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the speech cache and voice settings of these tests out of the user's home."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def test_say_with_out_writes_the_sentence_to_a_wav(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`assistant say TEXT --out FILE.wav` needs no speaker and writes playable speech."""
    out = tmp_path / "hello.wav"
    assert main(["say", "Hello from the mat.", "--out", str(out)]) == 0
    with wave.open(str(out), "rb") as w:
        assert w.getnframes() / w.getframerate() > 0.5
    assert f"Wrote {out}" in capsys.readouterr().out
    assert list((tmp_path / "cache" / "mat-coach" / "speech").glob("*.wav")), "rendered into the user's cache"


def test_voices_lists_the_english_voices(capsys: pytest.CaptureFixture[str]) -> None:
    """`assistant voices --language en` shows ids to pass to --voice."""
    assert main(["voices", "--language", "en"]) == 0
    listed = capsys.readouterr().out
    assert "en-us" in listed and "English" in listed
    assert "Vietnamese" not in listed


def test_say_on_a_speaker_that_does_not_exist_says_what_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    """One line, exit status 2, no traceback."""
    assert main(["say", "Hello.", "--output-device", "no-such-speaker"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: No speaker") and "--text" in err
    assert "Traceback" not in err


def test_an_unknown_voice_says_how_to_list_the_voices(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["say", "Hello.", "--voice", "no such voice", "--out", str(tmp_path / "x.wav")]) == 2
    assert "assistant voices" in capsys.readouterr().err


def test_run_takes_a_voice_and_can_silence_the_earcons() -> None:
    """`assistant run --voice en-us --no-earcons` reaches the run settings."""
    args = build_parser().parse_args(["run", "--voice", "en-us", "--no-earcons"])
    settings = _run_settings(args)
    assert settings.voice == "en-us" and settings.earcons is False
    assert _run_settings(build_parser().parse_args(["run"])).earcons is True
