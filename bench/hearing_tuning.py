"""How the ear's rejection was chosen: features of every utterance of the development set, and
the thresholds swept on the `tune` half only.

    .venv/bin/python bench/devset.py                  # the clips (cached)
    .venv/bin/python bench/hearing_tuning.py [--devset DIR] [--half tune] [--front none|webrtc:0:2]

Each clip is cut into utterances by the recognizer's own endpointer; every utterance is
decoded once against the command grammar (bestpath off, otherwise PocketSphinx's defaults)
and once by the free phone loop (allphone search); the features are cached per half and
front end. The sweep then prints, for each most phones the phone loop may find (times the
phrase's own) and each least word posterior, how many commands stay heard and how many false
commands remain per minute of non-command speech. Figures, not a test.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import pickle
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.audio import RATE_HZ, read_wav, to_pcm16  # noqa: E402
from assistant.commands import load_grammar  # noqa: E402
from bench.devset import DevClip, load  # noqa: E402

LOG_BASE = math.log(1.0001)
SAFETY = {"stop", "quit", "end session", "pause", "wait", "pain", "it hurts", "that hurts", "ouch"}


@dataclass
class Decoded:
    text: str
    score: float
    """Total path score (log base 1.0001, as PocketSphinx counts), relative to the best senone of each frame."""
    words: list[tuple[str, float, int, int]]
    """(word, posterior, first frame, last frame)."""


@dataclass
class Utterance:
    start_s: float
    end_s: float
    frames: int
    decodings: dict[str, Decoded] = field(default_factory=dict)


@dataclass
class Features:
    clip: DevClip
    audio_s: float
    utterances: list[Utterance]


_DECODER: Any = None


def _decoder() -> Any:
    global _DECODER
    if _DECODER is None:
        import os

        import pocketsphinx as ps

        grammar = load_grammar()
        d = ps.Decoder(samprate=RATE_HZ, lm=None, loglevel="FATAL", dither=True, seed=1, bestpath=False)
        commands = " | ".join(grammar.phrases)
        decoys = " | ".join(p for p in grammar.decoys if all(d.lookup_word(w) for w in p.split()))
        d.add_jsgf_string("commands", f"#JSGF V1.0;\ngrammar c;\npublic <u> = {commands};\n")
        d.add_jsgf_string("decoys", f"#JSGF V1.0;\ngrammar c;\npublic <u> = {commands} | {decoys};\n")
        d.add_allphone_file("phones", os.path.join(ps.get_model_path(), "en-us", "en-us-phone.lm.bin"))
        _DECODER = d
    return _DECODER


def _decode(pcm: bytes, search: str) -> Decoded:
    d = _decoder()
    d.activate_search(search)
    d.start_utt()
    d.process_raw(pcm, full_utt=True)
    d.end_utt()
    hyp = d.hyp()
    if hyp is None:
        return Decoded("", -1e9, [])
    words = [(s.word, float(s.prob), s.start_frame, s.end_frame) for s in d.seg()]
    score = math.log(hyp.score) / LOG_BASE if hyp.score > 0 else -1e9
    return Decoded(hyp.hypstr, score, words)


def features(args: tuple[Path, DevClip]) -> Features:
    import pocketsphinx as ps

    folder, clip, front = args
    _, samples = read_wav(folder / clip.file)
    pcm = _front_end(to_pcm16(samples), front)
    ep = ps.Endpointer(window=0.3, ratio=0.9, sample_rate=RATE_HZ)
    size = ep.frame_bytes
    utterances: list[tuple[float, float, bytes]] = []
    speech = bytearray()
    start = 0.0
    for i in range(0, len(pcm) - size + 1, size):
        was = ep.in_speech
        out = ep.process(pcm[i:i + size])
        if out is None:
            continue
        if not was:
            start, speech = ep.speech_start, bytearray()
        speech += out
        if not ep.in_speech:
            utterances.append((start, ep.speech_end, bytes(speech)))
    if ep.in_speech:
        speech += ep.end_stream(b"\0" * size) or b""
        utterances.append((start, len(pcm) / 2 / RATE_HZ, bytes(speech)))
    found: list[Utterance] = []
    for start, end, speech_pcm in utterances:
        utt = Utterance(start, end, len(speech_pcm) // 320)
        if len(speech_pcm) / 2 / RATE_HZ <= 3.5:
            for search in ("commands", "phones"):
                utt.decodings[search] = _decode(speech_pcm, search)
        found.append(utt)
    return Features(clip, len(pcm) / 2 / RATE_HZ, found)


def _front_end(pcm: bytes, front: str) -> bytes:
    """none, or webrtc:GAIN:LEVEL (webrtc-noise-gain's auto gain in dBFS, noise suppression 0-4)."""
    if front == "none":
        return pcm
    from webrtc_noise_gain import AudioProcessor

    _, gain, level = front.split(":")
    processor = AudioProcessor(int(gain), int(level))
    return b"".join(processor.Process10ms(pcm[i:i + 320]).audio for i in range(0, len(pcm) - 319, 320))


def extract(folder: Path, half: str, front: str = "none") -> list[Features]:
    cache = folder / f"features-{half}-{front.replace(':', '_')}.pickle"
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    clips = [c for c in load(folder) if c.half == half]
    with multiprocessing.Pool(2) as pool:
        out = pool.map(features, [(folder, c, front) for c in clips], chunksize=16)
    cache.write_bytes(pickle.dumps(out))
    return out


_PHONES: dict[str, int] = {}


def _phones_of(phrase: str) -> int:
    if not _PHONES:
        import pocketsphinx as ps

        d = ps.Decoder(samprate=RATE_HZ, lm=None, loglevel="FATAL")
        _PHONES.update({p: sum(len(d.lookup_word(w).split()) for w in p.split()) for p in load_grammar().phrases})
    return _PHONES[phrase]


def verdict(utt: Utterance, search: str, max_phones: float, min_posterior: float,
            max_s: float = 2.0) -> str | None:
    """The phrase an utterance is taken for, or None when rejected."""
    if search not in utt.decodings:
        return None
    words = [w for w in utt.decodings[search].words if not w[0].startswith(("<", "[", "("))]
    if not words:
        return None
    phrase = " ".join(w[0].split("(")[0] for w in words)
    if phrase not in load_grammar().phrases or (words[-1][3] - words[0][2]) / 100 > max_s:
        return None
    phones = sum(1 for w in utt.decodings["phones"].words
                 if w[0] not in ("SIL", "<s>", "</s>", "(NULL)") and not w[0].startswith("+"))
    if phones > max_phones * _phones_of(phrase) or min(w[1] for w in words) < min_posterior:
        return None
    return phrase


def sweep(feats: list[Features], search: str, ratios: list[float], posteriors: list[float]) -> None:
    grammar = load_grammar()
    commands = [f for f in feats if f.clip.expected]
    talk = [f for f in feats if not f.clip.expected]
    minutes = sum(f.audio_s for f in talk if f.clip.kind != "noise") / 60
    print(f"\n### search: {search} ({len(commands)} command clips, {minutes:.1f} min of other speech)\n")
    print("| most phones | min posterior | heard right | clean | 10 dB | safety | wrong | false/min | on noise |")
    print("|---|---|---|---|---|---|---|---|---|")
    for ratio in ratios:
        for posterior in posteriors:
            right = wrong = 0
            per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
            for f in commands:
                heard = [p for u in f.utterances if (p := verdict(u, search, ratio, posterior))]
                ok = len(heard) == 1 and grammar.phrases[heard[0]].value == f.clip.expected
                right += ok
                wrong += bool(heard) and not ok
                for key in (f.clip.condition, "safety" if f.clip.text in SAFETY else ""):
                    per[key][0] += ok
                    per[key][1] += 1
            false = sum(1 for f in talk if f.clip.kind != "noise" for u in f.utterances
                        if verdict(u, search, ratio, posterior))
            on_noise = sum(1 for f in talk if f.clip.kind == "noise" for u in f.utterances
                           if verdict(u, search, ratio, posterior))

            def share(key: str, per: dict[str, list[int]] = per) -> str:
                return f"{per[key][0] / max(1, per[key][1]):.1%}"

            print(f"| {ratio:g} | {posterior:g} | {right / len(commands):.1%} | {share('clean')} "
                  f"| {share('10 dB')} | {share('safety')} | {wrong / len(commands):.1%} "
                  f"| {false / minutes:.2f} | {on_noise} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devset", type=Path, default=Path(".bench-cache/devset"))
    parser.add_argument("--half", default="tune")
    parser.add_argument("--phones", default="99,3,2,1.5,1.25,1")
    parser.add_argument("--posteriors", default="0,0.6,0.7")
    parser.add_argument("--front", default="none")
    args = parser.parse_args()
    feats = extract(args.devset, args.half, args.front)
    sweep(feats, "commands", [float(r) for r in args.phones.split(",")],
          [float(p) for p in args.posteriors.split(",")])


if __name__ == "__main__":
    main()
