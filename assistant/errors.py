"""Expected failures, each with a code and one sentence that says what to do."""

from __future__ import annotations


class MatCoachError(Exception):
    """An expected failure: the CLI prints `message` as one line and exits with `exit_code`."""

    exit_code = 1

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class UsageError(MatCoachError):
    """A wrong flag or argument value."""

    exit_code = 2


class RoutineError(MatCoachError):
    """A routine file that is missing, unreadable or has a wrong field."""

    exit_code = 2


class GrammarError(MatCoachError):
    """A command vocabulary file that is missing or malformed."""

    exit_code = 2


class ScriptError(MatCoachError):
    """A `--script` file with a line that is not '<seconds> <phrase>'."""

    exit_code = 2


class ModelError(MatCoachError):
    """A speech model that is missing, corrupt or cannot be downloaded."""

    exit_code = 2


class AudioDeviceError(MatCoachError):
    """No microphone or speaker, or one that failed."""

    exit_code = 2


class WavFormatError(MatCoachError):
    """A file that is not a readable WAV."""

    exit_code = 2


class SpeechError(MatCoachError):
    """The text-to-speech engine failed."""


class HistoryError(MatCoachError):
    """The session history database cannot be used."""

    exit_code = 2
