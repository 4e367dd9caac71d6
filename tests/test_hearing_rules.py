"""What counts as a command once the words are recognized (pure: no engine, explicit seconds)."""

from __future__ import annotations

from assistant.commands import Grammar, Intent
from assistant.listening import HearingSettings, Word, commands_in

RULES = HearingSettings(min_confidence=0.6, max_other_words=1, max_utterance_s=2.0)


def _words(*spoken: tuple[str, float], start_s: float = 1.0, each_s: float = 0.3) -> list[Word]:
    return [Word(text, conf, start_s + i * each_s, start_s + (i + 1) * each_s) for i, (text, conf) in enumerate(spoken)]


def test_a_command_said_alone_is_heard_with_its_times(english: Grammar) -> None:
    (command,) = commands_in(_words(("how", 0.9), ("long", 0.8), ("left", 0.95)), english, RULES, emitted_s=2.3)
    assert (command.intent, command.phrase, command.confidence) == (Intent.TIME_LEFT, "how long left", 0.8)
    assert (command.start_s, command.end_s, command.emitted_s) == (1.0, 1.9, 2.3)


def test_unknown_words_and_decoys_are_dropped(english: Grammar) -> None:
    """'[unk] next' (a cough, then the command) is still a command; a decoy alone is nothing."""
    (command,) = commands_in(_words(("[unk]", 1.0), ("next", 0.9)), english, RULES, emitted_s=2.0)
    assert command.intent is Intent.NEXT and command.start_s == 1.3
    assert commands_in(_words(("nest", 1.0)), english, RULES, emitted_s=2.0) == []
    assert commands_in(_words(("[unk]", 1.0)), english, RULES, emitted_s=2.0) == []


def test_a_command_inside_a_sentence_is_not_obeyed(english: Grammar) -> None:
    """'you can say pause at any time' is the assistant talking (or the user chatting)."""
    sentence = _words(("you", 1), ("can", 1), ("say", 1), ("pause", 1), ("at", 1), ("[unk]", 1), ("time", 1))
    assert commands_in(sentence, english, RULES, emitted_s=4.0) == []


def test_two_different_commands_at_once_are_not_guessed_between(english: Grammar) -> None:
    assert commands_in(_words(("yes", 1.0), ("no", 1.0)), english, RULES, emitted_s=2.0) == []


def test_an_uncertain_word_is_not_acted_on(english: Grammar) -> None:
    assert commands_in(_words(("stop", 0.59)), english, RULES, emitted_s=2.0) == []


def test_a_long_stretch_of_speech_is_talk(english: Grammar) -> None:
    """A single command word dragged over 3 s is how a forced grammar fit of a sentence looks."""
    assert commands_in(_words(("stop", 1.0), each_s=3.0), english, RULES, emitted_s=5.0) == []


def test_acting_early_on_a_phrase_cannot_pick_the_wrong_intent(english: Grammar) -> None:
    """Vosk may act on "next" before it could become "next exercise": every phrase that starts
    another one means the same thing, so acting early never changes what is done."""
    for short, intent in english.phrases.items():
        for longer, other in english.phrases.items():
            if longer.startswith(short + " "):
                assert other is intent, f"'{short}' ({intent}) starts '{longer}' ({other})"
