"""Hearing commands: recognizers turn audio blocks into `Command`s with stream times.

Both engines listen only for the grammar (commands, decoys and unknown speech), and both
hand what they heard to `commands_in`, which decides what counts as a command. vosk and
pocketsphinx are imported inside the adapters, on first use.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol, TypeAlias

from assistant.audio import BYTES_PER_SAMPLE, RATE_HZ, AudioBlock
from assistant.commands import UNKNOWN_WORD, Command, Grammar, Intent
from assistant.errors import ModelError
from assistant.verifier import CONTEXT_BYTES, Verifier, verdict

_LOGGER = logging.getLogger(__name__)

_UNKNOWN_TOKENS: Final = (UNKNOWN_WORD, "<unk>", "<UNK>")
"""How models spell "some word not in the grammar": Vosk English uses [unk], others <UNK>."""


class Recognizer(Protocol):
    """Audio in, commands out. Blocks must be consecutive pieces of one stream.

    A recognizer may also tell an `on_decision` attribute of every utterance it decided on
    (both engines do; `--record-dir` sets it).
    """

    def accept(self, block: AudioBlock) -> list[Command]:
        """Commands completed by this block (usually none)."""
        ...

    def finish(self) -> list[Command]:
        """End of stream: commands still pending in the last utterance."""
        ...

    def reset(self) -> None:
        """Forget the utterance in progress (e.g. when the listening gate opens again)."""
        ...


@dataclass(frozen=True, slots=True)
class SphinxSearch:
    """PocketSphinx's search limits; None keeps the engine's default. Smaller limits prune more
    hypotheses per frame: less CPU, and at some point fewer commands heard."""

    beam: float | None = None
    """Beam for HMMs, as a probability below the best (default 1e-48)."""
    wbeam: float | None = None
    """Beam for word exits (default 7e-29)."""
    pbeam: float | None = None
    """Beam for phone transitions (default 1e-48)."""
    maxhmmpf: int | None = None
    """Most HMMs kept active per frame (default 30000)."""
    ds: int | None = None
    """Score only every ds-th frame (default 1)."""
    topn: int | None = None
    """Gaussians scored per codebook (default 4)."""

    def options(self) -> dict[str, float | int]:
        """The non-default limits, as pocketsphinx.Decoder keyword arguments."""
        return {name: value for name in ("beam", "wbeam", "pbeam", "maxhmmpf", "ds", "topn")
                if (value := getattr(self, name)) is not None}


@dataclass(frozen=True, slots=True)
class HearingSettings:
    """How sure a recognizer must be before it reports a command, and how much CPU it may spend."""

    min_confidence: float = 0.6
    """0..1; every word of a command must reach it."""
    max_other_words: int = 1
    """A command is obeyed only when said (nearly) alone: at most this many other words in the
    same utterance. Commands inside a sentence ("say pause at any time") are not commands."""
    stable_s: float = 0.2
    """Seconds a partial result must stay unchanged before it is acted on early."""
    max_utterance_s: float = 2.0
    """An utterance whose words span longer than this is talk, not a command (the longest
    command, "how much longer", takes about 1.2 s at a slow pace)."""
    partial_results: bool = True
    """Vosk: read the partial result after every block, to act on a stable one early. Off, a
    command waits for Vosk's own end of the utterance (about 0.5 s later)."""
    sound_only: bool = False
    """Vosk: decode only what the endpointer takes for sound; silence costs no decoding at all,
    and a command is reported when its utterance ends (about 0.3 s after it)."""
    sphinx: SphinxSearch = SphinxSearch()
    """PocketSphinx's search limits."""
    decoys: bool = False
    """PocketSphinx: listen for the grammar's decoys too. For the two wake phrases of `serve`,
    which alone would take in everything a household says; not for the commands, where decoys
    chosen on one set of voices took real commands from others."""
    second_opinion: bool = True
    """PocketSphinx: ask the speech embedding of `assistant/verifier.py` about every utterance
    (not with decoys: it was trained on the commands, not on the wake phrases)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be within 0..1, not {self.min_confidence}")
        if self.max_other_words < 0 or self.stable_s < 0:
            raise ValueError("max_other_words and stable_s must be >= 0")


LOW_POWER: Final = HearingSettings(
    # Measured with bench/low_power.py and (for PocketSphinx, before issue 12) bench/sphinx_tuning.py,
    # since removed (bench/RESULTS.md, "Low power").
    # Vosk spends its CPU in the acoustic network, on every frame, sound or not: decoding only
    # sound (with a 0.3 s pre-roll) takes a quiet room from 0.021 to 0.0001 CPU s per audio s.
    # Its search limits (model.conf: beam 10 -> 6, max-active 3000 -> 300) saved under 10% and
    # lost 5-22 points of accuracy; no partials and no word list saved 5-7% each (words stay:
    # they carry the confidences).
    partial_results=False,
    sound_only=True,
    # PocketSphinx already decodes only what its endpointer calls speech, and no search limit
    # paid: beams 1e-30 cost 17% less CPU and 52% -> 0% heard at 10 dB; ds 2: 25% less, 52% ->
    # 18%; topn 2: 8% less, 77% -> 70% clean; maxhmmpf 3000 or 1000 changed nothing (the
    # grammar never has that many HMMs active). So its search stays as it is.
    sphinx=SphinxSearch(),
)
"""--low-power: the least accuracy for the most CPU saved (a Raspberry Pi, a busy machine)."""


def hearing_settings(low_power: bool) -> HearingSettings:
    """The hearing preset of `assistant run` (and `serve`): LOW_POWER or the defaults."""
    return LOW_POWER if low_power else HearingSettings()


_ENDPOINTER_WINDOW_S: Final = 0.3
_ENDPOINTER_RATIO: Final = 0.9
_PRE_ROLL_S: Final = 0.3
"""Audio before the endpointer's speech start that Vosk gets too (sound_only): without it the
first consonant was cut off ("dowajwo" -> "oneul"), 4 of 21 clean Korean commands lost."""
_RECENT_S: Final = 1.0


def _endpointer() -> Any:
    """PocketSphinx's voice-activity endpointer (cheap: it needs no model), as both engines use it."""
    import pocketsphinx as ps

    return ps.Endpointer(window=_ENDPOINTER_WINDOW_S, ratio=_ENDPOINTER_RATIO, sample_rate=RATE_HZ)


@dataclass(frozen=True, slots=True)
class Word:
    """One recognized word with its stream seconds."""

    text: str
    confidence: float
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class Decision:
    """One stretch of audio a recognizer decided on: what it heard and what became of it.

    `assistant run --record-dir` keeps each one (audio and a JSON line), so that "it did not
    hear me" comes with the audio.
    """

    start_s: float
    end_s: float
    pcm: bytes
    """The audio decided on (16 kHz mono int16)."""
    heard: str
    """The words the engine chose ("" for none)."""
    confidence: float | None
    command: Command | None
    reason: str
    """"command", or why it is not one (in a few words)."""


OnDecision: TypeAlias = Callable[[Decision], None]


def judge(words: Sequence[Word], grammar: Grammar, settings: HearingSettings,
          emitted_s: float) -> tuple[Command | None, str]:
    """The command of one utterance, if it is a command said on its own, and why (not).

    The words are split into grammar phrases (longest first). Decoys and unknown words are
    dropped, but they count as other words: a sentence that happens to contain "stop" or
    "next" is talk, not a command.
    """
    if not words:
        return None, "no words"
    pieces: list[tuple[str, list[Word]]] = []
    known = {*grammar.phrases, *grammar.decoys}
    longest = max((len(p.split()) for p in known), default=1)
    i = 0
    while i < len(words):
        for n in range(min(longest, len(words) - i), 0, -1):
            phrase = " ".join(w.text for w in words[i:i + n])
            if n == 1 or phrase in known:
                pieces.append((phrase, list(words[i:i + n])))
                i += n
                break
    found = [(p, ws) for p, ws in pieces if p in grammar.phrases]
    others = len(pieces) - len(found)
    if not found:
        return None, "no command phrase"
    span = words[-1].end_s - words[0].start_s
    if span > settings.max_utterance_s:
        return None, f"{span:.1f} s of speech: talk"
    intents = {grammar.phrases[p] for p, _ in found}
    if len(intents) > 1 or others > settings.max_other_words:
        return None, "not said on its own"
    phrase, ws = found[0]
    confidence = min(w.confidence for w in ws)
    if confidence < settings.min_confidence:
        return None, f"confidence {confidence:.2f} below {settings.min_confidence:.2f}"
    return Command(grammar.phrases[phrase], phrase, round(confidence, 3), round(ws[0].start_s, 3),
                   round(ws[-1].end_s, 3), round(max(emitted_s, ws[-1].end_s), 3)), "command"


def commands_in(words: Sequence[Word], grammar: Grammar, settings: HearingSettings,
                emitted_s: float) -> list[Command]:
    """`judge`'s command as a list (empty when the utterance is not a command)."""
    command, reason = judge(words, grammar, settings, emitted_s)
    if command is None and words:
        _LOGGER.debug("not a command (%s): %s", reason, " ".join(w.text for w in words))
    return [command] if command is not None else []


class _StreamClock:
    """Stream seconds counted from the samples a recognizer has taken."""

    def __init__(self) -> None:
        self.origin_s: float | None = None
        self.samples = 0

    def take(self, block: AudioBlock) -> None:
        if self.origin_s is None:
            self.origin_s = block.start_s
        self.samples += block.samples

    @property
    def now_s(self) -> float:
        return (self.origin_s or 0.0) + self.samples / RATE_HZ


# ---------------------------------------------------------------- Vosk

_VOSK_QUIET: Final = -3
"""Kaldi prints what is at least this severe: errors are -2, so -3 keeps even a corrupt model's
ERROR line off the screen (our own sentence says what failed; --debug shows Kaldi's)."""
_VOSK_MODELS: dict[Path, Any] = {}
_VOSK_LOCK = threading.Lock()


@contextmanager
def _native_output_to_debug_log(quiet: bool) -> Iterator[None]:
    """While inside, what native code writes to stderr goes to the debug log instead.

    Kaldi prints its option list and errors with fprintf when a model is broken; that is not
    for the person at the terminal (our own sentence says what to do), but --debug shows it.
    """
    if not quiet:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            text = caught.read().decode(errors="replace").strip()
            if text:
                _LOGGER.debug("The speech library said: %s", text)


def load_vosk_model(path: Path, debug: bool = False) -> Any:
    """A Vosk model, loaded once per process (loading takes seconds and hundreds of MB)."""
    import vosk

    vosk.SetLogLevel(0 if debug else _VOSK_QUIET)
    key = path.resolve()
    with _VOSK_LOCK:
        if key not in _VOSK_MODELS:
            if not (key / "am").is_dir() and not (key / "final.mdl").exists():
                raise ModelError("model-invalid",
                                 f"{path} is not a Vosk model folder (no am/ inside); "
                                 "run: assistant model download")
            began = time.perf_counter()
            try:
                with _native_output_to_debug_log(not debug):
                    _VOSK_MODELS[key] = vosk.Model(str(key))
            except Exception as err:
                raise ModelError("model-corrupt",
                                 f"The Vosk model in {path} cannot be loaded ({err}); delete it and "
                                 "run: assistant model download") from err
            _LOGGER.info("Loaded the Vosk model %s in %.1f s", key.name, time.perf_counter() - began)
        return _VOSK_MODELS[key]


class VoskRecognizer:
    """Vosk restricted to the grammar, with per-word confidence and early results.

    A partial result that is a whole command and stays unchanged for `stable_s` seconds of
    audio ends the utterance at once (FinalResult gives its words, times and confidences), so
    the command does not wait for Vosk's end-of-speech silence (about 0.8 s).
    """

    def __init__(self, model_path: Path, grammar: Grammar, settings: HearingSettings | None = None,
                 debug: bool = False) -> None:
        self.model_path = model_path
        self.grammar = grammar
        self.settings = settings or HearingSettings()
        self.debug = debug
        self.missing_words: list[str] = []
        """Grammar words the model does not know (they cannot be heard)."""
        self.unknown_token: str | None = None
        """How this model spells an unknown word ("[unk]" in English models, "<UNK>" in some)."""
        self.on_decision: OnDecision | None = None
        """Told of every utterance decided on (for --record-dir)."""
        self._heard_audio = bytearray()
        """The audio of the utterance in progress, kept only for on_decision."""
        self._rec: Any = None
        self._model: Any = None
        self._grammar_json = "[]"
        self._clock = _StreamClock()
        self._partial = ""
        self._partial_since_s = 0.0
        # sound_only: the endpointer, audio not yet framed, and where the utterance began.
        self._endpointer: Any = None
        self._buffer = b""
        self._in_utt = False
        self._utt_start_s = 0.0
        self._recent = bytearray()
        """The last _RECENT_S of audio given to the endpointer, for the pre-roll."""
        self._fed_bytes = 0

    @property
    def name(self) -> str:
        return f"Vosk ({self.model_path.name})"

    def load(self) -> None:
        """Load the model and check the grammar against its vocabulary (done on first use anyway)."""
        if self._rec is not None:
            return
        model = load_vosk_model(self.model_path, self.debug)
        known = {w for w in self.grammar.words() if model.vosk_model_find_word(w) >= 0}
        self.missing_words = sorted(self.grammar.words() - known)
        if self.missing_words:
            _LOGGER.warning("These grammar words are not in the model's vocabulary, so phrases with "
                            "them cannot be heard: %s", ", ".join(self.missing_words))
        phrases = [p for p in [*self.grammar.phrases, *self.grammar.decoys]
                   if all(w in known for w in p.split())]
        if not any(p in self.grammar.phrases for p in phrases):
            raise ModelError("model-vocabulary",
                             f"The model {self.model_path} knows none of the command words; "
                             "use a model of the grammar's language.")
        self.unknown_token = next((t for t in _UNKNOWN_TOKENS if model.vosk_model_find_word(t) >= 0), None)
        if self.unknown_token is None:
            _LOGGER.info("The model has no unknown-word token; only decoys catch other speech.")
        else:
            phrases.append(self.unknown_token)
        self._model = model
        self._grammar_json = json.dumps(phrases, ensure_ascii=False)
        if self.settings.sound_only:
            self._endpointer = _endpointer()
        self._new_recognizer()

    def _new_recognizer(self) -> None:
        import vosk

        # A fresh recognizer rather than Reset(): Reset keeps counting time from the first
        # sample ever given, and stream times must restart with the stream.
        self._rec = vosk.KaldiRecognizer(self._model, RATE_HZ, self._grammar_json)
        self._rec.SetWords(True)

    def accept(self, block: AudioBlock) -> list[Command]:
        self.load()
        self._clock.take(block)
        if self.settings.sound_only:
            return self._accept_sound(block.pcm)
        if self.on_decision is not None:
            self._heard_audio += block.pcm
        if self._rec.AcceptWaveform(block.pcm):
            self._partial = ""
            return self._commands(self._rec.Result())
        if not self.settings.partial_results:
            return []
        partial = " ".join(json.loads(self._rec.PartialResult()).get("partial", "").split())
        now = self._clock.now_s
        if partial != self._partial:
            self._partial, self._partial_since_s = partial, now
            return []
        if (partial and partial in self.grammar.phrases
                and now - self._partial_since_s >= self.settings.stable_s):
            _LOGGER.debug("stable partial '%s' at %.2f s: acting early", partial, now)
            self._partial = ""
            return self._commands(self._rec.FinalResult())
        return []

    def _accept_sound(self, pcm: bytes) -> list[Command]:
        """Frames to the endpointer; only its speech goes to Vosk, one fresh recognizer per
        utterance, so word times count from the utterance's start."""
        self._buffer += pcm
        size = self._endpointer.frame_bytes
        heard: list[Command] = []
        while len(self._buffer) >= size:
            frame, self._buffer = self._buffer[:size], self._buffer[size:]
            heard += self._sound_frame(frame)
        return heard

    def _sound_frame(self, frame: bytes) -> list[Command]:
        ep = self._endpointer
        self._recent += frame
        self._fed_bytes += len(frame)
        del self._recent[:max(0, len(self._recent) - int(_RECENT_S * RATE_HZ) * BYTES_PER_SAMPLE)]
        speech = ep.process(frame)
        if speech is None:
            return []
        heard: list[Command] = []
        if not self._in_utt:
            self._in_utt = True
            self._new_recognizer()
            self._utt_start_s = self._pre_roll(ep.speech_start)
        if self.on_decision is not None:
            self._heard_audio += speech
        if self._rec.AcceptWaveform(speech):
            heard += self._commands(self._rec.Result(), self._utt_start_s)
        if not ep.in_speech:
            self._in_utt = False
            heard += self._commands(self._rec.FinalResult(), self._utt_start_s)
        return heard

    def _pre_roll(self, speech_start_s: float) -> float:
        """Give Vosk the audio just before the speech; returns the stream time it starts at."""
        recent_start_s = (self._fed_bytes - len(self._recent)) / BYTES_PER_SAMPLE / RATE_HZ
        first = max(0, round((speech_start_s - _PRE_ROLL_S - recent_start_s) * RATE_HZ))
        last = max(first, round((speech_start_s - recent_start_s) * RATE_HZ))
        pre_roll = bytes(self._recent[first * BYTES_PER_SAMPLE:last * BYTES_PER_SAMPLE])
        self._heard_audio = bytearray(pre_roll if self.on_decision is not None else b"")
        self._rec.AcceptWaveform(pre_roll)
        return (self._clock.origin_s or 0.0) + recent_start_s + first / RATE_HZ

    def finish(self) -> list[Command]:
        if self._rec is None:
            return []
        self._partial = ""
        if not self.settings.sound_only:
            return self._commands(self._rec.FinalResult())
        heard: list[Command] = []
        ep = self._endpointer
        if self._buffer:
            heard += self._sound_frame(self._buffer + b"\0" * (ep.frame_bytes - len(self._buffer)))
            self._buffer = b""
        if self._in_utt:
            last = ep.end_stream(b"\0" * ep.frame_bytes)
            if last:
                self._rec.AcceptWaveform(last)
            self._in_utt = False
            heard += self._commands(self._rec.FinalResult(), self._utt_start_s)
        return heard

    def reset(self) -> None:
        if self._rec is not None:
            self._new_recognizer()
        if self._endpointer is not None:
            self._endpointer = _endpointer()
        self._buffer = b""
        self._in_utt = False
        self._recent = bytearray()
        self._fed_bytes = 0
        self._clock = _StreamClock()
        self._partial = ""
        self._heard_audio = bytearray()

    def _commands(self, result_json: str, origin_s: float | None = None) -> list[Command]:
        result = json.loads(result_json)
        origin = origin_s if origin_s is not None else self._clock.origin_s or 0.0
        words = [Word(w["word"], float(w.get("conf", 1.0)), origin + float(w["start"]),
                      origin + float(w["end"]))
                 for w in result.get("result", [])]
        if words:
            _LOGGER.debug("heard: %s", " ".join(f"{w.text}({w.confidence:.2f})" for w in words))
        command, reason = judge(words, self.grammar, self.settings, self._clock.now_s)
        audio, self._heard_audio = bytes(self._heard_audio), bytearray()
        if self.on_decision is not None and words:
            end_s = self._clock.now_s
            self.on_decision(Decision(end_s - len(audio) / BYTES_PER_SAMPLE / RATE_HZ, end_s, audio,
                                      " ".join(w.text for w in words),
                                      min(w.confidence for w in words), command, reason))
        elif words and command is None:
            _LOGGER.debug("not a command (%s)", reason)
        return [command] if command is not None else []


# ---------------------------------------------------------------- PocketSphinx

_FRAMES_PER_S: Final = 100
_SPEECH_MARGIN_S: Final = 1.5
"""The endpointer keeps some silence around speech; an utterance this much longer than the
longest command is not decoded at all."""
_FILLERS: Final = ("SIL", "<s>", "</s>", "(NULL)")
MAX_EXTRA_PHONES: Final = 1.5
"""Utterance verification: the free phone loop may find at most this many times as many phones
in an utterance as the command the grammar chose has (more is talk that the grammar forced
onto a command). Chosen on the tune half of bench/devset.py (docs/listening.md)."""


_MAX_SPEECH_OUTSIDE_S: Final = 0.2
"""Over the coach's voice and for the wake phrases (the searches with decoys): loud audio
allowed in an utterance outside the phrase decoded. Chosen before issue 12 on espeak-ng
voices; it keeps the start of a sentence, before the echo canceller has found the echo, from
coming out as one phrase ("what to avoid"). Talking over the coach is issue 13's to remake."""
_LOUD_DB: Final = 10.0
"""A 10 ms frame is loud when it is this much above the utterance's quietest tenth, and within
30 dB of its loudest frame."""


def speech_outside(words: Sequence[Word], utt_start_s: float, pcm: bytes) -> float:
    """Seconds of loud 10 ms frames of `pcm` (starting at `utt_start_s`) before the first word
    or after the last one."""
    import numpy as np

    samples = np.frombuffer(pcm, np.int16).astype(np.float32)
    n = len(samples) // 160
    if not words or n == 0:
        return 0.0
    energy = 10 * np.log10(np.mean(samples[:n * 160].reshape(n, 160) ** 2, axis=1) + 1.0)
    loud = energy > max(float(np.percentile(energy, 10)) + _LOUD_DB, float(energy.max()) - 30.0)
    first = max(0, round((words[0].start_s - utt_start_s) * 100))
    last = max(0, round((words[-1].end_s - utt_start_s) * 100))
    return float(loud[:first].sum() + loud[last:].sum()) / 100


def _phone_loop_file() -> str:
    import pocketsphinx as ps

    return os.path.join(ps.get_model_path(), "en-us", "en-us-phone.lm.bin")


class SphinxRecognizer:
    """PocketSphinx with the English model of its wheel; no download needed.

    An endpointer cuts the stream into utterances. Each is decoded against the command phrases
    (one phrase per utterance), then verified against a free phone loop: talk that the grammar
    forced onto a command has far more phones than the command. The command is reported when
    the utterance ends (about 0.3 s after the speech).
    """

    def __init__(self, grammar: Grammar, settings: HearingSettings | None = None,
                 debug: bool = False) -> None:
        self.grammar = grammar
        self.settings = settings or HearingSettings()
        self.debug = debug
        self.missing_words: list[str] = []
        self.on_decision: OnDecision | None = None
        """Told of every utterance decided on (for --record-dir)."""
        self.over_speech = False
        """Set by the listener while the coach speaks: an utterance heard then is decoded with
        the decoys too, so the coach's own words that the echo canceller left (short
        fragments, which the phone loop cannot tell from a short command) land on them."""
        self._over_speech_in_utt = False
        self._decoder: Any = None
        self._endpointer: Any = None
        self._phones: dict[str, int] = {}
        """Phones of each command phrase (its first pronunciation)."""
        self._buffer = b""
        self._clock = _StreamClock()
        self._fed_s = 0.0
        """Stream seconds of audio given to the endpointer."""
        self._utt_start_s = 0.0
        self._in_utt = False
        self._speech = bytearray()
        """The utterance so far, decoded when the endpointer says it ended."""
        self._recent = bytearray()
        """The last audio given to the endpointer, for the second opinion."""
        self.verifier: Verifier | None = None
        """The second opinion (settings.second_opinion), loaded with the decoder."""

    @property
    def name(self) -> str:
        return "PocketSphinx"

    def load(self) -> None:
        if self._decoder is not None:
            return
        import pocketsphinx as ps

        began = time.perf_counter()
        # Chosen on the tune half of the development set (bench/hearing_tuning.py; docs/listening.md):
        # bestpath off: the lattice rescoring returned a phrase cut short ("end session" ->
        # "end") in 108 of 1914 utterances, and 72% -> 82% were heard right.
        # dither: digital silence (files, muted inputs) throws the feature normalization off.
        # seed: the dither is random; a fixed seed makes a file decode the same way every time.
        # Everything else stays PocketSphinx's default: the earlier silprob and lw were chosen on
        # espeak-ng voices and did not carry over to others.
        # The wake phrases (settings.decoys) keep the settings their false starts were measured
        # with (bench/false_starts.py): silprob 1e-4 and lw 10, so that "start my session" is
        # not cut to the decoy "stop session".
        wake = {"silprob": 1e-4, "lw": 10.0} if self.settings.decoys else {}
        decoder = ps.Decoder(samprate=RATE_HZ, lm=None, bestpath=False, dither=True, seed=1,
                             loglevel="INFO" if self.debug else "FATAL", **wake, **self.settings.sphinx.options())
        known = {w for w in self.grammar.words() if decoder.lookup_word(w) is not None}
        self.missing_words = sorted(self.grammar.words() - known)
        if self.missing_words:
            _LOGGER.warning("These grammar words are not in PocketSphinx's dictionary, so phrases "
                            "with them cannot be heard: %s", ", ".join(self.missing_words))
        commands = [p for p in self.grammar.phrases if all(w in known for w in p.split())]
        decoys = [p for p in self.grammar.decoys if all(w in known for w in p.split())]
        if not commands:
            raise ModelError("model-vocabulary", "PocketSphinx's English model knows none of the command "
                             f"words of the '{self.grammar.language}' grammar; use Vosk with a model of "
                             "that language (--engine vosk --model DIR).")
        # No decoys for commands said in quiet (unless settings.decoys): on voices they were not
        # chosen on, they took real commands ("back" heard as "pack"); the phone loop rejects
        # talk instead. Over the coach's voice they catch what is left of its own words.
        for search, phrases in (("commands", [*commands, *decoys] if self.settings.decoys else commands),
                                ("over speech", [*commands, *decoys])):
            decoder.add_jsgf_string(search, "#JSGF V1.0;\ngrammar commands;\n"
                                    f"public <utterance> = {' | '.join(phrases)};\n")
        decoder.add_allphone_file("phones", _phone_loop_file())
        self._phones = {p: sum(len(decoder.lookup_word(w).split()) for w in p.split()) for p in commands}
        self._decoder = decoder
        self._endpointer = _endpointer()
        if self.settings.second_opinion and not self.settings.decoys and self.verifier is None:
            try:
                verifier = Verifier()
            except (ImportError, OSError, AttributeError, ValueError, KeyError) as err:
                # the ear still works without it, as it did before the second opinion
                _LOGGER.warning("Listening without the second opinion: it cannot be loaded (%s); "
                                "reinstall with: make run", err)
            else:
                if verifier.knows(self.grammar):
                    self.verifier = verifier
                else:
                    _LOGGER.info("No second opinion: it was trained on grammars/en.json, not on this "
                                 "grammar (make train-verifier trains it again).")
        _LOGGER.info("Loaded PocketSphinx in %.1f s", time.perf_counter() - began)

    def accept(self, block: AudioBlock) -> list[Command]:
        self.load()
        self._clock.take(block)
        self._buffer += block.pcm
        size = self._endpointer.frame_bytes
        heard: list[Command] = []
        while len(self._buffer) >= size:
            frame, self._buffer = self._buffer[:size], self._buffer[size:]
            heard += self._frame(frame)
        return heard

    def _frame(self, frame: bytes) -> list[Command]:
        ep = self._endpointer
        self._fed_s += len(frame) / BYTES_PER_SAMPLE / RATE_HZ
        self._recent += frame
        del self._recent[:max(0, len(self._recent) - CONTEXT_BYTES)]
        was_in_speech = ep.in_speech
        speech = ep.process(frame)
        if speech is None:
            return []
        if not was_in_speech and not self._in_utt:
            self._utt_start_s = (self._clock.origin_s or 0.0) + ep.speech_start
            self._in_utt = True
            self._over_speech_in_utt = False
        self._over_speech_in_utt |= self.over_speech
        self._speech += speech
        if not ep.in_speech:
            return self._end_utterance()
        return []

    def _decode(self, speech: bytes, search: str) -> list[Any]:
        decoder = self._decoder
        decoder.activate_search(search)
        decoder.start_utt()
        decoder.process_raw(speech, full_utt=True)
        decoder.end_utt()
        return list(decoder.seg() or [])

    def _end_utterance(self) -> list[Command]:
        """Decode the utterance in one go: given all of it, PocketSphinx normalizes its features
        better than live (measured: 51% -> 56% of clean phrases heard, 4% -> 31% at 10 dB SNR)."""
        if not self._in_utt:
            return []
        self._in_utt = False
        speech, self._speech = bytes(self._speech), bytearray()
        now = (self._clock.origin_s or 0.0) + self._fed_s
        length_s = len(speech) / BYTES_PER_SAMPLE / RATE_HZ
        if length_s > self.settings.max_utterance_s + _SPEECH_MARGIN_S:
            return self._decided(speech, [], None, f"{length_s:.1f} s of sound: talk, not decoded")
        words = [Word(token, float(s.prob), self._utt_start_s + s.start_frame / _FRAMES_PER_S,
                      self._utt_start_s + (s.end_frame + 1) / _FRAMES_PER_S)
                 for s in self._decode(speech, "over speech" if self._over_speech_in_utt else "commands")
                 if not s.word.startswith(("<", "[", "(")) and s.start_frame >= 0
                 for token in s.word.split("(")[0].split()]
        with_decoys = self._over_speech_in_utt or self.settings.decoys
        command, reason = self._verdict(speech, words, with_decoys, now)
        if self.verifier is not None and not with_decoys:
            command, reason = self._second_opinion(command, reason, words, now)
        return self._decided(speech, words, command, reason)

    def _verdict(self, speech: bytes, words: list[Word], with_decoys: bool, now: float) -> tuple[Command | None, str]:
        """The grammar's command, unless the utterance is talk forced onto it."""
        phrase = " ".join(w.text for w in words)
        outside = speech_outside(words, self._utt_start_s, speech) if with_decoys else 0.0
        if outside > _MAX_SPEECH_OUTSIDE_S:
            return None, f"talk: {outside:.2f} s of sound outside '{phrase}'"
        if phrase in self._phones and not with_decoys:
            phones = sum(1 for s in self._decode(speech, "phones") if s.word not in _FILLERS
                         and not s.word.startswith("+"))
            if phones > MAX_EXTRA_PHONES * self._phones[phrase]:
                return None, f"talk: {phones} phones, '{phrase}' has {self._phones[phrase]}"
        return judge(words, self.grammar, self.settings, now)

    def _second_opinion(self, command: Command | None, reason: str, words: list[Word],
                        now: float) -> tuple[Command | None, str]:
        """Drop a command the embedding finds unlikely; take one it is sure of where the grammar
        found none (assistant/verifier.py)."""
        assert self.verifier is not None
        opinion = self.verifier.hear(bytes(self._recent))
        intent = verdict(opinion, command.intent.value if command else None, now - self._utt_start_s,
                         self.settings.max_utterance_s)
        if command is not None:
            if intent is not None:
                return command, reason
            return None, f"second opinion: {command.intent.value} only {opinion.of(command.intent.value):.2f}"
        if intent is None:
            return None, reason
        p = opinion.of(intent)
        heard = " ".join(w.text for w in words)
        phrase = heard if self.grammar.phrases.get(heard) == intent else self.grammar.phrases_for(Intent(intent))[0]
        start_s = words[0].start_s if words else self._utt_start_s
        end_s = words[-1].end_s if words else now
        return (Command(Intent(intent), phrase, round(p, 3), round(start_s, 3), round(end_s, 3), round(now, 3)),
                f"second opinion: {intent} {p:.2f} ({reason})")

    def _decided(self, speech: bytes, words: list[Word], command: Command | None, reason: str) -> list[Command]:
        heard = " ".join(w.text for w in words)
        if words:
            _LOGGER.debug("heard '%s': %s", heard, reason)
        if self.on_decision is not None:
            end_s = self._utt_start_s + len(speech) / BYTES_PER_SAMPLE / RATE_HZ
            self.on_decision(Decision(self._utt_start_s, end_s, speech, heard,
                                      min((w.confidence for w in words), default=None), command, reason))
        return [command] if command is not None else []

    def finish(self) -> list[Command]:
        if self._decoder is None:
            return []
        heard: list[Command] = []
        if self._buffer:
            pad = self._endpointer.frame_bytes - len(self._buffer)
            heard += self._frame(self._buffer + b"\0" * pad)
            self._buffer = b""
        if self._in_utt:
            last = self._endpointer.end_stream(b"\0" * self._endpointer.frame_bytes)
            if last:
                self._speech += last
            heard += self._end_utterance()
        return heard

    def reset(self) -> None:
        self._in_utt = False
        self._speech = bytearray()
        if self._decoder is not None:
            self._endpointer = _endpointer()
        self._buffer = b""
        self._clock = _StreamClock()
        self._fed_s = 0.0
        self._recent = bytearray()


def recognize_blocks(recognizer: Recognizer, blocks: Sequence[AudioBlock] | Any) -> list[Command]:
    """Every command in a finite stream (a WAV file), in order."""
    heard: list[Command] = []
    for block in blocks:
        heard += recognizer.accept(block)
    heard += recognizer.finish()
    return heard
