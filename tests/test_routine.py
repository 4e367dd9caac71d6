"""Routine files: the shipped one is valid, and a wrong one is named precisely before starting."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import tomli_w

from assistant.errors import RoutineError
from assistant.routine import ExerciseKind, load_routine, routine_text

GOOD = routine_text()[0]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "my-routine.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_routine_loads_with_three_exercises_and_their_doses() -> None:
    """The article's routine: hold 5 x 1 min, 5 slides a leg, breathing until done."""
    routine = load_routine("lower-back")
    assert [e.kind for e in routine.exercises] == [ExerciseKind.HOLD, ExerciseKind.SLIDES,
                                                    ExerciseKind.BREATHING]
    for ex in routine.exercises:
        assert ex.goal and ex.steps and ex.mistakes, ex.id
    assert routine.exercises[0].feel and routine.exercises[2].feel
    assert routine.pain_advice and routine.opening


def test_every_spoken_sentence_is_short() -> None:
    """Sentences are written for listening: no line runs past 20 words."""
    for line in load_routine().spoken_lines():
        assert len(line.split()) <= 20, line


def test_a_copy_of_the_shipped_routine_works_as_a_routine_file(tmp_path: Path) -> None:
    """`assistant routine show > my.toml` gives a file that --routine accepts."""
    routine = load_routine(write(tmp_path, GOOD))
    assert routine.exercises == load_routine().exercises


def _changed(path: list[str | int], value: object) -> str:
    """The shipped routine with one value replaced (or removed, for None), as TOML text."""
    data = tomllib.loads(GOOD)
    target = data
    for key in path[:-1]:
        target = target[key]  # type: ignore[index]
    if value is None:
        del target[path[-1]]  # type: ignore[arg-type]
    else:
        target[path[-1]] = value  # type: ignore[index]
    return tomli_w.dumps(data)


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (["exercises", 0, "dose", "reps"], "five",
         "exercise 1 ('pelvis-under-trunk'), dose, field 'reps': expected a whole number from 1 to 50, "
         "got 'five'"),
        (["exercises", 0, "dose", "hold_s"], -3,
         "field 'hold_s': expected a number of seconds from 5 to 600, got -3"),
        (["exercises", 1, "kind"], "jumping",
         "exercise 2 ('knee-slide'), field 'kind': expected one of 'hold', 'slides', 'breathing'"),
        (["exercises", 1, "steps"], None, "field 'steps': expected a list of sentences"),
        (["exercises", 1, "steps"], ["Lie down.", 7], "field 'steps': expected a list of sentences"),
        (["exercises", 2, "colour"], "blue", "exercise 3 ('breathing-legs-on-chair'): unknown field 'colour'"),
        (["exercises", 1, "dose", "advance"], "clap", "field 'advance': expected one of 'timer', 'next'"),
        (["exercises", 0, "dose", "defaults"], ["speed"], "field 'defaults': expected names of this dose"),
        (["exercises", 2, "id"], "pelvis-under-trunk", "exercise id 'pelvis-under-trunk' is used twice"),
        (["routine", "name"], "", "[routine], field 'name': expected a non-empty string"),
        (["pacing", "step_gap_s"], "slow", "[pacing], field 'step_gap_s': expected a number of seconds"),
        (["exercises"], [], "field 'exercises': expected one or more [[exercises]] tables"),
    ],
)
def test_a_wrong_routine_file_names_the_file_the_field_and_what_was_expected(
    tmp_path: Path, path: list[str | int], value: object, expected: str
) -> None:
    """Each kind of mistake in a routine file is named precisely."""
    routine_file = write(tmp_path, _changed(path, value))
    with pytest.raises(RoutineError) as caught:
        load_routine(routine_file)
    assert str(routine_file) in caught.value.message
    assert expected in caught.value.message


def test_a_routine_file_that_is_not_toml_says_where_it_breaks(tmp_path: Path) -> None:
    routine_file = write(tmp_path, "[routine\nname = 1\n")
    with pytest.raises(RoutineError, match="not valid TOML"):
        load_routine(routine_file)


def test_a_missing_routine_file_lists_the_built_in_ones(tmp_path: Path) -> None:
    with pytest.raises(RoutineError, match="built-in: lower-back"):
        load_routine(tmp_path / "nope.toml")


def test_a_wrong_routine_stops_the_session_before_it_starts_with_one_line(tmp_path: Path) -> None:
    """The command line: exit 2, one sentence naming file and field, no traceback, nothing said."""
    routine_file = write(tmp_path, _changed(["exercises", 0, "dose", "reps"], 0))
    script = tmp_path / "s.txt"
    script.write_text("5 next\n")
    done = subprocess.run(
        [sys.executable, "-m", "assistant", "run", "--text", "--script", str(script),
         "--routine", str(routine_file)],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert "field 'reps'" in done.stderr and str(routine_file) in done.stderr
    assert "Traceback" not in done.stderr
