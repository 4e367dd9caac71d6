"""The ear on the development set: the bundled engine as Mat Coach runs it, side by side with
plain PocketSphinx, in one run, on the voices nothing was tuned on.

    .venv/bin/python bench/devset.py                       # the clips (cached, ~15 min once)
    .venv/bin/python bench/hearing.py [--half report] [--engines plain,bundled] [--devset DIR] [--confusions]

plain: PocketSphinx's bundled model with a JSGF grammar of the command phrases, its default
settings, each clip decoded whole (what `pocketsphinx` would do with the file). bundled: what
`assistant recognize FILE --engine pocketsphinx` does. Every clip goes through the
recognizer as a stream, in blocks of 30 ms. Figures, not a test: nothing passes or fails.
`--confusions` also lists the commonest mistakes (phrase said -> phrase heard).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.audio import RATE_HZ, WavSource, read_wav, to_pcm16  # noqa: E402
from assistant.commands import Command, Intent, load_grammar  # noqa: E402
from assistant.listening import SphinxRecognizer, recognize_blocks  # noqa: E402
from bench.devset import SNRS, DevClip, load  # noqa: E402

SAFETY = ("stop", "quit", "end session", "pause", "wait", "pain", "it hurts", "that hurts", "ouch")
TARGETS = {"clean": 0.97, "floor": 0.95, "20 dB": 0.90, "10 dB": 0.75, "5 dB": 0.50}


class PlainSphinx:
    """Plain PocketSphinx: the command grammar, default settings, one decode per clip."""

    def __init__(self) -> None:
        import pocketsphinx as ps

        grammar = load_grammar()
        self.grammar = grammar
        self.decoder = ps.Decoder(samprate=RATE_HZ, lm=None, loglevel="FATAL")
        self.decoder.add_jsgf_string("commands", "#JSGF V1.0;\ngrammar commands;\npublic <u> = "
                                     + " | ".join(grammar.phrases) + ";\n")
        self.decoder.activate_search("commands")

    def hear(self, path: Path) -> list[Command]:
        _, samples = read_wav(path)
        d = self.decoder
        d.start_utt()
        d.process_raw(to_pcm16(samples), full_utt=True)
        d.end_utt()
        hyp = d.hyp()
        words = [s for s in d.seg() or [] if not s.word.startswith(("<", "[", "("))]
        if hyp is None or hyp.hypstr not in self.grammar.phrases or not words:
            return []
        end_s = (words[-1].end_frame + 1) / 100
        return [Command(self.grammar.phrases[hyp.hypstr], hyp.hypstr, 1.0, words[0].start_frame / 100,
                        end_s, len(samples) / RATE_HZ)]


def _bundled(overrides: dict[str, Any]) -> Callable[[Path], list[Command]]:
    import assistant.listening

    for name, value in overrides.items():  # --set: a choice tried on the tune half
        setattr(assistant.listening, name, value)
    recognizer = SphinxRecognizer(load_grammar())

    def hear(path: Path) -> list[Command]:
        recognizer.reset()
        return recognize_blocks(recognizer, WavSource(path).blocks())
    return hear


_ENGINE: dict[str, Callable[[Path], list[Command]]] = {}


def _hear(job: tuple[str, Path, DevClip, dict[str, Any]]) -> tuple[DevClip, list[Command], float, float]:
    engine, folder, clip, overrides = job
    if engine not in _ENGINE:
        _ENGINE[engine] = PlainSphinx().hear if engine == "plain" else _bundled(overrides)
    path = folder / clip.file
    began = time.process_time()
    heard = _ENGINE[engine](path)
    info = os.stat(path)
    return clip, heard, (info.st_size - 44) / 2 / RATE_HZ, time.process_time() - began


@dataclass
class Outcome:
    clip: DevClip
    heard: list[Command]
    audio_s: float
    cpu_s: float

    @property
    def right(self) -> bool:
        return len(self.heard) == 1 and self.heard[0].intent.value == self.clip.expected


def run(engine: str, folder: Path, clips: list[DevClip], overrides: dict[str, Any] | None = None) -> list[Outcome]:
    with multiprocessing.Pool(2) as pool:
        jobs = [(engine, folder, c, overrides or {}) for c in clips]
        return [Outcome(*r) for r in pool.imap(_hear, jobs, chunksize=8)]


def _share(group: list[Outcome]) -> float:
    return sum(o.right for o in group) / len(group) if group else float("nan")


def tables(results: dict[str, list[Outcome]]) -> None:
    engines = list(results)
    head = " | ".join(engines)
    first = results[engines[0]]
    commands = [i for i, o in enumerate(first) if o.clip.expected]
    talk = [i for i, o in enumerate(first) if not o.clip.expected and o.clip.kind != "noise"]
    noise_only = [i for i, o in enumerate(first) if o.clip.kind == "noise"]

    def row(label: str, index: list[int], target: float | None = None) -> None:
        cells = " | ".join(f"{_share([results[e][i] for i in index]):.1%}" for e in engines)
        print(f"| {label} | {len(index)} | {cells} |" + (f" ≥ {target:.0%} |" if target else " |"))

    print(f"\n### Commands heard right, by condition\n\n| condition | clips | {head} | target |")
    print("|---|---|" + "---|" * len(engines) + "---|")
    for condition in ("clean", "floor", "reverb", *(f"{s:g} dB" for s in SNRS)):
        row(condition, [i for i in commands if first[i].clip.condition == condition], TARGETS.get(condition))
    row("all", commands)
    print(f"\n### Commands in noise, by kind of noise\n\n| noise | clips | {head} |\n|---|---|"
          + "---|" * len(engines))
    for kind in sorted({first[i].clip.noise for i in commands if first[i].clip.noise}):
        row(str(kind), [i for i in commands if first[i].clip.noise == kind])
    print(f"\n### The safety words\n\n| phrase | clips | {head} |\n|---|---|" + "---|" * len(engines))
    for condition, target in (("clean", 0.99), ("10 dB", 0.85)):
        row(f"all safety words, {condition} (target ≥ {target:.0%})",
            [i for i in commands if first[i].clip.text in SAFETY and first[i].clip.condition == condition])
    for phrase in SAFETY:
        row(phrase, [i for i in commands if first[i].clip.text == phrase])
    print(f"\n### By intent (all conditions)\n\n| intent | clips | {head} |\n|---|---|" + "---|" * len(engines))
    for intent in Intent:
        index = [i for i in commands if first[i].clip.expected == intent.value]
        if index:
            row(intent.value, index)
    print(f"\n### Wrong and false commands\n\n| | {head} | target |\n|---|" + "---|" * len(engines) + "---|")
    wrongs = [sum(1 for i in commands if results[e][i].heard and not results[e][i].right) for e in engines]
    wrong = " | ".join(f"{w / len(commands):.1%}" for w in wrongs)
    print(f"| wrong command (of {len(commands)} command clips) | {wrong} | ≤ 2% |")
    for kind in ("coach", "talk", "embedded", "short", "all"):
        index = [i for i in talk if kind in ("all", first[i].clip.kind)]
        mins = sum(first[i].audio_s for i in index) / 60
        cells = " | ".join(f"{sum(len(results[e][i].heard) for i in index) / mins:.2f}" for e in engines)
        print(f"| false commands per minute, {kind} ({len(index)} clips, {mins:.1f} min) | {cells} | "
              + ("≤ 0.3 |" if kind == "all" else "|"))
    noise_s = sum(first[i].audio_s for i in noise_only) / 60
    cells = " | ".join(str(sum(len(results[e][i].heard) for i in noise_only)) for e in engines)
    print(f"| false commands on noise alone ({noise_s:.0f} min) | {cells} | 0 |")
    print(f"\n### Cost and speed\n\n| | {head} | target |\n|---|" + "---|" * len(engines) + "---|")
    audio = sum(o.audio_s for o in first)
    cells = " | ".join(f"{sum(o.cpu_s for o in results[e]) / audio:.4f}" for e in engines)
    print(f"| CPU s per s of audio ({audio / 60:.0f} min) | {cells} | ≤ 0.03 |")
    latency: list[str] = []
    for e in engines:
        gaps = [results[e][i].heard[0].emitted_s - first[i].clip.speech_end_s for i in commands if results[e][i].right]
        latency.append(f"{statistics.median(gaps):.2f}" if gaps else "-")
    print(f"| end of phrase to command, median s of stream | {' | '.join(latency)} | ≤ 0.35 |")
    print(f"\n{sum(1 for e in engines)} engines; 'plain' decodes a whole clip at its end, so its latency "
          "is the clip's tail, not a figure to compare.")


def second_opinion_cost(folder: Path, clips: list[DevClip], n: int = 200) -> None:
    """The second opinion's time per utterance (it runs when an utterance ends, so it adds to
    the wall-clock latency, which the stream-time figure above does not count), beside
    PocketSphinx decoding the same command clip whole, in the same process and run."""
    from assistant.verifier import CONTEXT_BYTES, Verifier

    verifier = Verifier()
    decoder = PlainSphinx().decoder

    def decode(pcm: bytes) -> None:
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()

    chosen = [c for c in clips if c.expected and c.condition == "floor"][:n]
    timing: dict[str, list[tuple[float, float]]] = {"second opinion": [], "PocketSphinx decode": []}
    for clip in chosen:
        _, samples = read_wav(folder / clip.file)
        pcm = to_pcm16(samples)
        end = int(min(clip.speech_end_s + 0.3, len(samples) / RATE_HZ) * RATE_HZ) * 2
        for name in timing:
            wall, cpu = time.perf_counter(), time.process_time()
            if name == "second opinion":
                verifier.hear(pcm[max(0, end - CONTEXT_BYTES):end])
            else:
                decode(pcm)
            timing[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    print(f"\n### The second opinion's cost ({len(chosen)} command clips over the floor)\n")
    print("| per utterance, median | wall ms | CPU ms |\n|---|---|---|")
    for name, values in timing.items():
        print(f"| {name} | {statistics.median(v[0] for v in values) * 1000:.0f} | "
              f"{statistics.median(v[1] for v in values) * 1000:.0f} |")


def confusions(results: dict[str, list[Outcome]]) -> None:
    """The commonest mistakes of each engine: phrase said (or kind of talk) -> phrase heard."""
    from collections import Counter

    for engine, outcomes in results.items():
        missed = Counter(o.clip.text for o in outcomes if o.clip.expected and not o.heard)
        wrong = Counter((o.clip.text, c.phrase) for o in outcomes if o.clip.expected and not o.right
                        for c in o.heard)
        false = Counter((o.clip.kind, c.phrase) for o in outcomes if not o.clip.expected for c in o.heard)
        print(f"\n### {engine}: the commonest mistakes\n")
        print("missed: " + ", ".join(f"{t} {n}" for t, n in missed.most_common(20)))
        print("wrong: " + ", ".join(f"{t} -> {h} {n}" for (t, h), n in wrong.most_common(30)))
        print("false: " + ", ".join(f"{k}: {h} {n}" for (k, h), n in false.most_common(30)))


def _setting(text: str) -> float | tuple[float, ...] | None:
    """A --set value: a number, numbers with commas (a tuple: "1.0," is one), or None."""
    if text == "None":
        return None
    if "," in text:
        return tuple(float(x) for x in text.split(",") if x)
    return float(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devset", type=Path, default=Path(".bench-cache/devset"))
    parser.add_argument("--half", default="report", choices=["tune", "report"])
    parser.add_argument("--engines", default="plain,bundled")
    parser.add_argument("--voices", default="", help="only these voices (comma-separated labels)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="bundled: try another value of a constant of assistant/listening.py (tune half!); "
                        "a value with commas is a tuple, None is None")
    parser.add_argument("--confusions", action="store_true", help="also list the commonest mistakes")
    args = parser.parse_args()
    clips = [c for c in load(args.devset) if c.half == args.half
             and (not args.voices or c.voice in args.voices.split(",") or c.kind == "noise")]
    voices = sorted({c.voice for c in clips if c.voice != "none"})
    print(f"## The ear on the {args.half} half: {', '.join(voices)}\n\n{len(clips)} clips; "
          f"measured on {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}")
    results: dict[str, Any] = {}
    for engine in args.engines.split(","):
        began = time.monotonic()
        overrides = {k: _setting(v) for k, v in (item.split("=", 1) for item in args.set)}
        results[engine] = run(engine, args.devset, clips, overrides)
        print(f"{engine}: {time.monotonic() - began:.0f} s", file=sys.stderr)
    tables(results)
    if "bundled" in results:
        second_opinion_cost(args.devset, clips)
    if args.confusions:
        confusions(results)


if __name__ == "__main__":
    main()
