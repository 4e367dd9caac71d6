"""The assistant's voice: the Speaker seam, the printed speaker of `--text` and the real voice."""

from __future__ import annotations

import logging
import queue
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol, TextIO

from assistant.errors import SpeechError, UsageError
from assistant.events import DeviceBack, DeviceLost, InboxEvent, SpeechEnded, SpeechStarted

if TYPE_CHECKING:  # the sound and speech adapters are imported only when a voice is made
    from assistant.echo import EchoReference
    from assistant.playback import SoundOutput
    from assistant.rendering import VoiceInfo, VoiceParams
    from assistant.speech_cache import Rendered, SpeechCache
    from assistant.voice_settings import VoiceSettings, VoiceSettingsStore

_LOGGER = logging.getLogger(__name__)

_WORDS_PER_SECOND: Final = 2.7
"""espeak-ng's default 175 words per minute, rounded down a little for punctuation pauses."""
_SENTENCE_OVERHEAD_S: Final = 0.4


class VoiceControl(StrEnum):
    """Live changes the user can ask for."""

    LOUDER = "louder"
    QUIETER = "quieter"
    SLOWER = "slower"
    FASTER = "faster"


def estimate_speech_s(text: str, rate_factor: float = 1.0) -> float:
    """About how long `text` takes to say at the default rate times `rate_factor`."""
    words = max(1, len(text.split()))
    return _SENTENCE_OVERHEAD_S + words / (_WORDS_PER_SECOND * rate_factor)


class Speaker(Protocol):
    """Says sentences in order; the session never waits on it."""

    def say(self, text: str, *, urgent: bool = False) -> None:
        """Queue `text`; `urgent` cuts off what is playing and drops what is queued first."""
        ...

    def stop(self) -> None:
        """Cut off the current sentence and drop the queue."""
        ...

    def adjust(self, control: VoiceControl) -> None:
        """Change volume or rate from the next sentence on."""
        ...

    def duration_s(self, text: str) -> float:
        """How long saying `text` takes (exact when rendered, else an estimate)."""
        ...

    def earcon(self, name: str) -> None:
        """Play a short tone: "heard", "tick", "rep_start" or "rep_end"."""
        ...

    def close(self) -> None:
        """Finish: stop playing and release devices and threads."""
        ...


class TextSpeaker:
    """Prints what would be said, with the session time: `[  12.0] Lie on your stomach.`"""

    _RATE_STEP: Final = 1.15

    def __init__(self, now: Callable[[], float], out: TextIO | None = None) -> None:
        self._now = now
        self._out = out if out is not None else sys.stdout
        self.rate_factor = 1.0
        self.volume = 1.0

    def say(self, text: str, *, urgent: bool = False) -> None:
        mark = "!" if urgent else " "
        print(f"[{self._now():7.1f}]{mark}{text}", file=self._out, flush=True)

    def stop(self) -> None:
        """Nothing plays, so nothing to cut off."""

    def adjust(self, control: VoiceControl) -> None:
        if control is VoiceControl.SLOWER:
            self.rate_factor /= self._RATE_STEP
        elif control is VoiceControl.FASTER:
            self.rate_factor *= self._RATE_STEP
        elif control is VoiceControl.LOUDER:
            self.volume = min(1.0, self.volume + 0.1)
        else:
            self.volume = max(0.1, self.volume - 0.1)

    def duration_s(self, text: str) -> float:
        return estimate_speech_s(text, self.rate_factor)

    def earcon(self, name: str) -> None:
        """Tones are not printed: the words around them say the same."""

    def close(self) -> None:
        self._out.flush()


# ---------------------------------------------------------------- the real voice

POLL_S: Final = 0.05
"""How often the play thread looks at the device while it waits for a sentence to play."""
CLOSE_TIMEOUT_S: Final = 5.0
RECONNECT_S: Final = 5.0
"""After the speaker failed, try to open it again at most this often (when there is something to say)."""


@dataclass(frozen=True, slots=True)
class _Said:
    text: str
    generation: int
    """Sentences of an older generation were dropped by stop() or an urgent sentence."""


class SpeechWorker:
    """The assistant's voice: renders (cached), plays in order, reports start and end.

    `say()` returns at once; a play thread takes sentences from a queue, gets their audio
    from the cache (rendering on the one render thread when missing), hands it to the
    player and posts SpeechStarted / SpeechEnded with the times the player measured. When
    the speaker fails, it posts DeviceLost once and prints sentences from then on.

    `prerendered_only` (--low-power) never synthesizes once `prepare()` is done: a sentence
    that was not prepared is printed instead of spoken (with a warning in the log), "louder"
    and "quieter" scale the prepared audio, and "slower" and "faster" are saved for the next
    session without re-rendering this one.
    """

    def __init__(self, player: SoundOutput, cache: SpeechCache, settings: VoiceSettings,
                 post: Callable[[InboxEvent], None], now: Callable[[], float], *,
                 store: VoiceSettingsStore | None = None, earcons: bool = True,
                 out: TextIO | None = None, reopen: Callable[[], SoundOutput] | None = None,
                 reconnect_s: float = RECONNECT_S, prerendered_only: bool = False) -> None:
        self._player = player
        self.prerendered_only = prerendered_only
        self._prepared_params: VoiceParams | None = None
        """What the session's sentences were rendered with (prerendered_only looks them up so)."""
        self.not_prepared: list[str] = []
        """prerendered_only: sentences that were printed because they were not prepared."""
        self._reopen = reopen
        self._reconnect_s = reconnect_s
        self._last_try = 0.0
        self._cache = cache
        self._settings = settings
        self._store = store
        self._post = post
        self._now = now
        self._earcons_on = earcons
        self._fallback = TextSpeaker(now, out)
        self._lock = threading.Lock()
        self._generation = 0
        self._pending = 0
        self._idle = threading.Condition(self._lock)
        self._queue: queue.Queue[_Said | None] = queue.Queue()
        self._prepared: list[str] = []
        self._tones: dict[tuple[str, float], Any] = {}
        self._heard_until_s = 0.0
        """Session time at which the last sentence played so far is heard to its end."""
        self.lost = False
        """The speaker failed; sentences are printed instead."""
        self._thread = threading.Thread(target=self._run, name="speech-play", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ the Speaker protocol

    @property
    def settings(self) -> VoiceSettings:
        return self._settings

    def say(self, text: str, *, urgent: bool = False) -> None:
        if not text.strip():
            return
        if urgent:
            self.stop()
        with self._lock:
            self._pending += 1
            self._queue.put(_Said(text, self._generation))

    def stop(self) -> None:
        with self._lock:
            self._generation += 1
            self._player.cut()

    def adjust(self, control: VoiceControl) -> None:
        with self._lock:
            self._settings = self._settings.adjusted(control)
            settings = self._settings
        _LOGGER.info("Voice now %d words per minute at volume %.2f", settings.rate_wpm, settings.volume)
        if self._store is not None:
            saved = self._store.load()
            self._store.save(replace(saved, rate_wpm=settings.rate_wpm, volume=settings.volume))
        if self.prerendered_only:
            # No synthesis now: the volume is applied to the prepared audio as it plays, and a new
            # rate is heard from the next session on (it is saved above).
            if control in (VoiceControl.SLOWER, VoiceControl.FASTER):
                _LOGGER.info("Low power: the voice keeps its rate until the next session.")
            return
        # Re-render the session's sentences at the new rate or volume, behind anything urgent.
        self._cache.render_ahead(self._prepared, _params(settings))

    def duration_s(self, text: str) -> float:
        settings = self._settings
        exact = self._cache.duration_s(text, self._lookup_params())
        return exact if exact is not None else estimate_speech_s(text, settings.rate_factor)

    def earcon(self, name: str) -> None:
        settings = self._settings
        if not self._earcons_on or name not in settings.earcons or self.lost:
            return
        key = (name, settings.volume)
        if key not in self._tones:
            from assistant.earcons import earcon_samples
            from assistant.playback import SAMPLE_RATE

            self._tones[key] = earcon_samples(name, SAMPLE_RATE, settings.volume)
        self._player.add_earcon(self._tones[key])

    def close(self) -> None:
        self.stop()
        self._queue.put(None)
        self._thread.join(timeout=CLOSE_TIMEOUT_S)
        self._player.close()

    # ------------------------------------------------------------ beyond the protocol

    def prepare(self, texts: Iterable[str], *, progress: bool = True) -> int:
        """Render every sentence of the session now; returns how many were not cached yet."""
        self._prepared = list(dict.fromkeys(texts))
        self._prepared_params = _params(self._settings)
        return self._cache.prepare(self._prepared, self._prepared_params, progress=progress)

    def audio_of(self, text: str) -> Rendered:
        """`text` as it sounds with the current settings (rendered now if it is not cached)."""
        return self._cache.get(text, _params(self._settings))

    def wait_until_quiet(self, timeout_s: float) -> bool:
        """Wait until every queued sentence has been played (or dropped); False on timeout."""
        began = time.monotonic()
        with self._idle:
            if not self._idle.wait_for(lambda: self._pending == 0, timeout=timeout_s):
                return False
        # The last frames were handed to the device; they are heard only after its latency.
        # Closing before then would cut the end of the sentence off.
        tail = self._heard_until_s - self._now()
        if tail > 0:
            time.sleep(min(tail, max(0.0, timeout_s - (time.monotonic() - began))))
        return True

    # ------------------------------------------------------------ the play thread

    def _run(self) -> None:
        while True:
            said = self._queue.get()
            if said is None:
                return
            try:
                self._speak(said)
            except Exception:  # noqa: BLE001  (the voice must not die with one sentence)
                _LOGGER.exception("Could not say: %s", said.text)
                self._fallback.say(said.text)
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def _speak(self, said: _Said) -> None:
        if said.generation != self._generation:
            return
        if self.lost and not self._reconnected():
            self._print(said.text)
            return
        params = self._lookup_params()
        if self.prerendered_only and not self._cache.is_cached(said.text, params):
            _LOGGER.warning("Low power: not prepared before the session, so shown, not spoken: %s", said.text)
            self.not_prepared.append(said.text)
            self._print(said.text)
            return
        try:
            rendered = self._cache.get(said.text, params)
        except SpeechError as err:
            _LOGGER.error("%s", err.message)
            self._print(said.text)
            return
        samples = rendered.samples
        if self._settings.volume != params.volume:  # prerendered_only after louder/quieter
            import numpy as np

            gain = self._settings.volume / max(params.volume, 0.01)
            samples = np.clip(samples.astype(np.float32) * gain, -32768, 32767).astype(np.int16)
        with self._lock:
            if said.generation != self._generation:
                return  # stopped while it was being rendered
            playback = self._player.play(samples, rendered.sample_rate)
        if not self._wait(playback.started):
            self._print(said.text)
            return
        if playback.started_at_s is not None:
            self._post(SpeechStarted(said.text, playback.started_at_s))
        if not self._wait(playback.done):
            # The device failed mid-sentence: close this one, then print it whole.
            self._post(SpeechEnded(said.text, self._now(), interrupted=True))
            self._print(said.text)
            return
        if playback.started_at_s is not None:
            ended = playback.ended_at_s if playback.ended_at_s is not None else self._now()
            self._heard_until_s = max(self._heard_until_s, ended)
            self._post(SpeechEnded(said.text, ended, interrupted=playback.cut))

    def _lookup_params(self) -> VoiceParams:
        """The voice to look sentences up with: as prepared when pre-rendered only, else as set now."""
        if self.prerendered_only and self._prepared_params is not None:
            return self._prepared_params
        return _params(self._settings)

    def _wait(self, event: threading.Event) -> bool:
        """Wait for the player; False (and the device marked lost) if the device failed."""
        from assistant.playback import STALL_S  # the player's own verdict on a silent stream

        while not event.wait(POLL_S):
            player = self._player
            stalled = time.monotonic() - player.last_callback_at > STALL_S
            if not player.healthy or stalled:
                reason = player.failure or ("it stopped playing" if stalled else "its stream stopped")
                self._lose(reason)
                return False
        if self._player.failure is not None:
            self._lose(self._player.failure)
            return False
        return True

    def _lose(self, reason: str) -> None:
        if self.lost:
            return
        self.lost = True
        self._last_try = time.monotonic()
        name = self._player.device.name
        _LOGGER.warning("The speaker '%s' failed (%s); the assistant's words are printed from now on.",
                        name, reason)
        self._player.cut()
        self._post(DeviceLost(f"speaker {name}", reason))

    def _reconnected(self) -> bool:
        """Try the speaker again (not too often); True if it is back."""
        if self._reopen is None or time.monotonic() - self._last_try < self._reconnect_s:
            return False
        self._last_try = time.monotonic()
        try:
            player = self._reopen()
        except Exception as err:  # noqa: BLE001  (still gone: keep printing)
            _LOGGER.debug("The speaker is still unavailable: %s", err)
            return False
        old, self._player = self._player, player
        old.close()
        self.lost = False
        _LOGGER.warning("The speaker '%s' works again.", player.device.name)
        self._post(DeviceBack(f"speaker {player.device.name}"))
        return True

    def _print(self, text: str) -> None:
        now = self._now()
        self._post(SpeechStarted(text, now))
        self._fallback.say(text)
        self._post(SpeechEnded(text, self._now()))


def _params(settings: VoiceSettings) -> VoiceParams:
    from assistant.rendering import VoiceParams

    return VoiceParams(settings.voice, settings.rate_wpm, settings.volume)


def resolve_voice(voices: Sequence[VoiceInfo], spec: str) -> str:
    """The id of the voice `spec` names (an id or name, whole or a part)."""
    want = spec.strip().lower()
    exact = [v for v in voices
             if want in (v.id.lower(), v.id.lower().rsplit("/", 1)[-1], v.name.lower())]
    found = exact or [v for v in voices if want in v.id.lower() or want in v.name.lower()]
    if found:
        if len(found) > 1:
            _LOGGER.warning("'%s' matches %d voices; using %s (%s).", spec, len(found),
                            found[0].name, found[0].id)
        return found[0].id
    raise UsageError("no-voice", f"No voice '{spec}' here; list the voices with: assistant voices")


def make_speaker(output_device: str | None, voice: str | None, post: Callable[[InboxEvent], None],
                 now: Callable[[], float], *, cache_dir: Path | None = None,
                 config_dir: Path | None = None, earcons: bool = True,
                 out: TextIO | None = None, prerendered_only: bool = False,
                 reference: EchoReference | None = None, interruptible: bool = True) -> SpeechWorker:
    """The real speaker on `output_device` (index, name part, or None for the default).

    `interruptible=False` (nothing will cut it off) buffers deeper, so a busy machine does
    not make the sound stutter.

    Raises AudioDeviceError (no speaker), UsageError (unknown voice) or SpeechError (no
    engine), each with one sentence that says what to do. Call `prepare()` on the result
    with `session_lines(routine, cues)` before the session starts.
    """
    from assistant.playback import OUTPUT_LATENCY_S, RELAXED_LATENCY_S, Player, find_output_device
    from assistant.rendering import shared_renderer
    from assistant.speech_cache import SpeechCache
    from assistant.voice_settings import VoiceSettingsStore

    store = VoiceSettingsStore(config_dir)
    settings = store.load()
    renderer = shared_renderer()
    voices = renderer.voices()  # also raises the engine's start-up failure
    if voice is not None:
        settings = replace(settings, voice=resolve_voice(voices, voice))
    elif settings.voice is not None and settings.voice not in {v.id for v in voices}:
        _LOGGER.warning("The saved voice '%s' is not here; using the default voice.", settings.voice)
        settings = replace(settings, voice=None)
    device = find_output_device(output_device)
    latency_s = OUTPUT_LATENCY_S if interruptible else RELAXED_LATENCY_S
    player = Player(device, now, reference, latency_s)

    def reopen() -> Player:
        # The same device, found again by its name (its index may change when replugged).
        if reference is not None:
            reference.new_stream()
        return Player(find_output_device(device.name if output_device is not None else None), now, reference,
                      latency_s)

    return SpeechWorker(player, SpeechCache(renderer, cache_dir), settings, post, now,
                        store=store, earcons=earcons, out=out, reopen=reopen, prerendered_only=prerendered_only)


def render_to_file(text: str, out: Path, voice: str | None = None, *,
                   cache_dir: Path | None = None, config_dir: Path | None = None) -> float:
    """Render `text` to the WAV `out` with the user's voice settings; returns its length in s."""
    from assistant.rendering import shared_renderer
    from assistant.speech_cache import SpeechCache
    from assistant.voice_settings import VoiceSettingsStore

    if not text.strip():
        raise UsageError("usage", "Nothing to say: give the text, e.g. assistant say \"Hello.\"")
    settings = VoiceSettingsStore(config_dir).load()
    renderer = shared_renderer()
    if voice is not None:
        settings = replace(settings, voice=resolve_voice(renderer.voices(), voice))
    cache = SpeechCache(renderer, cache_dir)
    rendered = cache.get(text, _params(settings))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cache.path_for(text, _params(settings)), out)
    except OSError as err:
        raise UsageError("bad-output", f"Cannot write {out} ({err.strerror}); choose another --out.") from err
    return rendered.duration_s
