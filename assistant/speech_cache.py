"""Rendered sentences on disk, keyed by text, voice, rate, volume and engine."""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import threading
import time
import wave
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from assistant.errors import SpeechError
from assistant.rendering import PRIORITY_AHEAD, PRIORITY_NOW, RENDER_TIMEOUT_S, SpeechRenderer, VoiceParams

_LOGGER = logging.getLogger(__name__)

PROGRESS_AFTER_S: Final = 1.0
"""Pre-rendering shows a progress bar only when it takes longer than this."""


@dataclass(frozen=True, slots=True)
class Rendered:
    """A sentence's audio, ready to play."""

    text: str
    samples: npt.NDArray[np.int16]
    """Mono 16-bit samples."""
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


def default_cache_dir() -> Path:
    """The user's cache folder for rendered speech (e.g. ~/.cache/mat-coach/speech)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("mat-coach", appauthor=False)) / "speech"


def read_wav(path: Path, text: str = "") -> Rendered:
    """A mono (or first channel of a multi-channel) 16-bit WAV as samples."""
    try:
        with wave.open(str(path), "rb") as w:
            if w.getsampwidth() != 2:
                raise SpeechError("speech-file", f"{path} is not 16-bit audio; delete it and try again.")
            raw = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
            samples = raw.reshape(-1, w.getnchannels())[:, 0].astype(np.int16)
            return Rendered(text, samples, w.getframerate())
    except (OSError, EOFError, wave.Error) as err:
        raise SpeechError("speech-file", f"Cannot read rendered speech {path} ({err}); "
                          "delete the file and try again.") from err


class SpeechCache:
    """Finds a sentence's WAV in the cache folder, rendering it first when missing."""

    def __init__(self, renderer: SpeechRenderer, directory: Path | None = None) -> None:
        self.renderer = renderer
        self.directory = directory if directory is not None else default_cache_dir()
        self._durations: dict[Path, float] = {}
        self._lock = threading.Lock()

    def path_for(self, text: str, params: VoiceParams) -> Path:
        key = json.dumps([self.renderer.engine_id, params.voice, params.rate_wpm,
                          round(params.volume, 3), text], ensure_ascii=False)
        return self.directory / f"{hashlib.sha256(key.encode('utf-8')).hexdigest()[:40]}.wav"

    def is_cached(self, text: str, params: VoiceParams) -> bool:
        return self.path_for(text, params).exists()

    def get(self, text: str, params: VoiceParams) -> Rendered:
        """The sentence's audio, rendered now (at the front of the renderer's queue) if missing."""
        path = self.path_for(text, params)
        if not path.exists():
            self.renderer.render(text, params, path, priority=PRIORITY_NOW).result(timeout=RENDER_TIMEOUT_S)
        rendered = read_wav(path, text)
        with self._lock:
            self._durations[path] = rendered.duration_s
        return rendered

    def duration_s(self, text: str, params: VoiceParams) -> float | None:
        """Exact length of the rendered sentence, or None when it is not rendered yet."""
        path = self.path_for(text, params)
        with self._lock:
            known = self._durations.get(path)
        if known is not None:
            return known
        try:
            with wave.open(str(path), "rb") as w:
                seconds = w.getnframes() / w.getframerate()
        except (OSError, EOFError, wave.Error):
            return None
        with self._lock:
            self._durations[path] = seconds
        return seconds

    def render_ahead(self, texts: Iterable[str], params: VoiceParams) -> list[Future[Path]]:
        """Queue the missing sentences behind anything urgent; returns their futures."""
        futures = []
        for text in dict.fromkeys(t for t in texts if t.strip()):
            path = self.path_for(text, params)
            if not path.exists():
                futures.append(self.renderer.render(text, params, path, priority=PRIORITY_AHEAD))
        return futures

    def prepare(self, texts: Iterable[str], params: VoiceParams, *, progress: bool = True) -> int:
        """Render every missing sentence and wait; a progress bar appears if it takes a while.

        Returns how many sentences were rendered.
        """
        futures = self.render_ahead(texts, params)
        if not futures:
            return 0
        from tqdm import tqdm

        started = time.monotonic()
        with tqdm(total=len(futures), desc="Preparing speech", unit="sentence", file=sys.stderr,
                  delay=PROGRESS_AFTER_S, disable=not progress, leave=False) as bar:
            for future in futures:
                future.result(timeout=RENDER_TIMEOUT_S)
                bar.update(1)
        _LOGGER.info("Rendered %d sentences in %.1f s", len(futures), time.monotonic() - started)
        return len(futures)
