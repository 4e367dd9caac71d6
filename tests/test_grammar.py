"""The phrase table: typed and spoken phrases map to intents the same way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.commands import UNKNOWN_WORD, Intent, load_grammar
from assistant.errors import GrammarError


def test_every_intent_has_phrases_and_each_phrase_one_intent() -> None:
    grammar = load_grammar()
    for intent in Intent:
        assert grammar.phrases_for(intent), intent
    assert grammar.recognizer_phrases()[-1] == UNKNOWN_WORD


@pytest.mark.parametrize(
    ("typed", "intent"),
    [("next", Intent.NEXT), ("Next!", Intent.NEXT), ("  next   step ", Intent.NEXT),
     ("How long?", Intent.TIME_LEFT), ("I\u2019m done", Intent.DONE), ("It hurts.", Intent.PAIN),
     ("CONTINUE", Intent.RESUME), ("what can I say", Intent.HELP)],
)
def test_typed_phrases_match_regardless_of_case_and_punctuation(typed: str, intent: Intent) -> None:
    assert load_grammar().match(typed) is intent


def test_words_that_are_no_command_match_nothing() -> None:
    grammar = load_grammar()
    assert grammar.match("next please and then some") is None
    assert grammar.match("") is None


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "g.json"
    path.write_text(json.dumps(data))
    return path


def test_a_phrase_listed_for_two_intents_is_refused(tmp_path: Path) -> None:
    data = json.loads((Path(__file__).parents[1] / "grammars" / "en.json").read_text())
    data["intents"]["skip"].append("next")
    with pytest.raises(GrammarError, match="'next' is listed for both"):
        load_grammar(_write(tmp_path, data))


def test_an_unknown_intent_is_refused(tmp_path: Path) -> None:
    data = json.loads((Path(__file__).parents[1] / "grammars" / "en.json").read_text())
    data["intents"]["dance"] = ["dance"]
    with pytest.raises(GrammarError, match="unknown intent 'dance'"):
        load_grammar(_write(tmp_path, data))


def test_a_grammar_that_is_not_json_says_where(tmp_path: Path) -> None:
    path = tmp_path / "g.json"
    path.write_text("{ nope")
    with pytest.raises(GrammarError, match="not valid JSON at line 1"):
        load_grammar(path)
