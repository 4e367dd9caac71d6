"""Inputs that are not what they seem: each is one line and exit status 2, never a hang or a traceback.

Run as a person would run them: `assistant` as a process, with a time limit that a hang would hit.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Final

import pytest

from assistant.routine import load_routine, routine_text
from assistant.voice_settings import VoiceSettings, VoiceSettingsStore

ROOT: Final = Path(__file__).parents[1]
TIMEOUT_S: Final = 60.0
GOOD_ROUTINE: Final = routine_text()[0]


def assistant(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True,
                          timeout=TIMEOUT_S, cwd=ROOT, stdin=subprocess.DEVNULL)


def one_clear_line(done: subprocess.CompletedProcess[str], *parts: str) -> None:
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    for part in parts:
        assert part in done.stderr, done.stderr


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    """A named pipe that nobody writes to: reading it would wait for ever."""
    path = tmp_path / "looks-like-a-file"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("args", [["run", "--text", "--routine", "{p}"], ["routine", "check", "{p}"],
                                  ["recognize", "{p}"], ["run", "--text", "--script", "{p}"]],
                         ids=["run-routine", "routine-check", "recognize", "script"])
def test_a_pipe_given_as_a_file_is_refused_at_once(fifo: Path, args: list[str]) -> None:
    done = assistant(*[a.replace("{p}", str(fifo)) for a in args])
    one_clear_line(done, f"{fifo} is a pipe (FIFO), not a file")


def test_a_device_or_a_folder_given_as_a_file_is_refused(tmp_path: Path) -> None:
    one_clear_line(assistant("recognize", "/dev/zero"), "/dev/zero is a device, not a file")
    one_clear_line(assistant("routine", "check", str(tmp_path)), f"{tmp_path} is a folder, not a file")


def test_a_routine_nested_a_thousand_levels_deep_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "[" * 1000 + "]" * 1000 + "\n")
    one_clear_line(assistant("routine", "check", str(path)), "nested far too deeply")


def test_a_routine_saved_with_a_byte_order_mark_works_and_check_says_so(tmp_path: Path) -> None:
    """Notepad writes a byte-order mark: the routine is read as if it were not there."""
    path = tmp_path / "notepad.toml"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD_ROUTINE.encode("utf-8"))
    assert load_routine(path).exercises == load_routine().exercises
    done = assistant("routine", "check", str(path))
    assert done.returncode == 0, done.stderr
    assert "byte-order mark, which is ignored" in done.stdout


def test_a_routine_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    lines = GOOD_ROUTINE.splitlines()
    lines[5] = lines[5] + " # Bílková"
    path.write_bytes("\n".join(lines).encode("latin-1", errors="replace"))
    one_clear_line(assistant("routine", "check", str(path)), "line 6, column", "not UTF-8", "save the file as UTF-8")


def _wav(path: Path, *, rate: int = 16_000, channels: int = 1, frames: int = 160) -> Path:
    block = 2 * channels
    raw = b"\x00" * (frames * block)
    fmt = struct.pack("<HHIIHH", 1, channels, rate, (rate * block) & 0xFFFFFFFF, block & 0xFFFF, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(raw)) + raw
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


@pytest.mark.parametrize(("header", "said"), [
    ({"frames": 0}, "it holds no sound: 0 samples"),
    ({"rate": 1}, "its header says 1 samples a second"),
    ({"rate": 4_294_967_295}, "its header says 4,294,967,295 samples a second"),
    ({"channels": 65_535, "frames": 1}, "its header says 65,535 channels"),
], ids=["no-samples", "1-hz", "4-ghz", "65535-channels"])
def test_a_wav_whose_header_cannot_be_true_is_one_line(tmp_path: Path, header: dict[str, int], said: str) -> None:
    wav = _wav(tmp_path / "odd.wav", **header)
    one_clear_line(assistant("recognize", str(wav), "--engine", "pocketsphinx"), said, "not a WAV file")


def test_a_corrupt_vosk_model_is_our_sentence_only(tmp_path: Path) -> None:
    """Kaldi's own ERROR line stays off the screen (it is there with --debug)."""
    model = tmp_path / "broken-model"
    for sub in ("am", "conf", "graph"):
        (model / sub).mkdir(parents=True)
    (model / "am" / "final.mdl").write_bytes(b"not a model" * 100)
    (model / "conf" / "model.conf").write_text("--sample-frequency=16000\n")
    wav = _wav(tmp_path / "quiet.wav")
    done = assistant("recognize", str(wav), "--engine", "vosk", "--model", str(model))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == ["Listening with Vosk: model broken-model found in --model.",
                                        f"error: The Vosk model in {model} cannot be loaded (Failed to create a "
                                        "model); delete it and run: assistant model download"], done.stderr
    debug = assistant("--debug", "recognize", str(wav), "--engine", "vosk", "--model", str(model))
    assert "VoskAPI" in debug.stderr


def test_broken_voice_settings_are_ignored_not_waited_on(tmp_path: Path) -> None:
    """The saved voice settings replaced by a pipe, or nested deep, give the defaults."""
    store = VoiceSettingsStore(tmp_path)
    os.mkfifo(store.path)
    assert store.load() == VoiceSettings()
    store.path.unlink()
    store.path.write_text("[" * 100_000 + "]" * 100_000)
    assert store.load() == VoiceSettings()


def test_a_demo_whose_output_cannot_be_written_says_so_before_it_starts(tmp_path: Path) -> None:
    """Not after three minutes of demo: at once, and nothing is played or printed first."""
    done = assistant("demo", "--out", "/proc/no-such-place/demo.wav")
    one_clear_line(done, "Cannot write /proc/no-such-place/demo.wav", "choose another --out")
    assert done.stdout == ""
