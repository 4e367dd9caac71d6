"""Every sentence a session can be expected to say, so all of it is rendered before it starts."""

from __future__ import annotations

from typing import Final

from assistant.cues import CueTable
from assistant.routine import ExerciseKind, Routine
from assistant.session import spoken_duration

_SUMMARY_MINUTES: Final = 45
"""Sessions up to this long get their closing summary line rendered ahead."""
_SPEECH_MARGIN_S: Final = 15
"""A timer is asked about from when its cue starts, so it can show a little more than its length."""


def predicted_lines(routine: Routine, cues: CueTable) -> list[str]:
    """Sentences made on the fly from the cue table that the routine's numbers predict.

    "Repetition 3 of 5. Hold the position.", "Slide 2 of 5, left leg.", the countdown,
    the rest and the summary line of an exercise done in full.
    """
    lines: list[str] = []
    total = len(routine.exercises)
    pacing = routine.pacing
    for number, ex in enumerate(routine.exercises, start=1):
        dose = ex.dose
        lines.append(cues.say("exercise_intro", number=number, total=total, name=ex.name))
        reps = range(1, dose.reps + 1)
        if ex.kind is ExerciseKind.HOLD:
            lines += [cues.say("hold_start", rep=r, reps=dose.reps) for r in reps]
            lines += [cues.say("get_ready", rep=r, reps=dose.reps) for r in reps]
            lines.append(cues.say("rest_start", seconds=round(dose.rest_s)))
            if pacing.countdown_s < dose.hold_s:
                lines.append(cues.say("countdown", seconds=round(pacing.countdown_s)))
            lines.append(cues.say("summary_done", name=ex.name,
                                  detail=cues.say("detail_hold", count=dose.reps, reps=dose.reps)))
        elif ex.kind is ExerciseKind.SLIDES:
            for side in dose.sides:
                lines += [cues.say("slide_start", rep=r, reps=dose.reps, side=side) for r in reps]
                lines.append(cues.say("change_sides", side=side))
            if not dose.sides:
                lines += [cues.say("slide_start_no_side", rep=r, reps=dose.reps) for r in reps]
            lines.append(cues.say("rest_start", seconds=round(dose.rest_s)))
            slides = dose.reps * max(1, len(dose.sides))
            lines.append(cues.say("summary_done", name=ex.name,
                                  detail=cues.say("detail_slides", count=slides, total=slides)))
        lines.append(cues.say("summary_skipped", name=ex.name))
        lines.append(cues.say("summary_not_reached", name=ex.name))
    # The summary's length of the session: whole minutes from 90 s on (as the session rounds).
    lines.append(cues.say("summary_start", minutes=cues.say("minutes_one")))
    lines += [cues.say("summary_start", minutes=cues.say("minutes_many", count=m))
              for m in range(2, _SUMMARY_MINUTES + 1)]
    return lines


def number_lines(routine: Routine, cues: CueTable) -> list[str]:
    """Every sentence with a number the session can say besides those of `predicted_lines`.

    "About 35 seconds left." for every second of every timer, slides left, the summary of a
    session stopped early or cut short (any count, any short length) and the offer to resume
    at each exercise: about 250 more sentences for the built-in routine, rendered once and
    then cached on disk. Low power prepares them, so that nothing is synthesized mid-session.
    """
    lines: list[str] = []
    total = len(routine.exercises)
    longest = max((max(ex.dose.hold_s, ex.dose.rest_s, ex.dose.duration_s) for ex in routine.exercises),
                  default=0.0)
    lines += [cues.say("time_left", time=spoken_duration(cues, s, about=True))
              for s in range(round(longest) + _SPEECH_MARGIN_S + 1)]
    lines += [cues.say("summary_start", minutes=spoken_duration(cues, s)) for s in range(90)]
    for number, ex in enumerate(routine.exercises, start=1):
        dose = ex.dose
        lines.append(cues.say("resume_offer", number=number, total=total, name=ex.name))
        if ex.kind is ExerciseKind.HOLD:
            details = [cues.say("detail_hold", count=c, reps=dose.reps) for c in range(dose.reps + 1)]
        elif ex.kind is ExerciseKind.SLIDES:
            slides = dose.reps * max(1, len(dose.sides))
            details = [cues.say("detail_slides", count=c, total=slides) for c in range(slides + 1)]
            lines += [cues.say("time_left_slides", count=f"{n} {'slide' if n == 1 else 'slides'}")
                      for n in range(1, dose.reps + 1)]
        else:
            details = [cues.say("detail_breathing", time=spoken_duration(cues, s))
                       for s in range(round(dose.duration_s) + _SPEECH_MARGIN_S + 1)]
        lines += [cues.say("summary_done", name=ex.name, detail=d) for d in dict.fromkeys(details)]
    return lines


def session_lines(routine: Routine, cues: CueTable, *, every_number: bool = False) -> list[str]:
    """Everything to pre-render for a session of `routine`, each sentence once, in order.

    `every_number` (low power) adds `number_lines`: then everything the session can say about
    its own progress is ready before it starts.
    """
    every = [*routine.spoken_lines(), *cues.all_fixed(), *predicted_lines(routine, cues)]
    if every_number:
        every += number_lines(routine, cues)
    return list(dict.fromkeys(t for t in every if t.strip()))
