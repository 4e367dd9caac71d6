"""Choosing an engine, and the listening thread: microphone -> recognizer -> inbox.

The thread only posts events (`CommandHeard`, `DeviceLost`, `DeviceBack`); it never touches
the session. A microphone that fails is retried every `reconnect_s` until it works again or
the listener is closed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeAlias

from assistant.audio import AudioSource, MicSource
from assistant.commands import Command, Grammar
from assistant.errors import AudioDeviceError, ModelError
from assistant.events import CommandHeard, DeviceBack, DeviceLost, InboxEvent
from assistant.listening import Decision, HearingSettings, Recognizer, SphinxRecognizer, VoskRecognizer
from assistant.models import find_vosk_model

_LOGGER = logging.getLogger(__name__)

ENGINES: Final = ("auto", "vosk", "pocketsphinx")
RECONNECT_S: Final = 2.0
JOIN_TIMEOUT_S: Final = 5.0

Post: TypeAlias = Callable[[InboxEvent], None]
CommandGate: TypeAlias = Callable[[Command], bool]
"""Decides whether a heard command reaches the inbox (e.g. only barge-in words while speaking)."""
Record: TypeAlias = Callable[[Decision, "str | None"], None]
"""Keeps a decision of the recognizer, with what the gate made of it (None: obeyed or not a command)."""


@dataclass(frozen=True, slots=True)
class EngineChoice:
    """Which recognizer to use, and the one-line reason given to the user."""

    engine: str
    """"vosk" or "pocketsphinx"."""
    model: Path | None
    reason: str


def choose_engine(engine: str = "auto", model: Path | None = None,
                  models_dir: Path = Path("models")) -> EngineChoice:
    """Resolve --engine/--model: auto prefers Vosk when a model is found, else PocketSphinx."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}")
    if engine == "pocketsphinx":
        if model is not None:
            _LOGGER.warning("--model is for Vosk; it will not be used with --engine pocketsphinx.")
        return EngineChoice("pocketsphinx", None, "Listening with PocketSphinx, as asked (--engine pocketsphinx).")
    found = find_vosk_model(model, models_dir)
    if found is not None:
        return EngineChoice("vosk", found.path,
                            f"Listening with Vosk: model {found.path.name} found in {found.where}.")
    if engine == "vosk":
        raise ModelError("model-missing",
                         f"No Vosk model in --model, $VOSK_MODEL_PATH, ./{models_dir}/ or the user cache; "
                         "run: assistant model download")
    return EngineChoice("pocketsphinx", None,
                        "Listening with PocketSphinx: no Vosk model found "
                        "(for better recognition run: assistant model download).")


def make_recognizer(choice: EngineChoice, grammar: Grammar, settings: HearingSettings | None = None,
                    debug: bool = False) -> VoskRecognizer | SphinxRecognizer:
    """The recognizer of `choice`, loaded now so that a bad model fails before audio starts."""
    recognizer: VoskRecognizer | SphinxRecognizer
    if choice.engine == "vosk":
        assert choice.model is not None
        recognizer = VoskRecognizer(choice.model, grammar, settings, debug=debug)
    else:
        recognizer = SphinxRecognizer(grammar, settings, debug=debug)
    recognizer.load()
    return recognizer


class Listener:
    """A running listening thread; `close()` stops it and releases the microphone."""

    def __init__(self, recognizer: Recognizer, open_source: Callable[[], AudioSource], post: Post,
                 gate: CommandGate | None = None, reconnect_s: float = RECONNECT_S,
                 should_reset: Callable[[], bool] | None = None, record: Record | None = None,
                 coach_speaking: Callable[[], bool] | None = None) -> None:
        self.recognizer = recognizer
        self._coach_speaking = coach_speaking
        """Asked before each block; the recognizer is told (`over_speech`), when it listens for that."""
        self._record = record
        self._decided: list[Decision] = []
        if record is not None:
            if not hasattr(recognizer, "on_decision"):
                raise ValueError(f"{type(recognizer).__name__} cannot tell its decisions")
            recognizer.on_decision = self._decided.append
        self._open_source = open_source
        self._post = post
        self._gate = gate
        self._reconnect_s = reconnect_s
        self._should_reset = should_reset
        """Asked before each block: True when the gate has just opened after the assistant spoke."""
        self._stop = threading.Event()
        self._reset_wanted = threading.Event()
        self._listening = threading.Event()
        self._source: AudioSource | None = None
        self._lock = threading.Lock()
        self.heard: list[Command] = []
        """Every command posted, in order (for diagnostics and tests)."""
        self._thread = threading.Thread(target=self._run, name="listening", daemon=True)

    def start(self) -> Listener:
        self._thread.start()
        return self

    def set_gate(self, gate: CommandGate | None) -> None:
        """Hook for the speaking gate: None lets every command through."""
        self._gate = gate

    def reset(self) -> None:
        """Forget the utterance in progress (call when the gate opens after the assistant spoke)."""
        self._reset_wanted.set()

    def wait_until_listening(self, timeout_s: float) -> bool:
        """True once sound is arriving from the microphone (False after `timeout_s` without)."""
        return self._listening.wait(timeout_s)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def close(self) -> None:
        """Stop listening; waits at most JOIN_TIMEOUT_S, even while a microphone is being opened."""
        self._stop.set()
        with self._lock:  # never held while a microphone opens, which can take seconds
            if self._source is not None:
                self._source.close()
        self._thread.join(JOIN_TIMEOUT_S)
        if self._thread.is_alive():
            _LOGGER.warning("The listening thread did not stop within %.0f s.", JOIN_TIMEOUT_S)

    def _run(self) -> None:
        lost: str | None = None
        while not self._stop.is_set():
            try:
                source = self._open_source()
                with self._lock:
                    if self._stop.is_set():  # closed while it opened
                        source.close()
                        return
                    self._source = source
                if lost is not None:
                    _LOGGER.warning("The microphone '%s' works again.", source.name)
                    self._post(DeviceBack(source.name))
                    lost = None
                self._listen(source)
                if self._stop.is_set():
                    return
                raise AudioDeviceError("microphone-ended", "The microphone stream ended.")
            except AudioDeviceError as err:
                if self._stop.is_set():
                    return
                name = self._source.name if self._source is not None else "microphone"
                if lost is None:
                    _LOGGER.warning("%s Retrying every %.0f s.", err.message, self._reconnect_s)
                    self._post(DeviceLost(name, err.message))
                    lost = name
                self._close_source()
                self._stop.wait(self._reconnect_s)
            except Exception:  # a failing engine must not die silently: log it, say the mic is lost
                _LOGGER.exception("Listening failed")
                self._post(DeviceLost("microphone", "listening failed; see the log"))
                self._close_source()
                return
        self._close_source()

    def _close_source(self) -> None:
        with self._lock:
            if self._source is not None:
                self._source.close()
                self._source = None

    def _listen(self, source: AudioSource) -> None:
        self.recognizer.reset()
        for block in source.blocks():
            self._listening.set()
            if self._stop.is_set():
                return
            if self._reset_wanted.is_set() or (self._should_reset is not None and self._should_reset()):
                self._reset_wanted.clear()
                self.recognizer.reset()
            if self._coach_speaking is not None and hasattr(self.recognizer, "over_speech"):
                self.recognizer.over_speech = self._coach_speaking()
            refused: list[Command] = []
            for command in self.recognizer.accept(block):
                gate = self._gate
                if gate is not None and not gate(command):
                    _LOGGER.debug("gated: %s", command.phrase)
                    refused.append(command)
                    continue
                _LOGGER.info("Heard '%s' (%s, %.2f)", command.phrase, command.intent.value, command.confidence)
                self.heard.append(command)
                self._post(CommandHeard(command))
            if self._record is not None and self._decided:
                for decision in self._decided:
                    refused_here = decision.command is not None and any(decision.command is c for c in refused)
                    self._record(decision, "not obeyed: the listening gate" if refused_here else None)
                self._decided.clear()


def start_listening(choice: EngineChoice, grammar: Grammar, post: Post, input_device: str | None = None,
                    gate: CommandGate | None = None, settings: HearingSettings | None = None,
                    debug: bool = False, reconnect_s: float = RECONNECT_S,
                    should_reset: Callable[[], bool] | None = None,
                    recognizer: Recognizer | None = None,
                    wrap: Callable[[AudioSource], AudioSource] | None = None,
                    record: Record | None = None, coach_speaking: Callable[[], bool] | None = None) -> Listener:
    """Open the microphone and listen on a thread, posting heard commands to `post`.

    `recognizer`: one made (and loaded) by the caller, e.g. serve's that switches grammars;
    by default one for `choice` and `grammar`.

    Fails here, before the thread starts, when there is no microphone or the model is bad; a
    microphone lost later is reported with `DeviceLost` and retried. `wrap` processes the
    microphone before the recognizer hears it (echo cancellation).
    """
    # WARNING so that the one line saying which engine listens, and why, shows without --debug.
    _LOGGER.warning("%s", choice.reason)
    if recognizer is None:
        recognizer = make_recognizer(choice, grammar, settings, debug)
    first: list[AudioSource] = [MicSource(input_device)]  # no microphone: AudioDeviceError now

    def open_source() -> AudioSource:
        source: AudioSource = first.pop() if first else MicSource(input_device)
        return wrap(source) if wrap is not None else source

    return Listener(recognizer, open_source, post, gate, reconnect_s, should_reset, record,
                    coach_speaking).start()
