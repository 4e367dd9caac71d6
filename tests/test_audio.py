"""Audio sources: any common WAV becomes 16 kHz mono blocks; bad files and no microphone are one sentence."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.audio import RATE_HZ, AudioBlock, Resampler, WavSource, from_pcm16
from assistant.errors import WavFormatError

ONE_SECOND = 1.0


def _tone(rate: int, seconds: float, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return 0.5 * np.sin(2 * np.pi * hz * t)


def _write(path: Path, samples: np.ndarray, rate: int, channels: int, fmt: str) -> Path:
    """A WAV in one of the formats recorders write: pcm8, pcm16, pcm24, pcm32, float32."""
    frames = np.repeat(samples[:, None], channels, axis=1).reshape(-1)
    if fmt == "pcm8":
        raw, bits, tag = (frames * 127 + 128).astype(np.uint8).tobytes(), 8, 1
    elif fmt == "pcm16":
        raw, bits, tag = (frames * 32767).astype("<i2").tobytes(), 16, 1
    elif fmt == "pcm24":
        ints = (frames * (2**23 - 1)).astype("<i4")
        raw, bits, tag = b"".join(int(v).to_bytes(3, "little", signed=True) for v in ints), 24, 1
    elif fmt == "pcm32":
        raw, bits, tag = (frames * (2**31 - 1)).astype("<i4").tobytes(), 32, 1
    else:
        raw, bits, tag = frames.astype("<f4").tobytes(), 32, 3
    block = channels * bits // 8
    fmt_chunk = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt_chunk + b"data" + struct.pack("<I", len(raw)) + raw
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def _peak_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / RATE_HZ)[int(np.argmax(spectrum))])


@pytest.mark.parametrize(("rate", "channels", "fmt"), [
    (16000, 1, "pcm16"), (44100, 2, "pcm16"), (48000, 1, "float32"), (22050, 2, "pcm24"),
    (8000, 1, "pcm8"), (32000, 2, "pcm32"),
])
def test_a_recording_in_any_common_format_becomes_16_khz_mono(tmp_path: Path, rate: int, channels: int,
                                                              fmt: str) -> None:
    """Phones and editors write many formats; the recognizer always gets 16 kHz mono int16 blocks."""
    wav = _write(tmp_path / "tone.wav", _tone(rate, ONE_SECOND), rate, channels, fmt)
    source = WavSource(wav)
    blocks = list(source.blocks())
    samples = from_pcm16(b"".join(b.pcm for b in blocks))
    assert abs(len(samples) - RATE_HZ) <= 2, "one second stays one second"
    assert abs(_peak_hz(samples) - 440) < 5, "the pitch is kept"
    assert 0.3 < float(np.max(np.abs(samples[1000:-1000]))) < 0.6, "the level is kept"
    assert [b.start_s for b in blocks[:3]] == pytest.approx([0.0, 0.1, 0.2])
    assert all(isinstance(b, AudioBlock) for b in blocks)


def test_resampling_block_by_block_matches_resampling_at_once() -> None:
    """A microphone stream is converted in pieces with no clicks or drift at the block edges."""
    signal = _tone(48000, 2 * ONE_SECOND).astype(np.float32)
    whole = Resampler(48000)(signal)
    streaming = Resampler(48000)
    pieces = np.concatenate([streaming(signal[i:i + 4800]) for i in range(0, len(signal), 4800)])
    assert abs(len(pieces) - len(whole)) <= 1
    n = min(len(pieces), len(whole))
    assert float(np.max(np.abs(pieces[:n] - whole[:n]))) < 1e-4


def test_a_file_that_is_not_audio_gets_one_clear_sentence(tmp_path: Path) -> None:
    """A text file passed as a WAV is named, and the message says how to convert it."""
    bad = tmp_path / "notes.wav"
    bad.write_text("these are my notes\n")
    with pytest.raises(WavFormatError) as err:
        WavSource(bad)
    assert "notes.wav" in err.value.message and "sox" in err.value.message
    assert "\n" not in err.value.message


def test_a_compressed_wav_is_refused_with_the_reason(tmp_path: Path) -> None:
    """A WAV with an encoding we cannot decode (here A-law) is named, not misread as noise."""
    wav = _write(tmp_path / "alaw.wav", _tone(8000, 0.2), 8000, 1, "pcm8")
    data = bytearray(wav.read_bytes())
    data[20:22] = struct.pack("<H", 6)  # format tag 6: A-law
    wav.write_bytes(bytes(data))
    with pytest.raises(WavFormatError, match="encoding 6"):
        WavSource(wav)


def test_a_missing_file_says_to_check_the_path(tmp_path: Path) -> None:
    with pytest.raises(WavFormatError, match="check the path"):
        WavSource(tmp_path / "nowhere.wav")


def test_no_microphone_is_one_sentence_that_suggests_text_mode(tmp_path: Path) -> None:
    """With no sound hardware (PortAudio lists nothing) the user is told to use --text."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE")}
    env["XDG_RUNTIME_DIR"] = str(tmp_path)  # no sound server here
    code = ("from assistant.audio import MicSource\n"
            "from assistant.errors import AudioDeviceError\n"
            "try:\n    MicSource()\nexcept AudioDeviceError as e:\n    print(e.message)\n")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
                          check=True)
    assert "No microphone found" in done.stdout and "assistant run --text" in done.stdout
