"""Inbox events (what happened outside the session) and session events (what it announces)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeAlias

from assistant.commands import Command

# ---- Inbox: put on the one queue by threads; taken by the loop that owns the session ----


@dataclass(frozen=True, slots=True)
class CommandHeard:
    """The user said (or typed) a command."""

    command: Command


@dataclass(frozen=True, slots=True)
class NotUnderstood:
    """The user typed (or clearly said) something that is not a command."""

    text: str


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """The speaker began playing a sentence (seconds on the session clock)."""

    text: str
    at_s: float


@dataclass(frozen=True, slots=True)
class SpeechEnded:
    """The speaker finished, or was cut off in, a sentence."""

    text: str
    at_s: float
    interrupted: bool = False


@dataclass(frozen=True, slots=True)
class DeviceLost:
    """A microphone or speaker stopped working; the session pauses."""

    device: str
    reason: str


@dataclass(frozen=True, slots=True)
class DeviceBack:
    """A lost device works again."""

    device: str


@dataclass(frozen=True, slots=True)
class Shutdown:
    """Leave the loop now (Ctrl-C, end of input)."""

    reason: str = ""


InboxEvent: TypeAlias = (
    CommandHeard | NotUnderstood | SpeechStarted | SpeechEnded | DeviceLost | DeviceBack | Shutdown
)

# ---- Session events: announced by the session through one callback ----


class SessionEventType(StrEnum):
    """What the session announces. Adapters decide what to do with each."""

    SESSION_STARTED = "session-started"
    SESSION_RESUMED = "session-resumed"
    """An interrupted session goes on: data token (the history's id), exercise, rep."""
    SESSION_ENDED = "session-ended"
    CUE = "cue"
    """Something to say: data text, kind ('instruction', 'info', 'countdown', 'warning') and urgent."""
    STATE_CHANGED = "state-changed"
    EXERCISE_STARTED = "exercise-started"
    EXERCISE_ENDED = "exercise-ended"
    REP_STARTED = "rep-started"
    REP_ENDED = "rep-ended"
    PAUSED = "paused"
    RESUMED = "resumed"
    PAIN_REPORTED = "pain-reported"
    COMMAND_ACCEPTED = "command-accepted"
    COMMAND_NOT_NOW = "command-not-now"
    VOICE_CONTROL = "voice-control"
    """The user asked for louder, quieter, slower or faster speech: data control."""
    EARCON = "earcon"
    """A short tone: data name, one of "heard", "tick", "rep_start", "rep_end"."""
    STOP_SPEAKING = "stop-speaking"
    """Cut off what is being said now (pause, stop, pain)."""


@dataclass(frozen=True, slots=True)
class SessionEvent:
    """One announcement of the session, at session seconds `at_s`."""

    type: SessionEventType
    data: Mapping[str, Any] = field(default_factory=dict)
    at_s: float = 0.0
