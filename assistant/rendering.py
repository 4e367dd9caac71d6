"""Text to WAV with pyttsx3: one engine, created and used by one render thread.

espeak-ng (pyttsx3's Linux driver) is a process-wide C library: one synthesis callback, one
voice and rate at a time, and `runAndWait` from two threads hangs. So there is exactly one
render thread per process (`shared_renderer()`); every speaker hands it jobs.
"""

from __future__ import annotations

import io
import itertools
import logging
import os
import queue
import sys
import threading
import time
import wave
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TextIO, TypeVar

from assistant.errors import SpeechError

_T = TypeVar("_T")

_LOGGER = logging.getLogger(__name__)

RENDER_TIMEOUT_S: Final = 30.0
"""Longest wait for one sentence's 'finished-utterance' (espeak-ng needs milliseconds)."""
FILE_TIMEOUT_S: Final = 2.0
"""Longest wait, after 'finished-utterance', for the WAV to be complete on disk."""
_FILE_POLL_S: Final = 0.005
_ATTEMPTS: Final = 3

PRIORITY_NOW: Final = 0
"""A sentence someone is waiting to hear."""
PRIORITY_AHEAD: Final = 1
"""Rendering ahead of need (pre-rendering, re-rendering after a rate change)."""


@dataclass(frozen=True, slots=True)
class VoiceParams:
    """What a sentence is rendered with (part of its cache key)."""

    voice: str | None
    """pyttsx3 voice id or name; None: the engine's default."""
    rate_wpm: int
    volume: float


@dataclass(frozen=True, slots=True)
class VoiceInfo:
    """One voice the engine offers."""

    id: str
    name: str
    languages: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Job:
    text: str
    params: VoiceParams
    path: Path
    done: Future[Path]


class _ChatterFilter(io.TextIOBase):
    """Stands in for sys.stdout while rendering: drops what espeak's own thread prints.

    pyttsx3's espeak driver prints "Audio saved to ..." from espeak-ng's synthesis thread
    (a thread Python did not start). Everything else passes through to the real stdout, so
    text printed by the CLI at the same moment is not lost.
    """

    def __init__(self, real: TextIO) -> None:
        self.real = real

    def write(self, text: str) -> int:
        if isinstance(threading.current_thread(), threading._DummyThread):
            if text.strip():
                _LOGGER.debug("pyttsx3: %s", text.strip())
            return len(text)
        return self.real.write(text)

    def flush(self) -> None:
        self.real.flush()


def _within(future: Future[_T]) -> _T:
    """The engine's answer, or one clear sentence when it hangs (espeak-ng stuck on its audio)."""
    try:
        return future.result(timeout=RENDER_TIMEOUT_S)
    except TimeoutError as err:
        raise SpeechError("engine-timeout", f"The speech engine did not start within {RENDER_TIMEOUT_S:g} s; "
                          "check that espeak-ng works (espeak-ng 'hello'), or use --text.") from err


def wav_is_complete(path: Path) -> bool:
    """The file is a readable 16-bit WAV whose samples are all there."""
    try:
        with wave.open(str(path), "rb") as w:
            expected = w.getnframes() * w.getsampwidth() * w.getnchannels()
            return w.getsampwidth() == 2 and len(w.readframes(w.getnframes())) == expected
    except (OSError, EOFError, wave.Error):
        return False


class SpeechRenderer:
    """Owns the pyttsx3 engine on its own thread; `render()` returns a Future of the WAV path."""

    def __init__(self, driver: str | None = None) -> None:
        self._driver = driver
        self._jobs: queue.PriorityQueue[tuple[int, int, _Job | None]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._ready: Future[str] = Future()
        self._voices: Future[list[VoiceInfo]] = Future()
        self.renders = 0
        self._default_voice: str | None = None
        """Sentences actually synthesized (the cache's hits never get here)."""
        self._thread = threading.Thread(target=self._run, name="speech-render", daemon=True)
        self._thread.start()

    @property
    def engine_id(self) -> str:
        """Names the engine and its version, so a new engine does not reuse old renderings."""
        return _within(self._ready)

    def voices(self) -> list[VoiceInfo]:
        self.engine_id  # noqa: B018  (raises the engine's start-up failure, if any)
        return _within(self._voices)

    def render(self, text: str, params: VoiceParams, path: Path, *,
               priority: int = PRIORITY_NOW) -> Future[Path]:
        """Render `text` to the WAV `path` (written atomically: it exists only when complete)."""
        done: Future[Path] = Future()
        self._jobs.put((priority, next(self._order), _Job(text, params, path, done)))
        return done

    def close(self) -> None:
        self._jobs.put((-1, next(self._order), None))
        self._thread.join(timeout=RENDER_TIMEOUT_S)

    # ------------------------------------------------------------ the render thread

    def _run(self) -> None:
        try:
            engine, finished = self._start_engine()
        except Exception as err:  # noqa: BLE001  (any engine failure becomes one clear sentence)
            _LOGGER.debug("pyttsx3 would not start", exc_info=True)
            failure = SpeechError(
                "speech-engine",
                f"The speech engine would not start ({err}); install espeak-ng "
                "(sudo apt install espeak-ng) or use --text.",
            )
            self._ready.set_exception(failure)
            self._voices.set_exception(failure)
            self._fail_all(failure)
            return
        applied: VoiceParams | None = None
        while True:
            _, _, job = self._jobs.get()
            if job is None:
                return
            if not job.done.set_running_or_notify_cancel():
                continue
            try:
                if job.path.exists():  # rendered meanwhile by an earlier job
                    job.done.set_result(job.path)
                    continue
                if job.params != applied:
                    self._apply(engine, job.params)
                    applied = job.params
                started = time.monotonic()
                for attempt in range(1, _ATTEMPTS + 1):
                    self._synthesize(engine, finished, job)
                    if not _is_silent_by_mistake(job):
                        break
                    # pyttsx3's espeak driver sometimes loses all the samples of a sentence.
                    _LOGGER.debug("Empty rendering (attempt %d): %s", attempt, job.text)
                    job.path.unlink(missing_ok=True)
                else:
                    raise SpeechError("speech-empty", f"The speech engine made no sound for "
                                      f"'{job.text[:40]}'; try another voice with --voice, or use --text.")
                self.renders += 1
                _LOGGER.debug("Rendered in %.3f s: %s", time.monotonic() - started, job.text)
                job.done.set_result(job.path)
            except Exception as err:  # noqa: BLE001  (reported to whoever waits for it)
                applied = None
                job.done.set_exception(err if isinstance(err, SpeechError) else SpeechError(
                    "speech-render", f"The speech engine failed on '{job.text[:40]}' ({err}); "
                    "try another voice with --voice, or use --text."))

    def _start_engine(self) -> tuple[Any, threading.Event]:
        import pyttsx3

        engine = pyttsx3.init(self._driver)
        finished = threading.Event()
        # Kept alive by the engine's own callback list as long as `engine` lives here.
        engine.connect("finished-utterance", lambda name=None, completed=True: finished.set())
        self._default_voice = engine.getProperty("voice")
        version = _package_version("pyttsx3")
        detail = ""
        if engine.driver_name == "espeak":
            from pyttsx3.drivers import _espeak

            detail = " espeak-ng " + (_espeak.Info(None) or b"?").decode("ascii", "replace")
        self._voices.set_result([
            VoiceInfo(v.id, v.name, tuple(str(lang) for lang in (v.languages or ())))
            for v in engine.getProperty("voices")
        ])
        self._ready.set_result(f"pyttsx3 {version} {engine.driver_name}{detail}")
        return engine, finished

    def _apply(self, engine: Any, params: VoiceParams) -> None:
        voice = params.voice if params.voice is not None else self._default_voice
        if engine.driver_name == "espeak":
            # pyttsx3 2.99 queues setProperty behind a busy flag that its espeak driver leaves
            # racy, and espeak-ng applies an asynchronous rate change whenever it likes: seen
            # here, sentences kept a random earlier rate. The voice goes straight to the driver
            # (espeak-ng sets voices synchronously); rate and volume go into the text itself.
            if voice is not None:
                engine.proxy._driver.setProperty("voice", voice)
            return
        if voice is not None:
            engine.setProperty("voice", voice)
        engine.setProperty("rate", params.rate_wpm)
        engine.setProperty("volume", params.volume)

    @staticmethod
    def _engine_text(engine: Any, job: _Job) -> str:
        if engine.driver_name != "espeak":
            return job.text
        # espeak-ng's embedded commands: Ctrl-A, a value, S = words per minute, A = amplitude %.
        amplitude = round(job.params.volume * 100)
        return f"\x01{job.params.rate_wpm}S\x01{amplitude}A{job.text}"

    @staticmethod
    def _synthesize(engine: Any, finished: threading.Event, job: _Job) -> None:
        job.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = job.path.with_name(f".{job.path.stem}.{os.getpid()}.tmp.wav")
        tmp.unlink(missing_ok=True)
        finished.clear()
        real_stdout = sys.stdout
        sys.stdout = _ChatterFilter(real_stdout)
        try:
            engine.save_to_file(SpeechRenderer._engine_text(engine, job), str(tmp))
            engine.runAndWait()
            # pyttsx3 2.99's espeak driver can return before the WAV exists: it synthesizes
            # on espeak-ng's thread. 'finished-utterance' comes after the file is written.
            if not finished.wait(RENDER_TIMEOUT_S):
                raise SpeechError("speech-timeout", f"The speech engine did not finish '{job.text[:40]}' "
                                  f"within {RENDER_TIMEOUT_S:g} s; try again, or use --text.")
        finally:
            sys.stdout = real_stdout
        deadline = time.monotonic() + FILE_TIMEOUT_S
        while not wav_is_complete(tmp):
            if time.monotonic() > deadline:
                raise SpeechError("speech-file", f"The speech engine wrote no usable WAV for "
                                  f"'{job.text[:40]}'; try again, or use --text.")
            time.sleep(_FILE_POLL_S)
        os.replace(tmp, job.path)

    def _fail_all(self, failure: SpeechError) -> None:
        while True:
            _, _, job = self._jobs.get()
            if job is None:
                return
            job.done.set_exception(failure)


def _is_silent_by_mistake(job: _Job) -> bool:
    """A WAV with no samples for a sentence that has something to say."""
    if not any(c.isalnum() for c in job.text):
        return False
    with wave.open(str(job.path), "rb") as w:
        return w.getnframes() == 0


def _package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


_shared: SpeechRenderer | None = None
_shared_lock = threading.Lock()


def shared_renderer() -> SpeechRenderer:
    """This process's one renderer (started on first use; its thread is a daemon)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = SpeechRenderer()
        return _shared
