"""Synthetic users for listening tests and the benchmark: espeak-ng voices, silence and noise.

Clips are written as 16 kHz mono int16 WAVs, with silence around the speech as a person on
a mat would leave it. Noise is white noise scaled to a given SNR over the speech part.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import tomllib
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from assistant.audio import RATE_HZ, Resampler, read_wav, to_pcm16
from assistant.commands import normalize

SYNTH_TIMEOUT_S: Final = 30.0
ROOT: Final = Path(__file__).resolve().parent.parent
LEAD_S: Final = 0.5
TAIL_S: Final = 1.2

Samples = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Voice:
    """An espeak-ng voice (with variant) at a rate in words per minute."""

    name: str
    rate_wpm: int

    @property
    def label(self) -> str:
        return f"{self.name}@{self.rate_wpm}"


def synthesize(text: str, voice: Voice, folder: Path) -> Samples:
    """`text` spoken by `voice`, 16 kHz float samples; cached in `folder` by content."""
    key = hashlib.sha1(f"{voice.label}|{text}".encode()).hexdigest()[:16]
    raw = folder / f"tts-{key}.wav"
    if not raw.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = raw.with_suffix(".tmp.wav")
        subprocess.run(["espeak-ng", "-v", voice.name, "-s", str(voice.rate_wpm), "-w", str(tmp), text],
                       check=True, capture_output=True, timeout=SYNTH_TIMEOUT_S)
        tmp.replace(raw)
    info, samples = read_wav(raw)
    return Resampler(info.rate_hz)(samples)


def with_noise(speech: Samples, snr_db: float | None, seed: int) -> Samples:
    """Speech plus white noise at `snr_db` (None: clean), SNR measured over the speech."""
    if snr_db is None:
        return speech
    power = float(np.mean(speech[np.abs(speech) > 0.01] ** 2)) if np.any(np.abs(speech) > 0.01) else 1e-4
    noise = np.random.default_rng(seed).normal(0.0, np.sqrt(power / 10 ** (snr_db / 10)), len(speech))
    return (speech + noise).astype(np.float32)


def padded(speech: Samples, lead_s: float = LEAD_S, tail_s: float = TAIL_S) -> Samples:
    return np.concatenate([np.zeros(int(lead_s * RATE_HZ), np.float32), speech,
                           np.zeros(int(tail_s * RATE_HZ), np.float32)])


def write_wav(path: Path, samples: Samples) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE_HZ)
        out.writeframes(to_pcm16(samples))
    return path


@dataclass(frozen=True, slots=True)
class Clip:
    """A test recording: what was said, by whom, in how much noise, and where the speech is."""

    path: Path
    text: str
    voice: Voice
    snr_db: float | None
    speech_start_s: float
    speech_end_s: float


def make_clip(text: str, voice: Voice, folder: Path, snr_db: float | None = None) -> Clip:
    """One clip (cached): silence, the speech, silence; noise over all of it when asked."""
    tag = "clean" if snr_db is None else f"snr{snr_db:g}"
    key = hashlib.sha1(f"{voice.label}|{text}|{tag}".encode()).hexdigest()[:16]
    path = folder / f"clip-{key}.wav"
    speech = synthesize(text, voice, folder / "tts")
    voiced = np.nonzero(np.abs(speech) > 0.02)[0]
    first, last = (int(voiced[0]), int(voiced[-1])) if len(voiced) else (0, len(speech))
    if not path.exists():
        whole = padded(speech)
        seed = int(key[:8], 16)
        write_wav(path, np.clip(with_noise(whole, snr_db, seed), -1, 1).astype(np.float32))
    return Clip(path, text, voice, snr_db, LEAD_S + first / RATE_HZ, LEAD_S + last / RATE_HZ)


def routine_sentences() -> list[str]:
    """Sentences the assistant itself says (routine and cue table): speech that is not a command."""

    def strings(value: object) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for v in value.values():
                yield from strings(v)
        elif isinstance(value, list):
            for v in value:
                yield from strings(v)

    found: list[str] = []
    for source in (ROOT / "assistant/routines/lower-back.toml", ROOT / "assistant/cues.toml"):
        for text in strings(tomllib.loads(source.read_text(encoding="utf-8"))):
            text = re.sub(r"\{[a-z_]+\}", "three", text)
            if len(normalize(text).split()) >= 3 and text not in found:
                found.append(text)
    return found
