"""PocketSphinx tuning: decoder settings, grammar weights and decoys, measured fast.

    .venv/bin/python bench/sphinx_tuning.py [--cache DIR] [--configs NAME,NAME] [--confusions]
                                            [--thresholds 0.5,0.6] [--gaps 99,0.2]
    .venv/bin/python bench/sphinx_tuning.py --configs today,chosen --thresholds 0.6 --gaps 99,0.2

The clips are cut into utterances once (the recognizer's endpointer), then every
configuration decodes the same utterances on 2 processes, and the words it heard go through
the shared rule `commands_in` at several confidence thresholds. Clips: every phrase of
grammars/en.json x 4 espeak-ng voices (not the test suite's) x clean, white noise at 10 dB and
babble (other voices reading the routine) at 10 dB; non-command speech: the routine's
sentences in 2 voices. `--gaps`: the most speech allowed outside the decoded phrase
(SphinxRecognizer's check; 99: no check). Figures, not a test.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.audio import BYTES_PER_SAMPLE, RATE_HZ, WavSource, read_wav  # noqa: E402
from assistant.commands import Grammar, load_grammar  # noqa: E402
from assistant.listening import HearingSettings, Word, commands_in, speech_outside  # noqa: E402
from tests.speech import Voice, make_clip, padded, routine_sentences, synthesize, write_wav  # noqa: E402

VOICES = [Voice("en-us", 140), Voice("en-us", 175), Voice("en", 140), Voice("en-gb-x-rp", 175)]
TALK_VOICES = [Voice("en-us", 150), Voice("en-gb-x-rp", 160)]
BABBLE_VOICES = [Voice("en-us+f2", 160), Voice("en-gb", 150), Voice("en-us+m4", 140), Voice("en+f4", 170)]
THRESHOLDS = [0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]


@dataclass
class Item:
    path: Path
    text: str
    expected: str | None
    noise: str
    audio_s: float = 0.0
    utterances: list[tuple[float, bytes]] = field(default_factory=list)


def babble(cache: Path, length: int, seed: int) -> np.ndarray:
    """Several voices reading routine sentences at once, `length` samples, unit power."""
    sentences = routine_sentences()
    rng = np.random.default_rng(seed)
    out = np.zeros(length, np.float32)
    for voice in BABBLE_VOICES:
        track = np.concatenate([synthesize(sentences[i], voice, cache / "tts")
                                for i in rng.choice(len(sentences), 4)])
        start = int(rng.integers(0, max(1, len(track) - length)))
        piece = track[start:start + length]
        out[:len(piece)] += piece
    return out / np.sqrt(np.mean(out ** 2) + 1e-12)


def babble_clip(text: str, voice: Voice, cache: Path, snr_db: float) -> Path:
    key = hashlib.sha1(f"{voice.label}|{text}|babble{snr_db:g}".encode()).hexdigest()[:16]
    path = cache / f"clip-{key}.wav"
    if not path.exists():
        speech = synthesize(text, voice, cache / "tts")
        loud = speech[np.abs(speech) > 0.01]
        power = float(np.mean(loud ** 2)) if len(loud) else 1e-4
        whole = padded(speech)
        noise = babble(cache, len(whole), int(key[:8], 16)) * np.sqrt(power / 10 ** (snr_db / 10))
        write_wav(path, np.clip(whole + noise, -1, 1).astype(np.float32))
    return path


def items(grammar: Grammar, cache: Path) -> list[Item]:
    out: list[Item] = []
    for phrase, intent in grammar.phrases.items():
        for v in VOICES:
            out.append(Item(make_clip(phrase, v, cache).path, phrase, intent.value, "clean"))
            out.append(Item(make_clip(phrase, v, cache, 10.0).path, phrase, intent.value, "white10"))
            out.append(Item(babble_clip(phrase, v, cache, 10.0), phrase, intent.value, "babble10"))
    for s in routine_sentences():
        for v in TALK_VOICES:
            out.append(Item(make_clip(s, v, cache).path, s, None, "talk"))
    return out


def cut(item: Item, window: float = 0.3, ratio: float = 0.9, max_s: float = 3.5) -> Item:
    """The endpointer's utterances (start seconds, pcm), as SphinxRecognizer cuts them."""
    import pocketsphinx as ps

    ep = ps.Endpointer(window=window, ratio=ratio, sample_rate=RATE_HZ)
    info, samples = read_wav(item.path)
    pcm = b"".join(b.pcm for b in WavSource(item.path).blocks())
    item.audio_s = len(pcm) / BYTES_PER_SAMPLE / RATE_HZ
    size = ep.frame_bytes
    pcm += b"\0" * (-len(pcm) % size)
    utts: list[tuple[float, bytes]] = []
    current = bytearray()
    start = 0.0
    in_utt = False
    for i in range(0, len(pcm), size):
        was = ep.in_speech
        speech = ep.process(pcm[i:i + size])
        if speech is None:
            continue
        if not was and not in_utt:
            start, in_utt = ep.speech_start, True
        current += speech
        if not ep.in_speech:
            utts.append((start, bytes(current)))
            current, in_utt = bytearray(), False
    if in_utt:
        last = ep.end_stream(b"\0" * size)
        if last:
            current += last
        utts.append((start, bytes(current)))
    item.utterances = [(s, u) for s, u in utts if len(u) / BYTES_PER_SAMPLE / RATE_HZ <= max_s]
    return item


# ---------------------------------------------------------------- configurations

@dataclass(frozen=True)
class Config:
    name: str
    options: dict[str, Any] = field(default_factory=dict)
    command_weight: float = 1.0
    """JSGF weight of each command phrase relative to a decoy (1: no weights)."""
    drop_decoys: tuple[str, ...] = ()
    garbage: float = 0.0
    """Weight of a loop of single phones (a garbage model) beside the phrases (0: none)."""


_DECODER: Any = None
_CONFIG: Config | None = None


def jsgf(grammar: Grammar, config: Config, known: set[str]) -> str:
    commands = [p for p in grammar.phrases if all(w in known for w in p.split())]
    decoys = [p for p in grammar.decoys if all(w in known for w in p.split()) and p not in config.drop_decoys]
    if config.command_weight == 1.0 and not config.garbage:
        alts = [*commands, *decoys]
    else:
        alts = [f"/{config.command_weight:g}/ {p}" for p in commands] + [f"/1/ {p}" for p in decoys]
    extra = ""
    if config.garbage:
        alts.append(f"/{config.garbage:g}/ <garbage>")
        extra = f"<garbage> = ({' | '.join('ph_' + p.lower() for p in PHONES)})+;\n"
    return ("#JSGF V1.0;\ngrammar commands;\npublic <utterance> = <phrase>;\n"
            f"<phrase> = {' | '.join(alts)};\n" + extra)


PHONES = ("AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH",
          "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW", "V",
          "W", "Y", "Z", "ZH")


def _decoder(config: Config) -> Any:
    global _DECODER, _CONFIG
    if config != _CONFIG:
        import pocketsphinx as ps

        options = dict(samprate=RATE_HZ, lm=None, bestpath=True, dither=True, seed=1, loglevel="FATAL")
        options.update(config.options)
        d = ps.Decoder(**options)
        grammar = load_grammar()
        known = {w for w in grammar.words() if d.lookup_word(w) is not None}
        if config.garbage:
            for i, p in enumerate(PHONES):
                d.add_word("ph_" + p.lower(), p, i == len(PHONES) - 1)
        d.add_jsgf_string("commands", jsgf(grammar, config, known))
        d.activate_search("commands")
        _DECODER, _CONFIG = d, config
    return _DECODER


def decode(args: tuple[Config, list[tuple[float, bytes]]]) -> tuple[list[list[Word]], float]:
    config, utts = args
    d = _decoder(config)
    began = time.process_time()
    out: list[list[Word]] = []
    for start, pcm in utts:
        d.start_utt()
        d.process_raw(pcm, full_utt=True)
        d.end_utt()
        out.append([Word(tok, float(s.prob), start + s.start_frame / 100, start + (s.end_frame + 1) / 100)
                    for s in d.seg() or []
                    if not s.word.startswith(("<", "[", "(")) and s.start_frame >= 0
                    for tok in s.word.split("(")[0].split()])
    return out, time.process_time() - began


@dataclass
class Result:
    config: Config
    heard: list[list[list[Word]]]
    cpu_s: float


def run(config: Config, data: list[Item], pool: Any) -> Result:
    jobs = [(config, it.utterances) for it in data]
    outs = pool.map(decode, jobs, chunksize=16)
    return Result(config, [o for o, _ in outs], sum(c for _, c in outs))


def covered(words: list[Word], start: float, pcm: bytes, max_gap_s: float) -> list[Word]:
    """The words, or none when more than `max_gap_s` of speech lies outside them (as
    SphinxRecognizer checks; 99: no check)."""
    if not words or max_gap_s >= 99:
        return words
    return words if speech_outside(words, start, pcm) <= max_gap_s else []


def score(result: Result, data: list[Item], grammar: Grammar, threshold: float,
          confusions: Counter[tuple[str, str]] | None = None, max_gap_s: float = 99.0) -> dict[str, float]:
    settings = HearingSettings(min_confidence=threshold)
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    wrong: Counter[str] = Counter()
    false = 0
    for it, utts in zip(data, result.heard, strict=True):
        kept = [covered(ws, s, u, max_gap_s) for ws, (s, u) in zip(utts, it.utterances, strict=True)]
        commands = [c for ws in kept if ws for c in commands_in(ws, grammar, settings, 0.0)]
        if it.expected is None:
            false += len(commands)
            continue
        total[it.noise] += 1
        if [c.intent.value for c in commands] == [it.expected]:
            right[it.noise] += 1
        elif commands:
            wrong[it.noise] += 1
        elif confusions is not None and it.noise == "clean":
            confusions[(it.text, " ".join(w.text for ws in utts for w in ws) or "-")] += 1
    talk_min = sum(it.audio_s for it in data if it.expected is None) / 60
    audio = sum(it.audio_s for it in data)
    out = {k: right[k] / total[k] for k in total}
    out.update({f"wrong_{k}": wrong[k] / total[k] for k in total})
    out["false"] = false
    out["false_per_min"] = false / talk_min
    out["cpu"] = result.cpu_s / audio
    return out


def line(name: str, threshold: float, s: dict[str, float]) -> str:
    return (f"| {name} | {threshold:.1f} | {s['clean']:.0%} | {s['white10']:.0%} | {s['babble10']:.0%} "
            f"| {s['wrong_clean']:.0%}/{s['wrong_white10']:.0%}/{s['wrong_babble10']:.0%} "
            f"| {s['false']:.0f} ({s['false_per_min']:.2f}/min) | {s['cpu']:.3f} |")


# Decoys that took clean commands (confusion count of nobp-silprob1e-4, --confusions).
FUNCTION_STEALERS = ("the", "so", "do", "and", "there", "we", "when", "now", "let", "lie", "out")
SOUND_STEALERS = ("pose", "star", "dawn", "plane", "white", "top", "yet", "leg", "script", "finish")


def configs(grammar: Grammar) -> list[Config]:
    nobp = {"bestpath": False}
    chosen: dict[str, Any] = {**nobp, "silprob": 1e-4, "lw": 10.0}
    return [
        Config("today"),
        # What SphinxRecognizer uses now; score it with --gaps 0.2 (its speech-outside check).
        Config("chosen", {**nobp, "silprob": 1e-4, "lw": 10.0}),
        Config("nobestpath", nobp),
        # A phone loop beside the phrases: more than 10x slower, stopped before it finished.
        Config("garbage1e-4", garbage=1e-4),
        Config("nobp-nofiller", {**nobp, "fsgusefiller": False}),
        Config("nobp-silprob1e-4", {**nobp, "silprob": 1e-4}),
        Config("nobp-silprob0.1", {**nobp, "silprob": 0.1}),
        Config("nobp-cmd-w5", nobp, command_weight=5),
        Config("nobp-cmd-w20", nobp, command_weight=20),
        Config("nobp-lw10", {**nobp, "lw": 10.0}),
        Config("nobp-lw3", {**nobp, "lw": 3.0}),
        Config("nobp-wip0.01", {**nobp, "wip": 0.01}),
        Config("nobp-pip0.1", {**nobp, "pip": 0.1}),
        Config("nobp-fillprob1e-3", {**nobp, "fillprob": 1e-3}),
        Config("nobp-wide-beams", {**nobp, "beam": 1e-60, "wbeam": 1e-40, "pbeam": 1e-60}),
        Config("nobp-nodither", {**nobp, "dither": False}),
        Config("nobp-sil-lw10", {**nobp, "silprob": 1e-4, "lw": 10.0}),
        Config("nobp-sil-prune-function", {**nobp, "silprob": 1e-4}, drop_decoys=FUNCTION_STEALERS),
        Config("nobp-sil-prune-all", {**nobp, "silprob": 1e-4}, drop_decoys=FUNCTION_STEALERS + SOUND_STEALERS),
        Config("nobp-sil-lw10-prune-all", {**nobp, "silprob": 1e-4, "lw": 10.0},
               drop_decoys=FUNCTION_STEALERS + SOUND_STEALERS),
        Config("nobp-sil-lw10-wip0.1", {**nobp, "silprob": 1e-4, "lw": 10.0, "wip": 0.1}),
        # Low power (--low-power): what each search limit saves on top of "chosen", and costs.
        Config("lp-beams-1e-30", {**chosen, "beam": 1e-30, "wbeam": 1e-20, "pbeam": 1e-30}),
        Config("lp-beams-1e-20", {**chosen, "beam": 1e-20, "wbeam": 1e-15, "pbeam": 1e-20}),
        Config("lp-maxhmmpf-3000", {**chosen, "maxhmmpf": 3000}),
        Config("lp-maxhmmpf-1000", {**chosen, "maxhmmpf": 1000}),
        Config("lp-ds2", {**chosen, "ds": 2}),
        Config("lp-topn2", {**chosen, "topn": 2}),
        Config("no-decoys", drop_decoys=tuple(grammar.decoys)),
        Config("nobp-no-decoys", nobp, drop_decoys=tuple(grammar.decoys)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=Path(".bench-cache"))
    parser.add_argument("--configs", default="")
    parser.add_argument("--thresholds", default=",".join(map(str, THRESHOLDS)))
    parser.add_argument("--confusions", action="store_true")
    parser.add_argument("--window", type=float, default=0.3)
    parser.add_argument("--ratio", type=float, default=0.9)
    parser.add_argument("--gaps", default="99")
    args = parser.parse_args()
    grammar = load_grammar()
    data = [cut(it, args.window, args.ratio) for it in items(grammar, args.cache)]
    print(f"{sum(1 for it in data if it.expected)} command clips, "
          f"{sum(1 for it in data if not it.expected)} sentences "
          f"({sum(it.audio_s for it in data if not it.expected) / 60:.1f} min)")
    chosen = configs(grammar)
    if args.configs:
        chosen = [c for c in chosen if c.name in args.configs.split(",")]
    print("| config | threshold | clean | white 10 dB | babble 10 dB | wrong c/w/b | false commands | CPU |")
    print("|---|---|---|---|---|---|---|---|")
    with multiprocessing.Pool(2) as pool:
        for config in chosen:
            result = run(config, data, pool)
            for gap, t in [(g, t) for g in map(float, args.gaps.split(","))
                           for t in map(float, args.thresholds.split(","))]:
                conf: Counter[tuple[str, str]] | None = Counter() if args.confusions and t == 0.6 else None
                name = config.name if gap >= 99 else f"{config.name} gap<={gap:g}"
                print(line(name, t, score(result, data, grammar, t, conf, gap)), flush=True)
                if conf:
                    for (said, heard), n in conf.most_common(40):
                        print(f"    {said!r} -> {heard!r} x{n}")


if __name__ == "__main__":
    main()
