"""`--record-dir`: every stretch of audio the recognizer decided on, kept as a WAV with one JSON
line each in `heard.jsonl`, so that "it did not hear me" comes with the audio.

A line: {"file", "at" (local time), "start_s", "end_s" (stream seconds), "heard", "confidence",
"accepted", "reason", "intent", "coach_speaking", "expected"}. "expected" is null: write the
intent that was meant into it, and `assistant recognize DIR` scores the folder.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Final

from assistant.audio import RATE_HZ
from assistant.errors import UsageError
from assistant.listening import Decision

_LOGGER = logging.getLogger(__name__)

INDEX: Final = "heard.jsonl"
MAX_FILES: Final = 5000
"""A folder never grows past this many clips (about 2 hours of speech): the oldest stay."""


class HeardRecorder:
    """Writes each decision of the listening thread; a failing disk ends the recording, not the session."""

    def __init__(self, folder: Path, coach_speaking: Callable[[], bool] = lambda: False) -> None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._index = (folder / INDEX).open("a", encoding="utf-8")
        except OSError as err:
            raise UsageError("usage", f"--record-dir {folder}: cannot write there ({err.strerror}); "
                             "choose another folder.") from err
        self.folder = folder
        self._coach_speaking = coach_speaking
        self._lock = threading.Lock()
        self._count = sum(1 for _ in folder.glob("heard-*.wav"))
        self.failed = False

    def __call__(self, decision: Decision, outcome: str | None = None) -> None:
        """Keep `decision`; `outcome` overrides its reason (e.g. the gate's "our own voice")."""
        if self.failed or self._count >= MAX_FILES:
            return
        accepted = decision.command is not None and outcome is None
        with self._lock:
            self._count += 1
            name = f"heard-{time.strftime('%Y%m%d-%H%M%S')}-{self._count:04d}.wav"
            line = {
                "file": name, "at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "start_s": round(decision.start_s, 3), "end_s": round(decision.end_s, 3),
                "heard": decision.heard,
                "confidence": None if decision.confidence is None else round(decision.confidence, 3),
                "accepted": accepted, "reason": outcome or decision.reason,
                "intent": decision.command.intent.value if decision.command is not None else None,
                "coach_speaking": self._coach_speaking(), "expected": None,
            }
            try:
                with wave.open(str(self.folder / name), "wb") as out:
                    out.setnchannels(1)
                    out.setsampwidth(2)
                    out.setframerate(RATE_HZ)
                    out.writeframes(decision.pcm)
                self._index.write(json.dumps(line) + "\n")
                self._index.flush()
            except OSError as err:
                self.failed = True
                _LOGGER.warning("Recording what was heard stopped: %s (%s).", self.folder, err.strerror)

    def close(self) -> None:
        with self._lock:
            self._index.close()
