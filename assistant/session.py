"""The guided session: a `transitions` state machine over one routine. No threads, no I/O.

The session is told what happened (`hear(command)`, `check_time()`) and announces what to
say and what changed through one callback. Time comes from the injected clock; deadlines
are data on the model, so pausing freezes them and resuming shifts them by the pause.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Final, TypeAlias

from transitions import Machine

from assistant.clock import Clock
from assistant.commands import Command, Intent
from assistant.cues import CueTable, load_cues
from assistant.events import SessionEvent, SessionEventType
from assistant.routine import Advance, Exercise, ExerciseKind, Routine
from assistant.speaking import estimate_speech_s

_LOGGER = logging.getLogger(__name__)

Announce: TypeAlias = Callable[[SessionEvent], None]
DurationOf: TypeAlias = Callable[[str], float]

_PACE_STEP: Final = 1.25
"""How much "slower" stretches the pause after instructions and the pace of slides."""
_PACE_LIMITS: Final = (0.5, 2.5)
_TICKS_S: Final = (3.0, 2.0, 1.0)
"""Countdown beeps this many seconds before a hold ends."""



def spoken_duration(cues: CueTable, seconds: float, *, about: bool = False) -> str:
    """'45 seconds', '2 minutes', '1 minute 10 seconds'; `about` rounds to 5 s above 20 s.

    A function of its own so that the speech to prepare can be predicted (speech_lines).
    """
    total = round(seconds)
    if about and total > 20:
        total = 5 * round(total / 5)
    if not about and total >= 90:
        total = 60 * round(total / 60)
    minutes, secs = divmod(total, 60)
    parts = []
    if minutes:
        parts.append(cues.say("minutes_one") if minutes == 1 else cues.say("minutes_many", count=minutes))
    if secs or not minutes:
        parts.append(cues.say("seconds_one") if secs == 1 else cues.say("seconds_many", count=secs))
    return " ".join(parts)

class SessionState(Enum):
    """Where the session is."""

    IDLE = "idle"
    OPENING = "opening"
    INSTRUCTING = "instructing"
    HOLDING = "holding"
    RESTING = "resting"
    MOVING = "moving"
    BREATHING = "breathing"
    PAUSED = "paused"
    CONFIRMING_STOP = "confirming_stop"
    OFFERING_RESUME = "offering_resume"
    FINISHED = "finished"


class CueKind(Enum):
    """What a sentence is; `INSTRUCTION`s are what "repeat" says again."""

    INSTRUCTION = "instruction"
    INFO = "info"
    COUNTDOWN = "countdown"
    WARNING = "warning"
    EARCON = "earcon"
    """Not words: a short tone named by the text ("tick", "rep_start", "rep_end")."""


S = SessionState
ACTIVE_STATES: Final = (S.OPENING, S.INSTRUCTING, S.HOLDING, S.RESTING, S.MOVING, S.BREATHING)
"""States in which the session is running: pause, stop and pain work from each."""
_ACTIVE: Final = [S.OPENING, S.INSTRUCTING, S.HOLDING, S.RESTING, S.MOVING, S.BREATHING]
_ACTION: Final = [S.HOLDING, S.RESTING, S.MOVING, S.BREATHING]
_EXERCISE: Final = [S.INSTRUCTING, *_ACTION]
_VOICE: Final = ["louder", "quieter", "slower", "faster"]
_QUESTIONS: Final = (S.CONFIRMING_STOP, S.OFFERING_RESUME)
"""States that wait for yes or no, for a while."""


def _finish_exercise(trigger: str, source: Any, before: list[str]) -> list[dict[str, Any]]:
    """Rules that end the current exercise: on to the next one, or the summary after the last."""
    return [
        {"trigger": trigger, "source": source, "dest": S.INSTRUCTING,
         "conditions": "has_next_exercise", "before": [*before, "end_exercise"],
         "after": "start_next_exercise"},
        {"trigger": trigger, "source": source, "dest": S.FINISHED,
         "before": [*before, "end_exercise"], "after": "finish_session"},
    ]


# One rule per line; the first rule whose conditions hold wins. `time_up` is the clock's trigger.
TRANSITIONS: Final[list[dict[str, Any]]] = [
    {"trigger": "start", "source": S.IDLE, "dest": S.OPENING, "after": "start_opening"},
    # after an interrupted session: continue where it stopped (yes), or afresh (no, silence)
    {"trigger": "offer_resume", "source": S.IDLE, "dest": S.OFFERING_RESUME, "after": "ask_to_resume"},
    {"trigger": "yes", "source": S.OFFERING_RESUME, "dest": S.INSTRUCTING, "after": "resume_session"},
    *[{"trigger": t, "source": S.OFFERING_RESUME, "dest": S.OPENING, "after": "start_afresh"}
      for t in ("no", "time_up")],
    # opening: the article's introduction, line by line; next or skip go to exercise 1
    {"trigger": "time_up", "source": S.OPENING, "dest": None, "unless": "is_last_line", "after": "say_next_line"},
    *[{"trigger": t, "source": S.OPENING, "dest": S.INSTRUCTING, "after": "start_first_exercise"}
      for t in ("time_up", "next", "skip")],
    # instructing: positioning lines; next (or done) says the next one sooner
    *[r for t in ("time_up", "next", "done") for r in (
        {"trigger": t, "source": S.INSTRUCTING, "dest": None, "unless": "is_last_line", "after": "say_next_line"},
        {"trigger": t, "source": S.INSTRUCTING, "dest": S.HOLDING, "conditions": "is_hold", "after": "start_hold"},
        {"trigger": t, "source": S.INSTRUCTING, "dest": S.MOVING, "conditions": "is_slides", "after": "start_slide"},
        {"trigger": t, "source": S.INSTRUCTING, "dest": S.BREATHING, "after": "start_breathing"},
    )],
    {"trigger": "back", "source": [S.OPENING, S.INSTRUCTING], "dest": None, "conditions": "has_previous_line", "after": "say_previous_line"},
    {"trigger": "back", "source": S.INSTRUCTING, "dest": S.INSTRUCTING, "conditions": "has_previous_exercise", "after": "start_previous_exercise"},
    {"trigger": "back", "source": [S.OPENING, S.INSTRUCTING], "dest": None, "after": "say_first_line_again"},
    {"trigger": "back", "source": _ACTION, "dest": S.INSTRUCTING, "before": "abandon_rep", "after": "start_positioning"},
    # holding: the clock (or next) ends a hold; rest between, the summary after the last
    *[r for t in ("time_up", "next") for r in (
        {"trigger": t, "source": S.HOLDING, "dest": S.RESTING, "unless": "is_last_rep", "before": "end_rep", "after": "start_rest"},
        *_finish_exercise(t, S.HOLDING, ["end_rep"]),
        {"trigger": t, "source": S.RESTING, "dest": S.HOLDING, "conditions": "is_hold", "after": "start_hold"},
        {"trigger": t, "source": S.RESTING, "dest": S.MOVING, "after": "start_slide"},
    )],
    # moving: paced slides, side after side
    *[r for t in ("time_up", "next", "done") for r in (
        {"trigger": t, "source": S.MOVING, "dest": S.MOVING, "unless": "is_last_rep_of_side", "before": "end_rep", "after": "start_slide"},
        {"trigger": t, "source": S.MOVING, "dest": S.RESTING, "unless": "is_last_rep", "before": "end_rep", "after": "start_side_change"},
        *_finish_exercise(t, S.MOVING, ["end_rep"]),
        *_finish_exercise(t, S.BREATHING, ["end_breathing"]),
    )],
    *_finish_exercise("skip", _EXERCISE, ["skip_exercise"]),
    *[{**r, "conditions": "has_exercise"} for r in _finish_exercise("skip", S.PAUSED, ["skip_exercise"])],
    # a skip heard with low confidence was asked about: yes confirms it
    *[{**r, "conditions": "skip_is_pending"} for r in _finish_exercise("yes", _EXERCISE, ["skip_exercise"])],
    # pause and resume: timers freeze, and resume goes back to exactly where it left
    {"trigger": "pause", "source": _ACTIVE, "dest": S.PAUSED, "before": "freeze", "after": "announce_pause"},
    {"trigger": "pause", "source": S.PAUSED, "dest": None, "after": "say_already_paused"},
    *[{"trigger": "resume", "source": S.PAUSED, "dest": s, "conditions": "returns_here", "after": "carry_on"}
      for s in _ACTIVE],
    # a microphone or speaker vanished: pause; resume by itself when it is back (or when told)
    {"trigger": "device_lost", "source": [*_ACTIVE, S.CONFIRMING_STOP], "dest": S.PAUSED, "before": "freeze", "after": "announce_device_lost"},
    {"trigger": "device_lost", "source": S.PAUSED, "dest": None, "after": "announce_device_lost"},
    *[{"trigger": "device_back", "source": S.PAUSED, "dest": s, "conditions": ["paused_for_device", "returns_here"], "after": "carry_on"}
      for s in _ACTIVE],
    # stop asks first; yes ends, no or silence carries on where it was
    {"trigger": "stop", "source": [*_ACTIVE, S.PAUSED], "dest": S.CONFIRMING_STOP, "before": "freeze", "after": "ask_to_stop"},
    {"trigger": "yes", "source": S.CONFIRMING_STOP, "dest": S.FINISHED, "before": "abandon_rep", "after": "finish_session"},
    *[{"trigger": t, "source": S.CONFIRMING_STOP, "dest": s, "conditions": "returns_here", "after": "carry_on"}
      for t in ("no", "time_up") for s in (*_ACTIVE, S.PAUSED)],
    # pain: pause at once, advise, offer skip or stop
    {"trigger": "pain", "source": [*_ACTIVE, S.CONFIRMING_STOP], "dest": S.PAUSED, "before": "freeze", "after": "advise_on_pain"},
    {"trigger": "pain", "source": [S.PAUSED, S.IDLE, S.OFFERING_RESUME, S.FINISHED], "dest": None, "after": "advise_on_pain"},
    # said in place, wherever they make sense
    {"trigger": "repeat", "source": [s for s in S if s is not S.IDLE], "dest": None, "conditions": "has_said_something", "after": "say_again"},
    {"trigger": "help", "source": "*", "dest": None, "after": "say_help"},
    {"trigger": "time_left", "source": [*_ACTION, S.PAUSED, S.CONFIRMING_STOP], "dest": None, "conditions": "has_timer", "after": "say_time_left"},
    {"trigger": "mistakes", "source": [*_EXERCISE, S.PAUSED, S.CONFIRMING_STOP], "dest": None, "conditions": "has_exercise", "after": "say_mistakes"},
    *[{"trigger": v, "source": "*", "dest": None, "after": "change_voice"} for v in _VOICE],
    {"trigger": "progress", "source": "*", "dest": None, "after": "say_progress"},
]  # fmt: skip


@dataclass(slots=True)
class _Timer:
    """The running phase's deadline and the sentences due before it (session seconds)."""

    ends_at_s: float | None = None
    cues: list[tuple[float, str, CueKind]] = field(default_factory=list)

    def shift(self, by_s: float) -> None:
        if self.ends_at_s is not None:
            self.ends_at_s += by_s
        self.cues = [(at + by_s, text, kind) for at, text, kind in self.cues]

    def next_at(self) -> float | None:
        times = [t for t in (self.ends_at_s, self.cues[0][0] if self.cues else None) if t is not None]
        return min(times) if times else None


@dataclass(frozen=True, slots=True)
class ResumePoint:
    """Where an interrupted session stopped, from the history."""

    token: int
    """The history's id of the interrupted session."""
    ex_index: int
    rep: int
    """The repetition that was under way (1-based); completed ones are in `progress`."""
    side_index: int
    progress: tuple[tuple[str, int, float], ...]
    """Per exercise: status, completed repetitions, active seconds."""
    elapsed_s: float
    """How long the interrupted session had been going."""
    briefed: bool = False
    """The exercise's repetitions had begun: its briefing was heard, and only the positioning
    steps are said again before the repetition."""


@dataclass(slots=True)
class ExerciseProgress:
    """What was done of one exercise."""

    status: str = "not reached"
    """"not reached", "started", "done" or "skipped"."""
    reps_done: int = 0
    """Completed holds or slides (all sides together)."""
    active_s: float = 0.0
    """Seconds spent holding, sliding or breathing, pauses excluded."""


class Session:
    """The model of the session machine: routine position, timers and progress."""

    if TYPE_CHECKING:  # bound by transitions.Machine at run time

        def trigger(self, name: str, **kwargs: Any) -> bool: ...
        def may_trigger(self, name: str) -> bool: ...

        state: SessionState

    def __init__(
        self,
        routine: Routine,
        clock: Clock,
        announce: Announce,
        *,
        duration_of: DurationOf = estimate_speech_s,
        cues: CueTable | None = None,
        resume_point: ResumePoint | None = None,
        progress_report: Callable[[], str] | None = None,
        confirm_below: float = 0.0,
    ) -> None:
        self.routine = routine
        self.clock = clock
        self._announce = announce
        self.duration_of = duration_of
        self.cues = cues or load_cues()
        self.resume_point = resume_point
        self.confirm_below = confirm_below
        """Commands that drop an exercise (skip) below this confidence are asked about first."""
        self.skip_pending_until_s: float | None = None
        self.pause_reason = ""
        self.progress_report = progress_report
        self.pace = 1.0
        self.ex_index = 0
        self.line_index = 0
        self.lines: tuple[str, ...] = ()
        self.steps_at = 0
        """Where the positioning steps begin in `lines`."""
        self.rep = 1
        self.side_index = 0
        self.phase_started_s = 0.0
        self.timer = _Timer()
        self.frozen_at_s: float | None = None
        self.paused_from: SessionState | None = None
        self.confirm_from: SessionState | None = None
        self.question_ends_at_s: float | None = None
        self.last_instruction: list[str] = []
        self.started_at_s: float | None = None
        self.ended_at_s: float | None = None
        self.done_so_far = [ExerciseProgress() for _ in routine.exercises]
        self.machine = Machine(
            model=self,
            states=SessionState,
            transitions=TRANSITIONS,
            initial=SessionState.IDLE,
            queued=True,
            auto_transitions=False,
            send_event=True,
            on_exception="on_error",
            after_state_change="announce_state",
        )

    # ------------------------------------------------------------ driving it

    @property
    def finished(self) -> bool:
        return self.state is SessionState.FINISHED

    @property
    def exercise(self) -> Exercise:
        return self.routine.exercises[self.ex_index]

    def hear(self, command: Command) -> bool:
        """Act on a command; where it does not apply, say what can be said. True if acted on."""
        name = command.intent.value
        applies = self.may_trigger(name)
        if applies and command.intent is Intent.SKIP and command.confidence < self.confirm_below:
            # skipping throws away an exercise: a doubtful "skip" is asked about first
            self._emit(SessionEventType.COMMAND_ACCEPTED, intent="confirm_skip", phrase=command.phrase,
                       state=self.state.value)
            self.skip_pending_until_s = self.clock.now() + self.routine.pacing.confirm_timeout_s
            self._say(self.cues.say("confirm_skip"), CueKind.INFO)
            return True
        self._emit(SessionEventType.COMMAND_ACCEPTED if applies else SessionEventType.COMMAND_NOT_NOW,
                   intent=name, phrase=command.phrase, state=self.state.value)
        if applies:
            if command.intent in (Intent.PAUSE, Intent.STOP, Intent.PAIN):
                self._emit(SessionEventType.STOP_SPEAKING)
            self.trigger(name)
            return True
        self._say(self._not_now(command.intent), CueKind.INFO)
        return False

    def not_understood(self) -> None:
        """Something was typed or said that is no command."""
        self._say(self.cues.say("not_understood"), CueKind.INFO)

    def begin(self) -> None:
        """Start: with the offer to continue an interrupted session, if there is one."""
        self.trigger("offer_resume" if self.resume_point else "start")

    def next_deadline(self) -> float | None:
        """When `check_time()` next has something to do, in session seconds."""
        if self.state in _QUESTIONS:
            return self.question_ends_at_s
        if self.frozen_at_s is not None:
            return None
        return self.timer.next_at()

    def check_time(self) -> None:
        """Say the sentences that are due and end the phase whose time is up."""
        now = self.clock.now()
        if self.state in _QUESTIONS:
            if self.question_ends_at_s is not None and self.question_ends_at_s <= now:
                self.question_ends_at_s = None
                self.trigger("time_up")
            return
        if self.frozen_at_s is not None:
            return
        while self.timer.cues and self.timer.cues[0][0] <= now:
            _, text, kind = self.timer.cues.pop(0)
            if kind is CueKind.EARCON:
                self._emit(SessionEventType.EARCON, name=text)
            else:
                self._say(text, kind)
        if self.timer.ends_at_s is not None and self.timer.ends_at_s <= now:
            self.timer.ends_at_s = None
            self.trigger("time_up")

    def time_left_s(self) -> float | None:
        """Seconds left in the current hold, rest or breathing, as if unpaused; None if no timer."""
        if self.timer.ends_at_s is None:
            return None
        now = self.frozen_at_s if self.frozen_at_s is not None else self.clock.now()
        return max(0.0, self.timer.ends_at_s - now)

    # ------------------------------------------------------------ conditions (pure)

    def is_last_line(self, event: Any) -> bool:
        return self.line_index >= len(self.lines) - 1

    def has_previous_line(self, event: Any) -> bool:
        return self.line_index > 0

    def has_previous_exercise(self, event: Any) -> bool:
        return self.ex_index > 0

    def has_next_exercise(self, event: Any) -> bool:
        return self.ex_index < len(self.routine.exercises) - 1

    def is_hold(self, event: Any) -> bool:
        return self.exercise.kind is ExerciseKind.HOLD

    def is_slides(self, event: Any) -> bool:
        return self.exercise.kind is ExerciseKind.SLIDES

    def is_last_rep_of_side(self, event: Any) -> bool:
        return self.rep >= self.exercise.dose.reps

    def is_last_rep(self, event: Any) -> bool:
        sides = max(1, len(self.exercise.dose.sides))
        return self.is_last_rep_of_side(event) and self.side_index >= sides - 1

    def returns_here(self, event: Any) -> bool:
        back_to = self.confirm_from if self.state is SessionState.CONFIRMING_STOP else self.paused_from
        return back_to is not None and event.transition.dest == back_to.name

    def has_exercise(self, event: Any) -> bool:
        return self._current_activity() in _EXERCISE

    def has_timer(self, event: Any) -> bool:
        activity = self._current_activity()
        if activity is S.MOVING:
            return True
        return activity in _ACTION and self.timer.ends_at_s is not None

    def paused_for_device(self, event: Any) -> bool:
        return self.pause_reason == "device"

    def skip_is_pending(self, event: Any) -> bool:
        return self.skip_pending_until_s is not None and self.clock.now() <= self.skip_pending_until_s

    def has_said_something(self, event: Any) -> bool:
        return bool(self.last_instruction)

    # ------------------------------------------------------------ callbacks: phases

    def ask_to_resume(self, event: Any) -> None:
        point = self.resume_point
        assert point is not None
        ex = self.routine.exercises[point.ex_index]
        self._say(self.cues.say("resume_offer", number=point.ex_index + 1,
                                total=len(self.routine.exercises), name=ex.name), CueKind.INFO)
        question = self.cues.say("resume_question")
        self._say(question, CueKind.INSTRUCTION)
        self.question_ends_at_s = (self.clock.now() + self.duration_of(question)
                                   + self.routine.pacing.confirm_timeout_s)

    def resume_session(self, event: Any) -> None:
        point = self.resume_point
        assert point is not None
        self.question_ends_at_s = None
        self.started_at_s = self.clock.now() - point.elapsed_s
        for progress, (status, reps_done, active_s) in zip(self.done_so_far, point.progress, strict=False):
            progress.status, progress.reps_done, progress.active_s = status, reps_done, active_s
        self._emit(SessionEventType.SESSION_RESUMED, token=point.token,
                   exercise=self.routine.exercises[point.ex_index].id, rep=point.rep)
        self._say(self.cues.say("resume_yes"), CueKind.INFO)
        self._begin_exercise(point.ex_index, rep=point.rep, side_index=point.side_index, briefed=point.briefed)

    def start_afresh(self, event: Any) -> None:
        self.question_ends_at_s = None
        self._say(self.cues.say("resume_no"), CueKind.INFO)
        self.start_opening(event)

    def start_opening(self, event: Any) -> None:
        self.started_at_s = self.clock.now()
        self._emit(SessionEventType.SESSION_STARTED, routine=self.routine.name,
                   exercises=[e.id for e in self.routine.exercises])
        self.lines = self.routine.opening
        self.line_index = 0
        self._say_line()

    def say_next_line(self, event: Any) -> None:
        self.line_index += 1
        self._say_line()

    def say_previous_line(self, event: Any) -> None:
        self.line_index -= 1
        self._say_line()

    def say_first_line_again(self, event: Any) -> None:
        self._say(self.cues.say("first_step"), CueKind.INFO)
        self._say_line()

    def start_first_exercise(self, event: Any) -> None:
        self._begin_exercise(0)

    def start_next_exercise(self, event: Any) -> None:
        self._begin_exercise(self.ex_index + 1)

    def start_previous_exercise(self, event: Any) -> None:
        self._begin_exercise(self.ex_index - 1)

    def start_positioning(self, event: Any) -> None:
        """Back from a hold, rest or slide to this exercise's positioning steps."""
        self._say(self.cues.say("back_to_position"), CueKind.INFO)
        self.line_index = self.steps_at
        self._say_line()

    def start_hold(self, event: Any) -> None:
        ex, pacing = self.exercise, self.routine.pacing
        text = self.cues.say("hold_start", rep=self.rep, reps=ex.dose.reps)
        now = self._begin_phase()
        self._rep_started()
        self._say(text, CueKind.INSTRUCTION)
        begins = now + self.duration_of(text)
        ends = begins + ex.dose.hold_s
        countdown_at = ends - pacing.countdown_s
        cues = self._reminders(begins, countdown_at - 1.0)
        if pacing.countdown_s < ex.dose.hold_s:
            seconds = round(pacing.countdown_s)
            cues.append((countdown_at, self.cues.say("countdown", seconds=seconds), CueKind.COUNTDOWN))
        cues += [(ends - s, "tick", CueKind.EARCON) for s in _TICKS_S if s < ex.dose.hold_s]
        self.timer = _Timer(ends, sorted(cues, key=lambda c: c[0]))

    def start_rest(self, event: Any) -> None:
        ex, pacing = self.exercise, self.routine.pacing
        now = self._begin_phase()
        self._say(self.cues.say("hold_end"), CueKind.INFO)
        self._say(self.cues.say("rest_start", seconds=round(ex.dose.rest_s)), CueKind.INSTRUCTION)
        ends = now + ex.dose.rest_s
        cues: list[tuple[float, str, CueKind]] = []
        if ex.dose.rest_s >= pacing.get_ready_s + 5:
            ready = self.cues.say("get_ready", rep=self.rep, reps=ex.dose.reps)
            cues.append((ends - pacing.get_ready_s, ready, CueKind.INSTRUCTION))
        self.timer = _Timer(ends, cues)

    def start_slide(self, event: Any) -> None:
        ex = self.exercise
        now = self._begin_phase()
        self._rep_started()
        side = self._side()
        key = "slide_start" if side else "slide_start_no_side"
        text = self.cues.say(key, rep=self.rep, reps=ex.dose.reps, side=side)
        self._say(text, CueKind.INFO)
        begins = now + self.duration_of(text)
        rep_s = ex.dose.rep_s * self.pace
        spacing = rep_s / len(ex.rep_cues)
        cues = [(begins + i * spacing, c.replace("{side}", side), CueKind.INSTRUCTION)
                for i, c in enumerate(ex.rep_cues)]
        if ex.dose.advance is Advance.NEXT:
            if self.rep == 1 and self.side_index == 0:
                cues.append((begins + rep_s, self.cues.say("slide_wait"), CueKind.INFO))
            self.timer = _Timer(None, cues)
        else:
            self.timer = _Timer(begins + rep_s, cues)

    def start_side_change(self, event: Any) -> None:
        ex = self.exercise
        now = self._begin_phase()
        self._say(self.cues.say("change_sides", side=self._side()), CueKind.INSTRUCTION)
        self._say(self.cues.say("rest_start", seconds=round(ex.dose.rest_s)), CueKind.INFO)
        self.timer = _Timer(now + ex.dose.rest_s, [])

    def start_breathing(self, event: Any) -> None:
        ex = self.exercise
        now = self._begin_phase()
        self._rep_started()
        text = self.cues.say("breathing_start")
        self._say(text, CueKind.INSTRUCTION)
        ends = now + ex.dose.duration_s
        every = self.routine.pacing.reminder_every_s * 2  # breathing wants quiet
        self.timer = _Timer(ends, self._reminders(now + self.duration_of(text), ends - 5, every))

    def end_rep(self, event: Any) -> None:
        """A hold or slide completed: count it, and move the counters on."""
        progress = self.done_so_far[self.ex_index]
        progress.reps_done += 1
        progress.active_s += self.clock.now() - self.phase_started_s
        self._emit(SessionEventType.EARCON, name="rep_end")
        finished_rep, finished_side = self.rep, self._side()
        if self.rep < self.exercise.dose.reps:
            self.rep += 1
        elif self.side_index < len(self.exercise.dose.sides) - 1:
            self.side_index += 1
            self.rep = 1
        self._rep_ended(finished_rep, finished_side, completed=True)

    def end_breathing(self, event: Any) -> None:
        progress = self.done_so_far[self.ex_index]
        progress.reps_done = 1
        progress.active_s += self.clock.now() - self.phase_started_s
        done_by_clock = event.event.name == "time_up"
        if done_by_clock:
            self._say(self.cues.say("breathing_end"), CueKind.INFO)
        self._rep_ended(1, "", completed=True)

    def abandon_rep(self, event: Any) -> None:
        """Leaving a hold or slide before its end: it does not count."""
        activity = self._current_activity()
        if activity in (S.HOLDING, S.MOVING, S.BREATHING):
            if activity is S.BREATHING:
                self.done_so_far[self.ex_index].active_s += self._frozen_or_now() - self.phase_started_s
            self._rep_ended(self.rep, self._side(), completed=False)
        self.timer = _Timer()

    def skip_exercise(self, event: Any) -> None:
        self.skip_pending_until_s = None
        self.abandon_rep(event)
        self.done_so_far[self.ex_index].status = "skipped"
        self._say(self.cues.say("exercise_skipped"), CueKind.INFO)

    def end_exercise(self, event: Any) -> None:
        progress = self.done_so_far[self.ex_index]
        if progress.status != "skipped":
            progress.status = "done"
            self._say(self.cues.say("exercise_done"), CueKind.INFO)
        self.timer = _Timer()
        self.frozen_at_s = None
        self._emit(SessionEventType.EXERCISE_ENDED, exercise=self.exercise.id,
                   status=progress.status, reps_done=progress.reps_done,
                   active_s=round(progress.active_s, 1))

    def finish_session(self, event: Any) -> None:
        if self.done_so_far[self.ex_index].status == "started":
            self.done_so_far[self.ex_index].status = "stopped"
        self.timer = _Timer()
        self.frozen_at_s = None
        self.ended_at_s = self.clock.now()
        summary = self.summary_lines()
        for line in self.routine.closing if self._all_done() else ():
            self._say(line, CueKind.INFO)
        for line in summary:
            self._say(line, CueKind.INSTRUCTION if line is summary[0] else CueKind.INFO)
        self.last_instruction = summary
        self._say(self.cues.say("goodbye"), CueKind.INFO)
        how = "stopped" if event.event.name == "yes" else "finished"
        self._emit(SessionEventType.SESSION_ENDED, summary=summary, how=how,
                   duration_s=round(self.ended_at_s - (self.started_at_s or 0.0), 1),
                   progress=[{"exercise": e.id, "status": p.status, "reps_done": p.reps_done,
                              "active_s": round(p.active_s, 1)}
                             for e, p in zip(self.routine.exercises, self.done_so_far, strict=True)])

    # ------------------------------------------------------------ callbacks: pause, stop, pain

    def freeze(self, event: Any) -> None:
        source: SessionState = event.state.value
        if event.event.name == "stop":
            self.confirm_from = source
        elif source is S.CONFIRMING_STOP:
            if self.confirm_from is not S.PAUSED:
                self.paused_from = self.confirm_from
        else:
            self.paused_from = source
        if self.frozen_at_s is None:
            self.frozen_at_s = self.clock.now()

    def announce_device_lost(self, event: Any) -> None:
        device = str(event.kwargs.get("device", "device"))
        if event.transition.dest is not None or self.pause_reason != "device":
            self.pause_reason = "device"
            self._emit(SessionEventType.PAUSED, reason="device", exercise=self._exercise_id_if_any(),
                       during=self.paused_from.value if self.paused_from else "", device=device)
        self._say(self.cues.say("device_lost", device=device), CueKind.WARNING, urgent=True)

    def announce_pause(self, event: Any) -> None:
        self.pause_reason = "asked"
        self._emit(SessionEventType.PAUSED, reason="asked", exercise=self._exercise_id_if_any(),
                   during=self.paused_from.value if self.paused_from else "")
        self._say(self.cues.say("paused"), CueKind.INFO)

    def say_already_paused(self, event: Any) -> None:
        self._say(self.cues.say("already_paused"), CueKind.INFO)

    def ask_to_stop(self, event: Any) -> None:
        text = self.cues.say("confirm_stop")
        self._say(text, CueKind.INSTRUCTION, urgent=True)
        self.question_ends_at_s = (self.clock.now() + self.duration_of(text)
                                   + self.routine.pacing.confirm_timeout_s)

    def carry_on(self, event: Any) -> None:
        """Back where we left: timers resume with the time they had left."""
        self.question_ends_at_s = None
        name = event.event.name
        if self.state is not S.PAUSED:
            self.pause_reason = ""
        if name == "device_back":
            self._say(self.cues.say("device_back"), CueKind.INFO)
        elif name == "no":
            self._say(self.cues.say("stop_declined"), CueKind.INFO)
        elif name == "time_up":
            self._say(self.cues.say("stop_timed_out"), CueKind.INFO)
        else:
            self._say(self.cues.say("resumed"), CueKind.INFO)
        if self.state is S.PAUSED:
            return  # stop was asked while paused: still paused
        if self.frozen_at_s is not None:
            self.timer.shift(self.clock.now() - self.frozen_at_s)
            self.frozen_at_s = None
            self._emit(SessionEventType.RESUMED, state=self.state.value)
        if self.state in (S.OPENING, S.INSTRUCTING):
            self._say_line()  # the line was probably cut off; say it again, then go on

    def advise_on_pain(self, event: Any) -> None:
        exercise = self._exercise_id_if_any()
        if event.transition.dest is not None:
            self._emit(SessionEventType.PAUSED, reason="pain", exercise=exercise,
                       during=self.paused_from.value if self.paused_from else "")
        self.pause_reason = "pain" if self.state is S.PAUSED else self.pause_reason
        self._emit(SessionEventType.PAIN_REPORTED, exercise=exercise)
        for i, line in enumerate(self.routine.pain_advice):
            self._say(line, CueKind.WARNING, urgent=i == 0)
        if self.state is S.PAUSED:
            self._say(self.cues.say("pain_offer"), CueKind.INFO)

    # ------------------------------------------------------------ callbacks: said in place

    def say_again(self, event: Any) -> None:
        for line in self.last_instruction:
            self._say(line, CueKind.INFO)

    def say_help(self, event: Any) -> None:
        self._say(self.cues.help[self.state.value], CueKind.INFO)

    def say_time_left(self, event: Any) -> None:
        if self._current_activity() is S.MOVING:
            left = self.exercise.dose.reps - self.rep + 1
            noun = "slide" if left == 1 else "slides"
            self._say(self.cues.say("time_left_slides", count=f"{left} {noun}"), CueKind.INFO)
            return
        left_s = self.time_left_s() or 0.0
        self._say(self.cues.say("time_left", time=self.spoken_duration(left_s, about=True)),
                  CueKind.INFO)

    def say_mistakes(self, event: Any) -> None:
        for line in self.exercise.mistakes:
            self._say(line, CueKind.WARNING)

    def say_progress(self, event: Any) -> None:
        report = self.progress_report() if self.progress_report else ""
        self._say(report or self.cues.say("progress_none"), CueKind.INFO)

    def change_voice(self, event: Any) -> None:
        control = event.event.name
        if control == "slower":
            self.pace = min(_PACE_LIMITS[1], self.pace * _PACE_STEP)
        elif control == "faster":
            self.pace = max(_PACE_LIMITS[0], self.pace / _PACE_STEP)
        self._emit(SessionEventType.VOICE_CONTROL, control=control, pace=round(self.pace, 3))
        self._say(self.cues.say(f"voice_{control}"), CueKind.INFO)

    def announce_state(self, event: Any) -> None:
        self._emit(SessionEventType.STATE_CHANGED, state=self.state.value,
                   exercise=self.exercise.id if self.state in _EXERCISE else "")

    def on_error(self, event: Any) -> None:
        """A bug in a callback: log it, apologise, and pause rather than crash.

        transitions hands every BaseException here; what is not an Exception (a stop request,
        SystemExit) is not a bug and goes on up, to whoever can act on it.
        """
        if not isinstance(event.error, Exception):
            raise event.error
        _LOGGER.error("Session error in '%s' from %s", event.event.name, event.state.name,
                      exc_info=event.error)
        current = self.state
        if current not in (S.PAUSED, S.FINISHED, S.IDLE):
            self.paused_from = current if current is not S.CONFIRMING_STOP else self.confirm_from
            if self.frozen_at_s is None:
                self.frozen_at_s = self.clock.now()
            self.machine.set_state(S.PAUSED, model=self)
        self._say(self.cues.say("error"), CueKind.WARNING, urgent=True)

    # ------------------------------------------------------------ summary

    def summary_lines(self) -> list[str]:
        """What was done and how long it took, one sentence per exercise."""
        elapsed = (self.ended_at_s or self.clock.now()) - (self.started_at_s or 0.0)
        lines = [self.cues.say("summary_start", minutes=self.spoken_duration(elapsed))]
        for ex, p in zip(self.routine.exercises, self.done_so_far, strict=True):
            if p.status == "skipped" and p.reps_done == 0:
                lines.append(self.cues.say("summary_skipped", name=ex.name))
            elif p.status == "not reached" or (p.reps_done == 0 and p.active_s < 1):
                lines.append(self.cues.say("summary_not_reached", name=ex.name))
            else:
                lines.append(self.cues.say("summary_done", name=ex.name, detail=self._detail(ex, p)))
        return lines

    def _detail(self, ex: Exercise, p: ExerciseProgress) -> str:
        if ex.kind is ExerciseKind.HOLD:
            return self.cues.say("detail_hold", count=p.reps_done, reps=ex.dose.reps)
        if ex.kind is ExerciseKind.SLIDES:
            total = ex.dose.reps * max(1, len(ex.dose.sides))
            return self.cues.say("detail_slides", count=p.reps_done, total=total)
        return self.cues.say("detail_breathing", time=self.spoken_duration(p.active_s))

    def spoken_duration(self, seconds: float, *, about: bool = False) -> str:
        """'45 seconds', '2 minutes', '1 minute 10 seconds'; `about` rounds to 5 s above 20 s."""
        return spoken_duration(self.cues, seconds, about=about)

    # ------------------------------------------------------------ helpers

    def _begin_exercise(self, index: int, rep: int = 1, side_index: int = 0, *, briefed: bool = False) -> None:
        """Start exercise `index` at a repetition; `briefed`: its briefing was heard before (a
        resumed session), so only the positioning steps come before the repetition."""
        self.ex_index = index
        self.rep = rep
        self.side_index = side_index
        self.timer = _Timer()
        self.frozen_at_s = None
        ex = self.exercise
        if self.done_so_far[index].status in ("not reached", "skipped"):
            self.done_so_far[index].status = "started"
        intro = self.cues.say("exercise_intro", number=index + 1,
                              total=len(self.routine.exercises), name=ex.name)
        self.lines = (intro, *ex.steps) if briefed else (intro, *ex.briefing)
        self.steps_at = 1 if briefed else 1 + len(ex.goal)
        self.line_index = 0
        self._emit(SessionEventType.EXERCISE_STARTED, exercise=ex.id, number=index + 1,
                   name=ex.name, kind=ex.kind.value)
        self._say_line()

    def _say_line(self) -> None:
        """Say the current instruction line; the next follows after it is said and a gap."""
        text = self.lines[self.line_index]
        self._say(text, CueKind.INSTRUCTION)
        pacing = self.routine.pacing
        gap = (pacing.step_gap_s if self._is_positioning_line() else pacing.line_gap_s) * self.pace
        self.timer = _Timer(self.clock.now() + self.duration_of(text) + gap, [])

    def _is_positioning_line(self) -> bool:
        """Positioning steps get time to be followed; other lines only a breath."""
        if self.state is not S.INSTRUCTING and self._current_activity() is not S.INSTRUCTING:
            return False
        return self.steps_at <= self.line_index < self.steps_at + len(self.exercise.steps)

    def _begin_phase(self) -> float:
        now = self.clock.now()
        self.phase_started_s = now
        self.frozen_at_s = None
        return now

    def _rep_started(self) -> None:
        ex = self.exercise
        self._emit(SessionEventType.EARCON, name="rep_start")
        self._emit(SessionEventType.REP_STARTED, exercise=ex.id, rep=self.rep,
                   reps=ex.dose.reps, side=self._side())

    def _reminders(
        self, begins: float, until: float, every: float | None = None
    ) -> list[tuple[float, str, CueKind]]:
        """Reminders spread from `begins` to `until`, rotating so each repetition hears others."""
        ex = self.exercise
        every = every or self.routine.pacing.reminder_every_s
        if not ex.reminders:
            return []
        out: list[tuple[float, str, CueKind]] = []
        at = begins + every
        slot = (self.rep - 1) * max(1, int((until - begins) // every))
        while True:
            text = ex.reminders[slot % len(ex.reminders)]
            if at + self.duration_of(text) > until:
                break
            out.append((at, text, CueKind.INFO))
            at += every
            slot += 1
        return out

    def _rep_ended(self, rep: int, side: str, *, completed: bool) -> None:
        """Announce a finished (or abandoned) repetition, with where to pick up again."""
        progress = self.done_so_far[self.ex_index]
        self._emit(SessionEventType.REP_ENDED, exercise=self.exercise.id, index=self.ex_index,
                   rep=rep, side=side, completed=completed, reps_done=progress.reps_done,
                   active_s=round(progress.active_s, 1), next_rep=self.rep,
                   next_side_index=self.side_index)

    def _side(self) -> str:
        sides = self.exercise.dose.sides
        return sides[self.side_index] if sides else ""

    def _current_activity(self) -> SessionState:
        """The state we are in, or would return to from a pause or the stop question."""
        state = self.state
        if state is S.CONFIRMING_STOP and self.confirm_from is not None:
            state = self.confirm_from
        if state is S.PAUSED and self.paused_from is not None:
            state = self.paused_from
        return state

    def _exercise_id_if_any(self) -> str:
        return self.exercise.id if self._current_activity() in _EXERCISE else ""

    def _frozen_or_now(self) -> float:
        return self.frozen_at_s if self.frozen_at_s is not None else self.clock.now()

    def _all_done(self) -> bool:
        return all(p.status == "done" for p in self.done_so_far)

    def _not_now(self, intent: Intent) -> str:
        if self.state is S.IDLE:
            return self.cues.not_now["idle"]
        if self.state is S.FINISHED:
            return self.cues.not_now["finished"]
        if self.state is S.CONFIRMING_STOP:
            return self.cues.not_now["confirming"]
        if self.state is S.OFFERING_RESUME:
            return self.cues.not_now["offering_resume"]
        if self.state is S.PAUSED and intent in (Intent.NEXT, Intent.BACK, Intent.DONE, Intent.START):
            return self.cues.not_now["paused"]
        if intent is Intent.TIME_LEFT:
            return self.cues.say("time_left_none")
        if intent is Intent.MISTAKES:
            return self.cues.say("no_mistakes_yet")
        return self.cues.not_now.get(intent.value, self.cues.help[self.state.value])

    def _say(self, text: str, kind: CueKind, *, urgent: bool = False) -> None:
        if kind is CueKind.INSTRUCTION:
            self.last_instruction = [text]
        self._emit(SessionEventType.CUE, text=text, kind=kind.value, urgent=urgent)

    def _emit(self, type_: SessionEventType, **data: Any) -> None:
        self._announce(SessionEvent(type_, data, round(self.clock.now(), 3)))
