"""The listening gate, with explicit seconds: own voice ignored, barge-in kept."""

from __future__ import annotations

from assistant.commands import Command, Intent
from assistant.events import SpeechEnded, SpeechStarted
from assistant.gate import ListeningGate


def said(intent: Intent, phrase: str, start_s: float, end_s: float, confidence: float = 0.95) -> Command:
    return Command(intent, phrase, confidence, start_s, end_s, end_s + 0.2)


def gate_with(text: str, start_s: float, end_s: float | None) -> ListeningGate:
    gate = ListeningGate()
    gate.observe(SpeechStarted(text, start_s))
    if end_s is not None:
        gate.observe(SpeechEnded(text, end_s))
    return gate


def test_a_command_in_silence_acts() -> None:
    gate = gate_with("Lie down.", 10.0, 11.0)
    assert gate.judge(said(Intent.NEXT, "next", 20.0, 20.4), heard_at_s=20.6).allowed


def test_the_assistants_own_next_inside_a_sentence_is_ignored() -> None:
    """'...say next for the next slide' heard by the microphone does not move on."""
    gate = gate_with("Say next for the next slide.", 10.0, 12.0)
    verdict = gate.judge(said(Intent.NEXT, "next", 10.5, 10.8), heard_at_s=11.0)
    assert not verdict.allowed and verdict.reason == "assistant speaking"


def test_the_tail_after_a_sentence_is_still_closed() -> None:
    gate = gate_with("Keep breathing.", 10.0, 11.0)
    assert not gate.judge(said(Intent.NEXT, "next", 11.1, 11.4), heard_at_s=11.6).allowed
    assert gate.judge(said(Intent.NEXT, "next", 11.4, 11.7), heard_at_s=11.9).allowed, "a prompt reply counts"


def test_stop_barges_in_while_the_assistant_speaks() -> None:
    gate = gate_with("Lie down on your stomach.", 10.0, None)
    verdict = gate.judge(said(Intent.STOP, "stop", 10.5, 10.8), heard_at_s=11.0)
    assert verdict.allowed and verdict.reason == "barge-in"


def test_a_doubtful_barge_in_is_ignored() -> None:
    gate = gate_with("Lie down on your stomach.", 10.0, None)
    assert not gate.judge(said(Intent.PAUSE, "pause", 10.5, 10.8, confidence=0.6), heard_at_s=11.0).allowed


def test_its_own_stop_does_not_stop_it() -> None:
    """'Stop the exercise now.' contains 'stop': that stop is our own echo."""
    gate = gate_with("Stop the exercise now.", 10.0, None)
    verdict = gate.judge(said(Intent.STOP, "stop", 10.0, 10.3), heard_at_s=10.5)
    assert not verdict.allowed and verdict.reason == "own words"
    assert gate.judge(said(Intent.PAUSE, "pause", 10.4, 10.7), heard_at_s=10.9).allowed


def test_the_recognizer_is_reset_once_after_each_stretch_of_speech() -> None:
    gate = gate_with("Keep breathing.", 10.0, None)
    assert not gate.should_reset(10.5)
    gate.observe(SpeechEnded("Keep breathing.", 11.0))
    assert gate.speaking(11.2) and not gate.should_reset(11.2)
    assert gate.should_reset(11.3) and not gate.should_reset(11.4)
    assert not gate.speaking(11.4)
