"""Waiting for the start phrase: only "start my session" or "coach start session", said alone and sure, starts."""

from __future__ import annotations

import queue
from pathlib import Path
from typing import Final

import pytest

from assistant.audio import AudioBlock, WavSource
from assistant.commands import Command, Grammar, Intent, load_grammar, load_wake_grammar
from assistant.events import CommandHeard, DeviceLost, InboxEvent
from assistant.listening import HearingSettings, SphinxRecognizer, Word, commands_in, recognize_blocks
from assistant.serve import SwitchingRecognizer, wait_for_start
from assistant.wake import WakeSettings, is_start
from tests.speech import Voice, make_clip

SURE: Final = 0.95
DOUBTFUL: Final = 0.7
"""Above a session command's 0.6, below waiting's threshold."""


@pytest.fixture(scope="module")
def wake() -> Grammar:
    return load_wake_grammar()


def words(text: str, confidence: float, word_s: float = 0.4) -> list[Word]:
    return [Word(w, confidence, i * word_s, (i + 1) * word_s) for i, w in enumerate(text.split())]


def heard(wake: Grammar, text: str, confidence: float = SURE) -> list[Command]:
    return commands_in(words(text, confidence), wake, WakeSettings().hearing(), emitted_s=2.0)


def test_the_start_phrases_are_the_only_commands_while_waiting(wake: Grammar) -> None:
    """Every session phrase ("next", "let's start", "stop") is a decoy while waiting."""
    assert set(wake.phrases) == {"start my session", "coach start session"}
    assert set(wake.phrases.values()) == {Intent.START}
    session = load_grammar()
    assert set(session.phrases) - set(wake.phrases) <= set(wake.decoys)
    assert not set(wake.phrases) & set(wake.decoys)
    assert {"start session", "next session", "station", "starting", "let's start"} <= set(wake.decoys)


def test_a_start_phrase_said_on_its_own_and_sure_starts_a_session(wake: Grammar) -> None:
    """'start my session' and 'coach start session' heard clearly are starts; typed 'start' is deliberate too."""
    for phrase in ("start my session", "coach start session"):
        [command] = heard(wake, phrase)
        assert is_start(command, wake, WakeSettings())
    assert is_start(Command(Intent.START, "start"), wake, WakeSettings())  # typed: confidence 1.0


def test_a_doubtful_start_phrase_does_not_start_though_a_session_would_take_it(wake: Grammar) -> None:
    """At 0.7 a session command is obeyed; a start phrase while waiting is not."""
    assert heard(wake, "start my session", DOUBTFUL) == []
    session = load_grammar()
    assert commands_in(words("start session", DOUBTFUL), session, HearingSettings(), 2.0) != []
    assert not is_start(Command(Intent.START, "start my session", DOUBTFUL), wake, WakeSettings())


def test_a_start_phrase_inside_talk_or_another_start_word_does_not_start(wake: Grammar) -> None:
    """'please start my session', 'start session' (a session's phrase), a slow 4.5-second phrase: not a start."""
    assert heard(wake, "please start my session") == []
    assert heard(wake, "start my session now") == []
    assert heard(wake, "start session") == []
    assert heard(wake, "let's start") == []
    slow = commands_in(words("start my session", SURE, word_s=1.5), wake, WakeSettings().hearing(), 5.0)
    assert slow == []
    assert not is_start(Command(Intent.START, "let's start", SURE), wake, WakeSettings())


def test_waiting_is_never_less_strict_than_a_session() -> None:
    """A threshold below a session command's is refused."""
    assert WakeSettings().min_confidence > HearingSettings().min_confidence
    assert WakeSettings().hearing().max_other_words == 0
    with pytest.raises(ValueError):
        WakeSettings(min_confidence=0.5)
    with pytest.raises(ValueError):
        WakeSettings(max_utterance_s=0.0)


def test_waiting_lets_everything_but_a_start_go(wake: Grammar) -> None:
    """A lost microphone, 'next' and a doubtful start are let go; the first real start is returned."""
    inbox: queue.Queue[InboxEvent] = queue.Queue()
    for event in (DeviceLost("microphone", "unplugged"),
                  CommandHeard(Command(Intent.NEXT, "next", SURE)),
                  CommandHeard(Command(Intent.START, "start my session", DOUBTFUL)),
                  CommandHeard(Command(Intent.START, "coach start session", SURE))):
        inbox.put(event)
    assert wait_for_start(inbox, wake, WakeSettings()) == Command(Intent.START, "coach start session", SURE)


class CountingRecognizer:
    """Hears one command per block and counts its resets."""

    def __init__(self, phrase: str) -> None:
        self.phrase = phrase
        self.resets = 0
        self.blocks = 0

    def accept(self, block: AudioBlock) -> list[Command]:
        self.blocks += 1
        return [Command(Intent.START, self.phrase)]

    def finish(self) -> list[Command]:
        return []

    def reset(self) -> None:
        self.resets += 1


def test_switching_grammars_takes_effect_at_the_next_block_with_a_fresh_recognizer() -> None:
    """Nothing said while waiting reaches the session recognizer's utterance, and back."""
    waiting, session = CountingRecognizer("waiting"), CountingRecognizer("session")
    switch = SwitchingRecognizer(waiting, session)
    block = AudioBlock(b"\0\0" * 1600, 0.0)
    assert switch.accept(block)[0].phrase == "waiting"
    switch.use(session=True)
    assert switch.accept(block)[0].phrase == "session" and session.resets == 1
    switch.use(session=False)
    assert switch.accept(block)[0].phrase == "waiting" and waiting.resets == 1
    assert (waiting.blocks, session.blocks) == (2, 1)


@pytest.mark.slow
def test_pocketsphinx_hears_a_spoken_start_session_but_not_spoken_near_misses(wake: Grammar,
                                                                               speech_dir: Path) -> None:
    """espeak-ng says the start phrase (heard by the real recognizer) and near misses (not heard)."""
    recognizer = SphinxRecognizer(wake, WakeSettings().hearing())
    voice = Voice("en-gb", 160)
    said = recognize_blocks(recognizer, WavSource(make_clip("start my session", voice, speech_dir).path).blocks())
    assert [c.phrase for c in said] == ["start my session"]
    for talk in ("start session", "coach start", "next session", "the session starts at six", "station"):
        recognizer.reset()
        clip = make_clip(talk, voice, speech_dir)
        assert recognize_blocks(recognizer, WavSource(clip.path).blocks()) == [], talk
