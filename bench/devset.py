"""The development set: every command phrase and the speech that is not a command, spoken by
voices that are not only espeak-ng, in the rooms and noises a mat is in.

    .venv/bin/python bench/devset.py [--out .bench-cache/devset] [--quick]

Writes one WAV per clip and `manifest.jsonl` (one JSON line per clip: file, text, expected
intent or "nothing", voice, half, rate, condition, noise, kind, speech_start_s, speech_end_s), so
that `assistant recognize DIR` and bench/hearing.py can score the folder. Deterministic: the
same command makes the same audio (synthesis is cached under the folder's tts/, and Piper's
random choices are seeded per phrase, tests/voices.py; a set made before 2026-12-08 drew them
unseeded, so made again its Piper clips differ).

Voices are split in two halves: choices are made on `tune`, figures are reported on
`report` (docs/listening.md, "How the ear was chosen"). Nothing of what the project's
independent evaluation keeps for itself is used here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.audio import RATE_HZ  # noqa: E402
from assistant.commands import load_grammar  # noqa: E402
from tests.speech import Samples, routine_sentences, write_wav  # noqa: E402
from tests.voices import FLOOR_DB, RATES, VOICES, DevVoice, speak  # noqa: E402

LEAD_S: Final = 0.6
TAIL_S: Final = 1.0
SNRS: Final = (20.0, 10.0, 5.0)
NOISES: Final = ("fan", "babble", "music", "machine")


BABBLE_VOICES: Final = ("en-us+m1", "en-gb+f1", "en-us-nyc+m6", "en-029+f5", "en+m7", "en-gb-x-gbclan+f3")
"""Voices of the people talking in the background: none of them speaks a command clip."""

EVERYDAY: Final = (
    "I think it might rain later this afternoon.",
    "Did you remember to buy milk on the way home?",
    "The kettle has just boiled, do you want some tea?",
    "My sister is coming round for dinner on Sunday.",
    "Have you seen my glasses anywhere?",
    "The bus was twenty minutes late again this morning.",
    "We should plant some tomatoes in the garden this year.",
    "Turn the radio down a little, would you?",
    "I finally finished that book about the lighthouse.",
    "The cat has been sleeping on the sofa all day.",
    "What would you like for breakfast tomorrow?",
    "The neighbours are painting their fence blue.",
    "I need to call the dentist about my appointment.",
    "It is much colder today than it was yesterday.",
    "Could you pass me the blanket from the chair?",
    "The children are playing football in the park.",
    "I left my keys in the car again.",
    "This soup needs a little more salt.",
    "The train to the city leaves at half past eight.",
    "Let me know when you are ready to go out.",
)
WITH_COMMAND_WORDS: Final = (
    "Do not stop breathing while you hold it.",
    "I will be done with the dishes in a minute.",
    "Next time I will bring a bottle of water.",
    "Can you help me carry the shopping later?",
    "It does not hurt as much as it did last week.",
    "Wait until the kettle has boiled before you pour.",
    "I want to go back to the shop before it closes.",
    "Could you say that joke again for grandma?",
    "We can skip the dessert tonight.",
    "The music is a bit louder than I would like.",
    "How long does it take to walk to the station?",
    "Yes, I told him no twice already.",
    "The film was finished by the time I got home.",
    "Please pause the television when the phone rings.",
    "Let's start the washing before we leave.",
    "She asked how I am doing with the new job.",
    "My back is fine, there is no pain at all today.",
    "Carry on down the road and turn left at the church.",
)
SHORT_WORDS: Final = ("okay", "hmm", "right", "sure", "hello", "well", "maybe", "good", "fine",
                      "sorry", "alright", "oh", "hey", "thanks", "what", "lovely", "nice", "cool",
                      "gosh", "really")


# ------------------------------------------------------------------ noise and rooms

def _colored(rng: np.random.Generator, n: int, slope: float) -> Samples:
    """Noise whose power falls by `slope` (1: pink, 2: brown) per octave doubling of frequency."""
    spectrum = np.fft.rfft(rng.normal(size=n))
    f = np.fft.rfftfreq(n, 1 / RATE_HZ)
    spectrum[1:] /= f[1:] ** (slope / 2)
    spectrum[0] = 0
    return np.fft.irfft(spectrum, n).astype(np.float32)


def _unit(x: Samples) -> Samples:
    return (x / (np.sqrt(np.mean(x ** 2)) + 1e-12)).astype(np.float32)


def fan(rng: np.random.Generator, n: int) -> Samples:
    """A fan: pink rush, the blade tone and its harmonics, a slow wobble."""
    t = np.arange(n) / RATE_HZ
    blade = float(rng.uniform(80, 140))
    tone = sum(np.sin(2 * np.pi * blade * k * t + rng.uniform(0, 6)) / k for k in range(1, 5))
    wobble = 1 + 0.15 * np.sin(2 * np.pi * rng.uniform(0.2, 0.6) * t)
    return _unit((_unit(_colored(rng, n, 1.0)) + 0.3 * _unit(tone)) * wobble)


def machine(rng: np.random.Generator, n: int) -> Samples:
    """A washing machine or a vacuum: a motor whine, brown rumble, a drum that thumps."""
    t = np.arange(n) / RATE_HZ
    motor = float(rng.uniform(150, 400))
    whine = sum(np.sin(2 * np.pi * motor * k * t) / k ** 1.5 for k in range(1, 8))
    thump_rate = float(rng.uniform(0.8, 1.5))
    thumps = np.maximum(0, np.sin(2 * np.pi * thump_rate * t)) ** 8
    rumble = _unit(_colored(rng, n, 2.0))
    return _unit(0.6 * _unit(whine) + rumble * (0.5 + thumps) + 0.3 * _unit(_colored(rng, n, 0.5)))


def music(rng: np.random.Generator, n: int) -> Samples:
    """Music: a chord progression with a plucked melody and a beat."""
    t = np.arange(n) / RATE_HZ
    out = np.zeros(n, np.float32)
    beat = 60 / float(rng.uniform(80, 130))
    roots = rng.choice([196.0, 220.0, 261.6, 293.7, 329.6], 8)
    for i, start in enumerate(np.arange(0, n / RATE_HZ, beat * 4)):
        chord = roots[i % len(roots)] * np.array([1, 1.26, 1.5])
        seg = (t >= start) & (t < start + beat * 4)
        for f in chord:
            out[seg] += 0.3 * np.sin(2 * np.pi * f * t[seg]) * np.exp(-(t[seg] - start) * 0.5)
    for start in np.arange(0, n / RATE_HZ, beat / 2):
        f = float(rng.choice([392, 440, 523.3, 587.3, 659.3, 784]))
        seg = (t >= start) & (t < start + beat / 2)
        env = np.exp(-(t[seg] - start) * 6)
        out[seg] += env * (np.sin(2 * np.pi * f * t[seg]) + 0.3 * np.sin(4 * np.pi * f * t[seg]))
    for start in np.arange(0, n / RATE_HZ, beat):
        i = int(start * RATE_HZ)
        k = min(n - i, 1600)
        out[i:i + k] += rng.normal(size=k).astype(np.float32) * np.exp(-np.arange(k) / 300) * 0.8
    return _unit(out)


def babble(rng: np.random.Generator, n: int, folder: Path) -> Samples:
    """Several people talking at once, none of them saying a command on its own."""
    out = np.zeros(n, np.float32)
    lines = [*EVERYDAY, *routine_sentences()]
    for name in BABBLE_VOICES[:4 + int(rng.integers(0, 3))]:
        track: list[Samples] = []
        while sum(len(x) for x in track) < n + RATE_HZ:
            track.append(speak(lines[int(rng.integers(0, len(lines)))], name, "normal", folder))
            track.append(np.zeros(int(rng.uniform(0.05, 0.3) * RATE_HZ), np.float32))
        whole = np.concatenate(track)
        start = int(rng.integers(0, len(whole) - n))
        out += whole[start:start + n]
    return _unit(out)


def noise(kind: str, n: int, seed: int, folder: Path) -> Samples:
    rng = np.random.default_rng(seed)
    if kind == "babble":
        return babble(rng, n, folder)
    return {"fan": fan, "music": music, "machine": machine}[kind](rng, n)


def room_response(seed: int, rt60_s: float = 0.6) -> Samples:
    """A living room's impulse response: the direct sound, early reflections, a decaying tail."""
    rng = np.random.default_rng(seed)
    n = int(rt60_s * RATE_HZ)
    t = np.arange(n) / RATE_HZ
    tail = rng.normal(size=n) * 10 ** (-3 * t / rt60_s) * 0.25
    tail[:int(0.005 * RATE_HZ)] = 0
    ir = tail.astype(np.float32)
    ir[0] = 1.0
    for delay in rng.uniform(0.003, 0.03, 6):
        ir[int(delay * RATE_HZ)] += float(rng.uniform(-0.5, 0.5))
    return ir / np.sqrt(np.sum(ir ** 2))


def reverberant(speech: Samples, seed: int) -> Samples:
    ir = room_response(seed)
    size = 1 << int(np.ceil(np.log2(len(speech) + len(ir))))
    wet = np.fft.irfft(np.fft.rfft(speech, size) * np.fft.rfft(ir, size), size)[:len(speech) + len(ir)]
    return wet.astype(np.float32)


# ------------------------------------------------------------------ clips

@dataclass(frozen=True, slots=True)
class DevClip:
    file: str
    text: str
    expected: str | None
    voice: str
    half: str
    rate: str
    condition: str
    noise: str | None
    kind: str
    speech_start_s: float
    speech_end_s: float


def mix(speech: Samples, condition: str, noise_kind: str | None, seed: int, folder: Path,
        lead_s: float = LEAD_S, tail_s: float = TAIL_S) -> tuple[Samples, float, float]:
    """Speech placed in silence, then in its room and noise; returns samples, speech start and end."""
    dry_s = len(speech) / RATE_HZ  # the room's echo goes on after the person has stopped
    if condition == "reverb":
        speech = reverberant(speech, seed)
    lead, tail = int(lead_s * RATE_HZ), int(tail_s * RATE_HZ)
    whole = np.concatenate([np.zeros(lead, np.float32), speech, np.zeros(tail, np.float32)])
    level = 0.1  # the speech's rms, as speak() sets it
    rng = np.random.default_rng(seed)
    if condition != "clean":
        whole = whole + rng.normal(0, level * 10 ** (FLOOR_DB / 20), len(whole)).astype(np.float32)
    if noise_kind is not None:
        snr = float(condition.removesuffix(" dB"))
        whole = whole + noise(noise_kind, len(whole), seed, folder) * level * 10 ** (-snr / 20)
    peak = float(np.max(np.abs(whole)))
    if peak > 0.99:
        whole = whole * (0.99 / peak)
    return whole.astype(np.float32), lead_s, lead_s + dry_s


def _seed(*parts: object) -> int:
    return int(hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:8], 16)


def plan(quick: bool = False) -> Iterator[tuple[str, str | None, DevVoice, str, str, str | None, str]]:
    """(text, expected, voice, rate, condition, noise, kind) of every clip of the set."""
    grammar = load_grammar()
    phrases = sorted(grammar.phrases.items())
    rates = ["normal"] if quick else list(RATES)
    for voice in VOICES:
        for i, (phrase, intent) in enumerate(phrases):
            for rate in rates:
                for condition in ("clean", "floor", "reverb"):
                    yield phrase, intent.value, voice, rate, condition, None, "command"
            for j, snr in enumerate(SNRS):
                rate = rates[(i + j) % len(rates)]
                yield phrase, intent.value, voice, rate, f"{snr:g} dB", NOISES[(i + j) % len(NOISES)], "command"
        talk = [("coach", s) for s in routine_sentences()] + [("talk", s) for s in EVERYDAY] + \
               [("embedded", s) for s in WITH_COMMAND_WORDS] + [("short", s) for s in SHORT_WORDS]
        for i, (kind, text) in enumerate(talk):
            condition = ("floor", "reverb", "10 dB")[i % 3]
            noise_kind = NOISES[i % len(NOISES)] if condition == "10 dB" else None
            yield text, None, voice, rates[i % len(rates)], condition, noise_kind, kind


def build(out: Path, quick: bool = False) -> list[DevClip]:
    out.mkdir(parents=True, exist_ok=True)
    clips: list[DevClip] = []
    for text, expected, voice, rate, condition, noise_kind, kind in plan(quick):
        seed = _seed(text, voice.label, rate, condition, noise_kind)
        name = f"{voice.label}-{kind}-{seed:08x}.wav"
        speech = speak(text, voice, rate, out)
        path = out / name
        samples, start, end = mix(speech, condition, noise_kind, seed, out)
        if not path.exists():
            write_wav(path, samples)
        clips.append(DevClip(name, text, expected, voice.label, voice.half, rate, condition,
                             noise_kind, kind, round(start, 3), round(end, 3)))
    for half in ("tune", "report"):
        for kind in NOISES:
            name = f"noise-{kind}-{half}.wav"
            seed = _seed("noise", kind, half)
            samples = noise(kind, 30 * RATE_HZ, seed, out) * 0.1 * 10 ** (-10 / 20)
            samples = samples + np.random.default_rng(seed).normal(0, 0.1 * 10 ** (FLOOR_DB / 20),
                                                                    len(samples)).astype(np.float32)
            if not (out / name).exists():
                write_wav(out / name, samples.astype(np.float32))
            clips.append(DevClip(name, "", None, "none", half, "-", "10 dB", kind, "noise", 0.0, 0.0))
    with open(out / "manifest.jsonl", "w", encoding="utf-8") as manifest:
        for clip in clips:  # "nothing": what `assistant recognize DIR` takes for "no command here"
            manifest.write(json.dumps({**asdict(clip), "expected": clip.expected or "nothing"}) + "\n")
    return clips


def load(folder: Path) -> list[DevClip]:
    with open(folder / "manifest.jsonl", encoding="utf-8") as manifest:
        lines = [json.loads(line) for line in manifest]
    return [DevClip(**{**line, "expected": None if line["expected"] == "nothing" else line["expected"]})
            for line in lines]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(".bench-cache/devset"))
    parser.add_argument("--quick", action="store_true", help="normal rate only")
    args = parser.parse_args()
    clips = build(args.out, args.quick)
    for half in ("tune", "report"):
        mine = [c for c in clips if c.half == half]
        print(f"{half}: {sum(1 for c in mine if c.expected)} command clips, "
              f"{sum(1 for c in mine if not c.expected)} others")
    print(f"Written to {args.out}/ (manifest.jsonl)")


if __name__ == "__main__":
    main()
