"""The second opinion's rule (assistant/verifier.verdict), with the probabilities given: what the
person's words become once PocketSphinx and the embedding have each said what they heard."""

from __future__ import annotations

from assistant.verifier import MIN_AGREEMENT, MIN_ALONE, NONE, Opinion, verdict

LONGEST_S = 2.0
"""HearingSettings.max_utterance_s, the longest a command said on its own is taken to be."""


def opinion(**probabilities: float) -> Opinion:
    return Opinion({NONE: 1.0 - sum(probabilities.values()), **probabilities})


def test_a_command_the_second_opinion_finds_at_all_likely_is_kept() -> None:
    assert verdict(opinion(next=MIN_AGREEMENT, back=0.9), "next", 0.6, LONGEST_S) == "next"


def test_a_command_the_second_opinion_finds_unlikely_is_dropped() -> None:
    """"start my session" heard as "slower": the embedding heard something else."""
    assert verdict(opinion(slower=MIN_AGREEMENT / 2, start=0.8), "slower", 0.9, LONGEST_S) is None


def test_stop_pause_and_pain_are_never_dropped() -> None:
    """A stop not heard is worse than one heard in error: the session asks before it ends."""
    for intent in ("stop", "pause", "pain"):
        assert verdict(opinion(quieter=0.95), intent, 0.6, LONGEST_S) == intent


def test_a_short_utterance_the_grammar_missed_is_the_second_opinions_when_it_is_sure() -> None:
    assert verdict(opinion(back=MIN_ALONE), None, 0.7, LONGEST_S) == "back"
    assert verdict(opinion(back=MIN_ALONE - 0.01), None, 0.7, LONGEST_S) is None


def test_the_end_of_a_long_sentence_is_never_taken_for_a_command() -> None:
    """The window holds the last 1.7 s only: a 2.9 s sentence of the coach's, rejected as talk by
    the grammar, ended like "how long" to the embedding (a CI run, before this rule)."""
    assert verdict(opinion(time_left=0.95), None, 2.9, LONGEST_S) is None
    assert verdict(opinion(time_left=0.95), None, LONGEST_S, LONGEST_S) == "time_left"
