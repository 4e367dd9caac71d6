"""Playing sentences and earcons through sounddevice, cut off within a few milliseconds.

One output stream stays open for the whole session, fed by a callback: a sentence starts
within one block of being handed over (no stream start-up per sentence), and `cut()` takes
effect at the next block. The callback notes when a sentence's first and last samples
leave for the device, so the speaker can report exact start and end times.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

import numpy as np
import numpy.typing as npt

from assistant.errors import AudioDeviceError

if TYPE_CHECKING:
    from assistant.echo import EchoReference

_LOGGER = logging.getLogger(__name__)

SAMPLE_RATE: Final = 22050
"""espeak-ng's own rate, so speech plays without resampling."""
BLOCK_FRAMES: Final = 128
"""5.8 ms per callback at 22050 Hz: the longest a cut-off waits for the next block."""
OUTPUT_LATENCY_S: Final = 0.035
"""Sound buffered ahead of the speaker. "low" (12 ms here) underran several times a minute
while the listening thread worked, and every underrun moves the echo the canceller follows;
35 ms stopped that and still lets a cut-off be heard within 50 ms."""
RELAXED_LATENCY_S: Final = 0.2
"""For speech nobody interrupts (`assistant say`): a deep buffer rides out a busy machine.
With the session's 35 ms, a starved process underran block after block, and PulseAudio's
ALSA plugin lost sound at each recovery."""
WARM_UP_TIMEOUT_S: Final = 5.0
"""Longest wait for a new output stream to start flowing (PulseAudio takes ~2 s here)."""
_WARM_FRAMES: Final = SAMPLE_RATE // 4
"""The stream counts as flowing once it has asked for this many frames."""
_MAX_LATENCY_S: Final = 0.5
DRAIN_TIMEOUT_S: Final = 3.0
"""Longest close() waits for the device to play out what it holds (normally well under 0.5 s)."""
STALL_S: Final = 2.0
"""A stream whose callback has been silent this long (while it should play) has failed."""

NO_SPEAKER: Final = ("No speaker found (no output device); plug one in or choose one with "
                     "--output-device, or use --text.")


@dataclass(frozen=True, slots=True)
class OutputDevice:
    """A sound output chosen for the speaker."""

    index: int
    name: str
    default_samplerate: float


def find_output_device(spec: str | None) -> OutputDevice:
    """The output device for `spec` (an index, a part of a name, or None for the default)."""
    import sounddevice as sd

    try:
        devices = list(sd.query_devices())
        if spec is None:
            info = sd.query_devices(kind="output")
            return OutputDevice(int(info["index"]), str(info["name"]), float(info["default_samplerate"]))
    except sd.PortAudioError as err:
        _LOGGER.debug("No default output: %s", err)
        raise AudioDeviceError("no-speaker", NO_SPEAKER) from err
    outputs = [(i, d) for i, d in enumerate(devices) if d["max_output_channels"] > 0]
    if not outputs:
        raise AudioDeviceError("no-speaker", NO_SPEAKER)
    if spec.strip().isdigit():
        wanted = int(spec)
        for i, d in outputs:
            if i == wanted:
                return OutputDevice(i, str(d["name"]), float(d["default_samplerate"]))
        raise AudioDeviceError("no-speaker", f"Output device {wanted} is not a speaker here; "
                               "list the devices with: assistant devices, or use --text.")
    part = spec.strip().lower()
    exact = [(i, d) for i, d in outputs if str(d["name"]).lower() == part]
    matches = exact or [(i, d) for i, d in outputs if part in str(d["name"]).lower()]
    if not matches:
        names = ", ".join(f"{i}: {d['name']}" for i, d in outputs)
        raise AudioDeviceError("no-speaker", f"No speaker matches '{spec}' (there are {names}); "
                               "choose one with --output-device, or use --text.")
    if len(matches) > 1:
        _LOGGER.warning("'%s' matches %d speakers; using %s.", spec, len(matches), matches[0][1]["name"])
    i, d = matches[0]
    return OutputDevice(i, str(d["name"]), float(d["default_samplerate"]))


@dataclass(eq=False)
class Playback:
    """One sentence handed to the player; the callback fills in when it started and ended."""

    samples: npt.NDArray[np.int16]
    position: int = 0
    cut: bool = False
    started_at_s: float | None = None
    """When its first sample reaches the speaker (session seconds)."""
    ended_at_s: float | None = None
    """When its last sample (or the cut) reaches the speaker."""
    started: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)


class SoundOutput(Protocol):
    """Where the speaker sends sound: `Player` on a device; tests may pass a double."""

    device: OutputDevice
    failure: str | None
    last_callback_at: float

    @property
    def healthy(self) -> bool: ...

    def play(self, samples: npt.NDArray[np.int16], sample_rate: int) -> Playback: ...

    def cut(self) -> None: ...

    def add_earcon(self, samples: npt.NDArray[np.int16]) -> None: ...

    def close(self) -> None: ...


class Player:
    """A continuously running output stream that plays one sentence at a time plus earcons."""

    def __init__(self, device: OutputDevice, now: Callable[[], float],
                 reference: EchoReference | None = None, latency_s: float = OUTPUT_LATENCY_S) -> None:
        self.device = device
        self._latency_s = latency_s
        self._now = now
        self._reference = reference
        """Told every block sent out, so the echo canceller knows what the microphone will hear."""
        self._lock = threading.Lock()
        self._current: Playback | None = None
        self._earcons: list[tuple[npt.NDArray[np.int16], int]] = []
        self._frames_asked = 0
        self.last_callback_at = 0.0
        """time.monotonic() of the last callback: a stream that stops calling back has failed."""
        self.failure: str | None = None
        self._flowing = threading.Event()
        self._closing = False
        self.sample_rate = SAMPLE_RATE
        self._stream: Any = self._open()

    def _open(self) -> Any:
        import sounddevice as sd

        last: Exception | None = None
        # Most devices take espeak-ng's 22050 Hz (ALSA's plug layer and PulseAudio resample);
        # a raw hardware device may not, so fall back to its own rate.
        for rate in dict.fromkeys((SAMPLE_RATE, int(self.device.default_samplerate))):
            try:
                stream = sd.OutputStream(
                    samplerate=rate, channels=1, dtype="int16", device=self.device.index,
                    blocksize=BLOCK_FRAMES, latency=self._latency_s, callback=self._callback,
                    finished_callback=self._finished,
                )
                stream.start()
            except sd.PortAudioError as err:
                last = err
                continue
            self.sample_rate = rate
            if not self._flowing.wait(WARM_UP_TIMEOUT_S):
                _LOGGER.warning("The speaker %s is slow to start; the first sentence may be late.",
                                self.device.name)
            _LOGGER.debug("Speaker %s at %d Hz, latency %.3f s", self.device.name, rate, stream.latency)
            return stream
        raise AudioDeviceError("speaker-failed", f"The speaker '{self.device.name}' would not open ({last}); "
                               "choose another with --output-device, or use --text.") from last

    # ------------------------------------------------------------ called by the speaker

    def play(self, samples: npt.NDArray[np.int16], sample_rate: int) -> Playback:
        """Start playing `samples` now (replacing whatever sentence was playing)."""
        playback = Playback(resample(samples, sample_rate, self.sample_rate))
        with self._lock:
            if self._current is not None:
                self._current.cut = True
            self._current = playback
        return playback

    def cut(self) -> None:
        """Cut off the current sentence at the next block."""
        with self._lock:
            if self._current is not None:
                self._current.cut = True

    def add_earcon(self, samples: npt.NDArray[np.int16]) -> None:
        """Mix a short tone into whatever is playing."""
        with self._lock:
            self._earcons.append((resample(samples, SAMPLE_RATE, self.sample_rate), 0))

    @property
    def healthy(self) -> bool:
        return self.failure is None and bool(self._stream.active)

    def close(self) -> None:
        """Let what was handed to the device finish playing, then release it.

        The device may hold more than the latency PortAudio reported (PulseAudio raises a
        stream's latency after underruns), so closing at once could cut the last words off;
        stopping drains the stream first. A failed or stalled device is not waited for, and a
        drain never takes longer than DRAIN_TIMEOUT_S.
        """
        self._closing = True
        try:
            flowing = self.failure is None and time.monotonic() - self.last_callback_at < STALL_S
            if flowing and not drain_within(self._stream, DRAIN_TIMEOUT_S):
                _LOGGER.warning("The speaker %s did not finish playing within %g s; leaving it.",
                                self.device.name, DRAIN_TIMEOUT_S)
                return  # closing a stream that another thread is still stopping could crash
            self._stream.close(ignore_errors=True)
        except Exception:  # noqa: BLE001  (closing a failed device must not raise)
            _LOGGER.debug("Closing the output stream failed", exc_info=True)

    # ------------------------------------------------------------ the audio callback

    def _callback(self, outdata: npt.NDArray[np.int16], frames: int, when: Any, status: Any) -> None:
        self.last_callback_at = time.monotonic()
        if status.output_underflow:
            _LOGGER.debug("Output underflow")
        out = outdata[:, 0]
        out.fill(0)
        # When these frames reach the speaker: PortAudio's own estimate of the device latency.
        latency = min(_MAX_LATENCY_S, max(0.0, when.outputBufferDacTime - when.currentTime))
        at_s = self._now() + latency
        with self._lock:
            playing = self._current
            if playing is not None:
                if playing.cut:
                    self._finish(playing, at_s)
                else:
                    chunk = playing.samples[playing.position:playing.position + frames]
                    out[:len(chunk)] = chunk
                    if playing.started_at_s is None:
                        playing.started_at_s = at_s
                        playing.started.set()
                    playing.position += len(chunk)
                    if playing.position >= len(playing.samples):
                        self._finish(playing, at_s + len(chunk) / self.sample_rate)
            if self._earcons:
                mixed = out.astype(np.int32)
                still = []
                for tone, pos in self._earcons:
                    part = tone[pos:pos + frames]
                    mixed[:len(part)] += part
                    if pos + frames < len(tone):
                        still.append((tone, pos + frames))
                self._earcons = still
                out[:] = np.clip(mixed, -32768, 32767)
        if self._reference is not None:
            self._reference.played(at_s, out, self.sample_rate)
        self._frames_asked += frames
        if self._frames_asked >= _WARM_FRAMES:
            self._flowing.set()

    def _finish(self, playing: Playback, at_s: float) -> None:
        # A sentence cut before its first sample keeps started_at_s None: it was never heard.
        playing.ended_at_s = at_s
        self._current = None
        playing.started.set()
        playing.done.set()

    def _finished(self) -> None:
        if self.failure is None and not self._closing:
            self.failure = "the output stream stopped"
        with self._lock:
            if self._current is not None:
                self._current.cut = True
                self._finish(self._current, self._now())


def drain_within(stream: Any, timeout_s: float) -> bool:
    """`stream.stop()` (which plays out what the device holds), given up after `timeout_s`.

    PortAudio's stop waits for the device without a limit; a sound server that stopped
    answering would hold the program's exit forever. True if the stream stopped in time.
    """
    stopper = threading.Thread(target=stream.stop, kwargs={"ignore_errors": True},
                               name="speaker-drain", daemon=True)
    stopper.start()
    stopper.join(timeout_s)
    return not stopper.is_alive()


def resample(samples: npt.NDArray[np.int16], from_rate: int, to_rate: int) -> npt.NDArray[np.int16]:
    """Linear resampling (good enough for speech and tones); a no-op at equal rates."""
    if from_rate == to_rate or len(samples) == 0:
        return samples
    n = round(len(samples) * to_rate / from_rate)
    x = np.linspace(0, len(samples) - 1, n)
    return np.interp(x, np.arange(len(samples)), samples.astype(np.float64)).astype(np.int16)
