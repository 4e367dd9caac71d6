"""Train the second opinion (assistant/verifier.py) on the tune half of the development set.

    .venv/bin/python bench/train_verifier.py [--devset DIR] [--out assistant/verifier.npz] [--check]

Every tune clip goes through `SphinxRecognizer` as a stream, as in `bench/hearing.py`; at the
end of every utterance the recognizer asks its verifier, and this records what the verifier
reads (the embedding vectors of the audio up to that moment) and what the grammar decided. The
utterances are cached in the devset folder (verifier-utterances.pkl; delete it after a change
to the recognizer or the embedding). An utterance of a command clip that overlaps the phrase
is labelled with its intent (twice: at its end and 80 ms before, for the jitter of the
endpointer); every utterance of the other speech and of noise alone is "none".
A logistic regression (scikit-learn) learns them; its weights are written as plain arrays.

`--check` chooses nothing: it trains on three tune voices and scores the fourth, for each
voice in turn (the figures docs/listening.md gives for MIN_AGREEMENT and MIN_ALONE); nothing
of the report half is read.
"""

from __future__ import annotations

import argparse
import multiprocessing
import pickle
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.audio import WavSource  # noqa: E402
from assistant.commands import Intent, load_grammar  # noqa: E402
from assistant.listening import HearingSettings, SphinxRecognizer, recognize_blocks  # noqa: E402
from assistant.verifier import (  # noqa: E402
    NONE,
    READ,
    READ_BEFORE,
    WEIGHTS,
    Embedder,
    Opinion,
    Verifier,
    verdict,
)
from bench.devset import DevClip, load  # noqa: E402

C: float = 0.01
"""Inverse L2 strength of the regression. From a first look on the tune half (each voice held out,
sixteen vectors of whole clips): 0.001 and 0.0003 let through far fewer commands. Not tried since."""
_PHRASE_SLACK_S = 0.3


class _Recorder(Verifier):
    """Records what it is asked about (the utterance's start and end, and the features); its
    opinion changes nothing. Needs no weights: it makes them."""

    def __init__(self, recognizer: SphinxRecognizer) -> None:
        self.embedder = Embedder()
        self.recognizer = recognizer
        self.asked: list[tuple[float, float, np.ndarray, np.ndarray]] = []

    def hear(self, context: bytes) -> Opinion:
        r = self.recognizer
        self.asked.append((r._utt_start_s, (r._clock.origin_s or 0.0) + r._fed_s,
                           self.embedder.embed(context, READ).reshape(-1),
                           self.embedder.embed(context, READ_BEFORE).reshape(-1)))
        # keeps every command of the grammar and adds none: the decision is the grammar's own
        return Opinion({NONE: 0.0, **{i.value: 0.5 for i in Intent}})


_STATE: dict[str, Any] = {}


Utterance = tuple[float, float, np.ndarray, np.ndarray, str | None]
"""Start and end (stream s), the features at the end and 80 ms before, the grammar's intent."""


def _utterances(job: tuple[Path, DevClip]) -> tuple[DevClip, list[Utterance]]:
    folder, clip = job
    if "recognizer" not in _STATE:
        recognizer = SphinxRecognizer(load_grammar(), HearingSettings(second_opinion=False))
        recognizer.verifier = _STATE["recorder"] = _Recorder(recognizer)
        _STATE["recognizer"] = recognizer
    recognizer, recorder = _STATE["recognizer"], _STATE["recorder"]
    recognizer.reset()
    recorder.asked = []
    grammar_said: dict[float, str | None] = {}
    recognizer.on_decision = lambda d: grammar_said.__setitem__(d.start_s, d.command and d.command.intent.value)
    recognize_blocks(recognizer, WavSource(folder / clip.file).blocks())
    return clip, [(start, end, now, before, grammar_said.get(start)) for start, end, now, before in recorder.asked]


def utterances(folder: Path, clips: list[DevClip]) -> list[tuple[DevClip, list[Utterance]]]:
    """Every utterance the recognizer asked its verifier about, clip by clip (cached)."""
    cache = folder / "verifier-utterances.pkl"
    if cache.exists():
        with open(cache, "rb") as f:
            cached: list[tuple[DevClip, list[Utterance]]] = pickle.load(f)
        if [c for c, _ in cached] == clips:
            return cached
    with multiprocessing.Pool(2) as pool:
        result = list(pool.imap(_utterances, [(folder, c) for c in clips], chunksize=8))
    with open(cache, "wb") as f:
        pickle.dump(result, f)
    return result


Example = tuple[DevClip, str, np.ndarray, bool]
"""A clip, the label, the features, and whether they are the ones of 80 ms before the end."""


def examples(per_clip: list[tuple[DevClip, list[Utterance]]]) -> list[Example]:
    out: list[Example] = []
    for clip, asked in per_clip:
        for start, end, now, before, _ in asked:
            if clip.kind != "command":
                out.append((clip, NONE, now, False))
            elif end > clip.speech_start_s and start < clip.speech_end_s + _PHRASE_SLACK_S:
                assert clip.expected is not None
                out += [(clip, clip.expected, now, False), (clip, clip.expected, before, True)]
            # else a noise burst beside the phrase: neither the command nor talk
    return out


def fit(rows: list[Example]) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    x = np.array([f for _, _, f, _ in rows])
    y = np.array([label for _, label, _, _ in rows])
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=C, max_iter=400).fit(scaler.transform(x), y)
    return scaler, model


def save(scaler: Any, model: Any, out: Path) -> None:
    grammar = load_grammar()
    np.savez_compressed(out, classes=np.array(model.classes_, dtype=str),
                        phrases=np.array(sorted(f"{p}={i.value}" for p, i in grammar.phrases.items()), dtype=str),
                        mean=scaler.mean_.astype(np.float32),
                        scale=scaler.scale_.astype(np.float32), coef=model.coef_.astype(np.float32),
                        intercept=model.intercept_.astype(np.float32))


GRID = ((0.0, 1.01), (0.01, 1.01), (0.02, 1.01), (0.05, 1.01), (0.02, 0.9), (0.02, 0.8), (0.02, 0.7),
        (0.05, 0.7), (0.01, 0.7))
"""(MIN_AGREEMENT, MIN_ALONE) pairs --check scores; 1.01 takes nothing the grammar missed."""


def check(per_clip: list[tuple[DevClip, list[Utterance]]]) -> None:
    """Each tune voice held out in turn: the session's decisions with the second opinion
    trained on the other three, for each pair of thresholds of GRID."""
    voices = sorted({c.voice for c, _ in per_clip if c.voice != "none"})
    counts: dict[tuple[float, float], Counter[str]] = {g: Counter() for g in GRID}
    for voice in voices:
        scaler, model = fit(examples([(c, u) for c, u in per_clip if c.voice != voice]))
        classes = list(model.classes_)
        for clip, asked in per_clip:
            if clip.voice != voice:
                continue
            opinions = [dict(zip(classes, p, strict=True)) for p in
                        model.predict_proba(scaler.transform(np.array([u[2] for u in asked])))] if asked else []
            for g in GRID:
                heard = [i for u, p in zip(asked, opinions, strict=True)
                         if (i := decide(u[4], p, *g, length_s=u[1] - u[0]))]
                c = counts[g]
                if clip.kind == "command":
                    c["clips"] += 1
                    c[f"n {clip.condition}"] += 1
                    c[f"right {clip.condition}"] += heard == [clip.expected]
                    c["right"] += heard == [clip.expected]
                    c["wrong"] += bool(heard) and heard != [clip.expected]
                else:
                    c["false"] += len(heard)
    print("MIN_AGREEMENT MIN_ALONE | all | " + " | ".join(CONDITIONS) + " | wrong | false commands")
    for g, c in counts.items():
        print(f"{g[0]} {g[1]} | {c['right'] / c['clips']:.1%} | "
              + " | ".join(f"{c[f'right {k}'] / max(1, c[f'n {k}']):.1%}" for k in CONDITIONS)
              + f" | {c['wrong'] / c['clips']:.1%} | {c['false']}")


CONDITIONS = ("clean", "floor", "reverb", "20 dB", "10 dB", "5 dB")


def decide(grammar_intent: str | None, p: dict[str, float], min_agreement: float, min_alone: float,
           length_s: float) -> str | None:
    """What SphinxRecognizer._second_opinion does with one utterance (assistant.verifier.verdict)."""
    return verdict(Opinion(p), grammar_intent, length_s, HearingSettings().max_utterance_s, min_agreement, min_alone)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devset", type=Path, default=Path(".bench-cache/devset"))
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    parser.add_argument("--check", action="store_true", help="hold each tune voice out in turn; write nothing")
    args = parser.parse_args()
    clips = [c for c in load(args.devset) if c.half == "tune"]
    per_clip = utterances(args.devset, clips)
    rows = examples(per_clip)
    print(f"{len(rows)} examples from {len(clips)} tune clips: {dict(Counter(label for _, label, _, _ in rows))}")
    if args.check:
        check(per_clip)
        return
    scaler, model = fit(rows)
    save(scaler, model, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
