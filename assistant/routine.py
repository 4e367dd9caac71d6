"""Routines: exercises, their spoken lines and their dose, read from TOML and validated."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any, Final

from assistant.errors import RoutineError
from assistant.files import TEXT_LIMIT_BYTES, decode_text, read_regular_file

BUILTIN_ROUTINE: Final = "lower-back"
BOM: Final = "\ufeff"


class ExerciseKind(StrEnum):
    """How an exercise is dosed."""

    HOLD = "hold"
    """Hold a position for `hold_s`, `reps` times, resting `rest_s` between."""
    SLIDES = "slides"
    """Paced movements, `reps` on each of `sides`, each taking `rep_s`."""
    BREATHING = "breathing"
    """No count: goes on until the user says "done", or `duration_s` at most."""


class Advance(StrEnum):
    """What moves a paced exercise to its next repetition."""

    TIMER = "timer"
    NEXT = "next"
    """Wait for the user to say "next"."""


@dataclass(frozen=True, slots=True)
class Dose:
    """How much of an exercise: counts and seconds. Fields that do not apply are 0 or empty."""

    reps: int = 0
    """Repetitions (per side for slides); 0 for breathing."""
    hold_s: float = 0.0
    """Seconds of one hold."""
    rest_s: float = 0.0
    """Seconds of rest between repetitions (and between sides)."""
    rep_s: float = 0.0
    """Seconds one paced repetition takes."""
    sides: tuple[str, ...] = ()
    """Side names for slides, said in the cues ("right", "left")."""
    advance: Advance = Advance.TIMER
    duration_s: float = 0.0
    """Breathing: the gentle default length after which it ends by itself."""
    defaults: tuple[str, ...] = ()
    """Which of these numbers the source leaves open and we chose (documentation, changeable)."""


@dataclass(frozen=True, slots=True)
class Exercise:
    """One exercise, with everything the assistant says about it."""

    id: str
    name: str
    kind: ExerciseKind
    goal: tuple[str, ...]
    steps: tuple[str, ...]
    """Positioning instructions, one per sentence, in order."""
    feel: tuple[str, ...]
    """What a correct performance feels like."""
    mistakes: tuple[str, ...]
    """What an incorrect performance looks like: what to avoid."""
    rules: tuple[str, ...]
    """The source's repetition rules, said after the instructions."""
    reminders: tuple[str, ...]
    """Said during holds and breathing, spread out and rotated."""
    rep_cues: tuple[str, ...]
    """Slides: said through each repetition; "{side}" becomes the side's name."""
    dose: Dose

    @property
    def briefing(self) -> tuple[str, ...]:
        """Everything said before the exercise starts, in order."""
        return (*self.goal, *self.steps, *self.feel, *self.mistakes, *self.rules)


@dataclass(frozen=True, slots=True)
class Pacing:
    """Session-wide timing; every number here is a default of ours, not of the source."""

    step_gap_s: float = 3.0
    """Silence after each positioning step, to follow it."""
    line_gap_s: float = 1.0
    """Silence after other lines (introduction, goal, feel, mistakes, rules)."""
    confirm_timeout_s: float = 10.0
    """How long "End the session?" waits for yes or no before carrying on."""
    countdown_s: float = 10.0
    """When "ten seconds left" is said before the end of a hold or rest."""
    get_ready_s: float = 5.0
    """How long before a rest ends the next repetition is announced."""
    reminder_every_s: float = 15.0
    """Spacing of reminders during holds and breathing."""


@dataclass(frozen=True, slots=True)
class Routine:
    """A whole session's content."""

    name: str
    source: str
    """Credit line for the content."""
    opening: tuple[str, ...]
    closing: tuple[str, ...]
    pain_advice: tuple[str, ...]
    """Said at once when the user reports pain."""
    exercises: tuple[Exercise, ...]
    pacing: Pacing
    origin: str
    """Where it was read from (file path or built-in name), for messages."""
    notes: tuple[str, ...] = ()
    """What is odd about the file but does no harm (`assistant routine check` says it)."""

    def spoken_lines(self) -> list[str]:
        """Every fixed sentence of the routine (for pre-rendering speech)."""
        lines = [*self.opening, *self.closing, *self.pain_advice]
        for ex in self.exercises:
            lines += [ex.name, *ex.briefing, *ex.reminders]
            for side in ex.dose.sides or ("",):
                lines += [c.replace("{side}", side) for c in ex.rep_cues]
        return lines


# ---------------------------------------------------------------- validation


class _Reader:
    """Reads fields of one table, raising RoutineError that names file, place and field."""

    def __init__(self, origin: str, place: str, table: dict[str, Any]) -> None:
        self.origin = origin
        self.place = place
        self.table = table

    def fail(self, key: str, expected: str, got: object = None) -> RoutineError:
        seen = "it is missing" if got is None else f"got {got!r}"
        return RoutineError(
            "routine-field",
            f"{self.origin}: {self.place}, field '{key}': expected {expected}, {seen}.",
        )

    def text(self, key: str) -> str:
        value = self.table.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "a non-empty string", value)
        return value.strip()

    def lines(self, key: str, *, required: bool = True) -> tuple[str, ...]:
        value = self.table.get(key)
        if value is None and not required:
            return ()
        if (
            not isinstance(value, list)
            or (required and not value)
            or not all(isinstance(v, str) and v.strip() for v in value)
        ):
            raise self.fail(key, "a list of sentences (non-empty strings)", value)
        return tuple(v.strip() for v in value)

    def number(self, key: str, low: float, high: float, default: float | None = None) -> float:
        value = self.table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not (
            low <= value <= high
        ):
            raise self.fail(key, f"a number of seconds from {low:g} to {high:g}", value)
        return float(value)

    def count(self, key: str, low: int, high: int) -> int:
        value = self.table.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(key, f"a whole number from {low} to {high}", value)
        return value

    def choice(self, key: str, options: type[StrEnum], default: str | None = None) -> str:
        value = self.table.get(key, default)
        allowed = [o.value for o in options]
        if value not in allowed:
            raise self.fail(key, "one of " + ", ".join(repr(a) for a in allowed), value)
        return str(value)

    def table_of(self, key: str) -> dict[str, Any]:
        value = self.table.get(key)
        if not isinstance(value, dict):
            raise self.fail(key, "a table", value)
        return value

    def no_unknown(self, known: set[str]) -> None:
        for key in self.table:
            if key not in known:
                raise RoutineError(
                    "routine-field",
                    f"{self.origin}: {self.place}: unknown field '{key}'; "
                    f"expected one of: {', '.join(sorted(known))}.",
                )


_DOSE_FIELDS: Final = {
    ExerciseKind.HOLD: {"reps", "hold_s", "rest_s"},
    ExerciseKind.SLIDES: {"reps", "rep_s", "rest_s", "sides", "advance"},
    ExerciseKind.BREATHING: {"duration_s"},
}
_EXERCISE_FIELDS: Final = {
    "id", "name", "kind", "goal", "steps", "feel", "mistakes", "rules", "reminders", "rep_cues",
    "dose",
}


def _read_dose(origin: str, place: str, kind: ExerciseKind, table: dict[str, Any]) -> Dose:
    r = _Reader(origin, f"{place}, dose", table)
    fields = _DOSE_FIELDS[kind]
    r.no_unknown(fields | {"defaults"})
    defaults = r.lines("defaults", required=False)
    for name in defaults:
        if name not in fields:
            raise r.fail("defaults", f"names of this dose's fields ({', '.join(sorted(fields))})",
                         name)
    if kind is ExerciseKind.HOLD:
        return Dose(
            reps=r.count("reps", 1, 50),
            hold_s=r.number("hold_s", 5, 600),
            rest_s=r.number("rest_s", 0, 600),
            defaults=defaults,
        )
    if kind is ExerciseKind.SLIDES:
        sides = r.lines("sides", required=False) or ("",)
        return Dose(
            reps=r.count("reps", 1, 50),
            rep_s=r.number("rep_s", 2, 120),
            rest_s=r.number("rest_s", 0, 600),
            sides=sides,
            advance=Advance(r.choice("advance", Advance, default=Advance.TIMER.value)),
            defaults=defaults,
        )
    return Dose(duration_s=r.number("duration_s", 10, 3600), defaults=defaults)


def _read_exercise(origin: str, index: int, table: object) -> Exercise:
    place = f"exercise {index}"
    if not isinstance(table, dict):
        raise RoutineError("routine-field", f"{origin}: {place}: expected a table.")
    r = _Reader(origin, place, table)
    ex_id = r.text("id")
    r.place = f"exercise {index} ('{ex_id}')"
    r.no_unknown(_EXERCISE_FIELDS)
    kind = ExerciseKind(r.choice("kind", ExerciseKind))
    rep_cues = r.lines("rep_cues", required=kind is ExerciseKind.SLIDES)
    return Exercise(
        id=ex_id,
        name=r.text("name"),
        kind=kind,
        goal=r.lines("goal"),
        steps=r.lines("steps"),
        feel=r.lines("feel", required=False),
        mistakes=r.lines("mistakes"),
        rules=r.lines("rules", required=False),
        reminders=r.lines("reminders", required=kind is not ExerciseKind.SLIDES),
        rep_cues=rep_cues,
        dose=_read_dose(origin, r.place, kind, r.table_of("dose")),
    )


def parse_routine(data: dict[str, Any], origin: str) -> Routine:
    """Validate parsed TOML into a Routine; RoutineError names the field that is wrong."""
    top = _Reader(origin, "top level", data)
    top.no_unknown({"routine", "pacing", "exercises"})
    head = _Reader(origin, "[routine]", top.table_of("routine"))
    head.no_unknown({"name", "source", "opening", "closing", "pain_advice"})
    pacing_table = data.get("pacing", {})
    if not isinstance(pacing_table, dict):
        raise top.fail("pacing", "a table", pacing_table)
    p = _Reader(origin, "[pacing]", pacing_table)
    p.no_unknown({"step_gap_s", "line_gap_s", "confirm_timeout_s", "countdown_s", "get_ready_s",
                  "reminder_every_s"})
    base = Pacing()
    pacing = Pacing(
        step_gap_s=p.number("step_gap_s", 0, 60, base.step_gap_s),
        line_gap_s=p.number("line_gap_s", 0, 60, base.line_gap_s),
        confirm_timeout_s=p.number("confirm_timeout_s", 3, 120, base.confirm_timeout_s),
        countdown_s=p.number("countdown_s", 3, 60, base.countdown_s),
        get_ready_s=p.number("get_ready_s", 0, 60, base.get_ready_s),
        reminder_every_s=p.number("reminder_every_s", 5, 300, base.reminder_every_s),
    )
    listed = data.get("exercises")
    if not isinstance(listed, list) or not listed:
        raise top.fail("exercises", "one or more [[exercises]] tables", listed)
    exercises = tuple(_read_exercise(origin, i, t) for i, t in enumerate(listed, start=1))
    ids = [e.id for e in exercises]
    for ex_id in ids:
        if ids.count(ex_id) > 1:
            raise RoutineError("routine-field", f"{origin}: exercise id '{ex_id}' is used twice.")
    return Routine(
        name=head.text("name"),
        source=head.text("source"),
        opening=head.lines("opening"),
        closing=head.lines("closing", required=False),
        pain_advice=head.lines("pain_advice"),
        exercises=exercises,
        pacing=pacing,
        origin=origin,
    )


def builtin_routine_names() -> list[str]:
    """Names of the routines shipped in the package."""
    folder = resources.files("assistant.routines")
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def routine_text(name_or_path: str | Path = BUILTIN_ROUTINE) -> tuple[str, str]:
    """The TOML text of a routine and where it came from, for a built-in name or a file path."""
    as_text = str(name_or_path)
    if as_text in builtin_routine_names():
        source = resources.files("assistant.routines").joinpath(f"{as_text}.toml")
        return source.read_text(encoding="utf-8"), f"built-in routine '{as_text}'"
    path = Path(as_text).expanduser()
    if not path.exists():
        names = ", ".join(builtin_routine_names())
        raise RoutineError(
            "routine-missing",
            f"No routine file at {path} and no built-in routine of that name "
            f"(built-in: {names}); pass --routine with a .toml file or a built-in name.",
        )
    return decode_text(read_regular_file(path, "routine file", RoutineError, TEXT_LIMIT_BYTES), str(path),
                       RoutineError), str(path)


def load_routine(name_or_path: str | Path = BUILTIN_ROUTINE) -> Routine:
    """Read and validate a routine by built-in name or path; RoutineError if anything is wrong."""
    text, origin = routine_text(name_or_path)
    notes = ("it starts with a UTF-8 byte-order mark, which is ignored",) if text.startswith(BOM) else ()
    try:
        data = tomllib.loads(text.removeprefix(BOM))
    except tomllib.TOMLDecodeError as err:
        raise RoutineError("routine-toml", f"{origin}: not valid TOML: {err}.") from err
    except RecursionError as err:  # tomllib recurses once per level of nesting
        raise RoutineError("routine-toml", f"{origin}: its values are nested far too deeply to be a routine.") \
            from err
    return dataclasses.replace(parse_routine(data, origin), notes=notes)
