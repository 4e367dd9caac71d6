"""Echo cancellation: take the coach's own voice out of the microphone, so "stop" is heard over it.

On a mat the microphone hears the speaker. The gate (gate.py) keeps the coach from obeying
its own words, but a recognizer still hears the coach's sentence and the person's "stop"
as one long utterance, which is no command. Here the sound the speaker sent out (the
*reference*) is subtracted from the microphone with Speex's adaptive echo canceller
(libspeexdsp, from Xiph: small, fast on a Raspberry Pi, packaged by Debian as libspeexdsp1
and already pulled in by PulseAudio), plus its residual-echo suppressor.

Lining the two up: both streams are counted in samples (continuous, as the canceller needs);
their session-clock times give a first guess of how they line up, and `DelayFinder` then
measures the true delay from the sound itself (sound servers report latency loosely: here it
was off by 50-150 ms), keeping the echo `echo_lag_s` behind its reference. A second filter,
`ResidualGate`, silences what is left of the echo, so that the recognizer's voice detector
hears the person's "stop" as an utterance of its own.

While the coach has been silent for longer than the filter, the microphone passes untouched:
commands said in quiet are heard exactly as without cancellation, and it costs nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from assistant.audio import RATE_HZ, AudioBlock, AudioSource, Resampler

_LOGGER = logging.getLogger(__name__)

Int16Array = npt.NDArray[np.int16]

FRAME: Final = 160
"""10 ms at 16 kHz: the canceller's step."""
_ECHO_SET_SAMPLING_RATE: Final = 24  # speex_echo.h
_PREPROCESS_SET_DENOISE: Final = 0  # speex_preprocess.h
_PREPROCESS_SET_ECHO_STATE: Final = 24
_PREPROCESS_SET_ECHO_SUPPRESS: Final = 20
_PREPROCESS_SET_ECHO_SUPPRESS_ACTIVE: Final = 22
_GAP_S: Final = 0.015
_GAP_BLOCKS: Final = 16
"""Output blocks whose median time decides whether the speaker lost time."""
_FOREVER: Final = 1 << 62
_WAIT_S: Final = 0.25
"""Longest wait for the speaker's sound (a stalled or closed speaker must not stop listening)."""
_TOLERANCE: Final = 80
"""Samples (5 ms) the echo may sit away from its target lag before the alignment moves."""
_MAPPING_WINDOW: Final = 400
"""Recent blocks over which each stream's clock mapping takes its median: enough to be
steady, few enough to follow a sound card's clock drift."""

NO_SPEEXDSP: Final = ("Echo cancellation is off: the library libspeexdsp is missing "
                      "(Debian: sudo apt install libspeexdsp1); \"stop\" will not be heard while the coach talks.")


class EchoUnavailable(RuntimeError):
    """libspeexdsp cannot be loaded."""


@dataclass(frozen=True, slots=True)
class EchoSettings:
    """How the canceller is set up."""

    filter_s: float = 0.15
    """Echo tail the adaptive filter models: the room's ring after the direct sound.
    Longer adapts more slowly; measured in the virtual room, 0.1-0.15 s heard the most."""
    echo_lag_s: float = 0.05
    """Where the echo is kept inside the filter: the reference is lined up so that its echo
    comes this much after it, leaving room for the alignment to wobble either way."""
    keep_db: float = -6.0
    """While the coach talks, a 10 ms frame reaches the recognizer only when cancellation took
    away less than this (the person's voice is not in the reference, so it survives)."""
    hold_s: float = 0.15
    """A frame let through keeps the gate open this long, for the ends of words."""
    denoise: bool = True
    """Speex applies its residual-echo suppression only together with its noise suppressor."""
    echo_suppress_db: int = -40
    """Residual echo suppression (Speex's default), when the person is silent."""
    echo_suppress_active_db: int = -15
    """Residual echo suppression while the person talks (Speex's default)."""

    def __post_init__(self) -> None:
        if not 0.05 <= self.filter_s <= 1.0 or not 0.0 <= self.echo_lag_s < self.filter_s:
            raise ValueError("filter_s must be 0.05..1 s and echo_lag_s within 0..filter_s")


def _speexdsp() -> ctypes.CDLL:
    name = ctypes.util.find_library("speexdsp") or "libspeexdsp.so.1"
    try:
        lib = ctypes.CDLL(name)
    except OSError as err:
        raise EchoUnavailable(NO_SPEEXDSP) from err
    lib.speex_echo_state_init.restype = ctypes.c_void_p
    lib.speex_echo_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.speex_echo_state_destroy.argtypes = [ctypes.c_void_p]
    lib.speex_echo_cancellation.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    lib.speex_echo_state_reset.argtypes = [ctypes.c_void_p]
    lib.speex_echo_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    lib.speex_preprocess_state_init.restype = ctypes.c_void_p
    lib.speex_preprocess_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.speex_preprocess_state_destroy.argtypes = [ctypes.c_void_p]
    lib.speex_preprocess_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    lib.speex_preprocess_run.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    return lib


class SpeexCanceller:
    """Speex's acoustic echo canceller with its residual-echo suppressor, 16 kHz mono int16."""

    def __init__(self, settings: EchoSettings | None = None) -> None:
        self.settings = settings or EchoSettings()
        self._lib = _speexdsp()
        taps = int(self.settings.filter_s * RATE_HZ)
        self._echo = self._lib.speex_echo_state_init(FRAME, taps)
        self._pre = self._lib.speex_preprocess_state_init(FRAME, RATE_HZ)
        if not self._echo or not self._pre:
            raise EchoUnavailable("libspeexdsp could not set up an echo canceller.")
        self._ctl_echo(_ECHO_SET_SAMPLING_RATE, RATE_HZ)
        self._ctl_pre(_PREPROCESS_SET_DENOISE, int(self.settings.denoise))
        self._ctl_pre(_PREPROCESS_SET_ECHO_SUPPRESS, self.settings.echo_suppress_db)
        self._ctl_pre(_PREPROCESS_SET_ECHO_SUPPRESS_ACTIVE, self.settings.echo_suppress_active_db)
        self._lib.speex_preprocess_ctl(self._pre, _PREPROCESS_SET_ECHO_STATE, ctypes.c_void_p(self._echo))
        self._out = np.zeros(FRAME, np.int16)

    def _ctl_echo(self, request: int, value: int) -> None:
        number = ctypes.c_int(value)
        self._lib.speex_echo_ctl(self._echo, request, ctypes.byref(number))

    def _ctl_pre(self, request: int, value: int) -> None:
        number = ctypes.c_int(value)
        self._lib.speex_preprocess_ctl(self._pre, request, ctypes.byref(number))

    def process(self, mic: Int16Array, reference: Int16Array) -> tuple[Int16Array, Int16Array]:
        """The microphone with the echo of `reference` removed: (linear, suppressed).

        `linear` is the adaptive filter's output, closest to the person's own voice (for the
        recognizer); `suppressed` has the residual echo and noise pressed down as well (for
        deciding which frames hold the person's voice). Both a whole number of 10 ms frames.
        """
        if len(mic) != len(reference) or len(mic) % FRAME:
            raise ValueError("mic and reference must be the same whole number of 10 ms frames")
        mic = np.ascontiguousarray(mic, np.int16)
        reference = np.ascontiguousarray(reference, np.int16)
        linear = np.empty_like(mic)
        suppressed = np.empty_like(mic)
        for at in range(0, len(mic), FRAME):
            self._lib.speex_echo_cancellation(self._echo, mic[at:].ctypes.data, reference[at:].ctypes.data,
                                              self._out.ctypes.data)
            linear[at:at + FRAME] = self._out
            self._lib.speex_preprocess_run(self._pre, self._out.ctypes.data)
            suppressed[at:at + FRAME] = self._out
        return linear, suppressed

    def close(self) -> None:
        if self._echo:
            self._lib.speex_echo_state_destroy(self._echo)
            self._echo = None
        if self._pre:
            self._lib.speex_preprocess_state_destroy(self._pre)
            self._pre = None

    def __del__(self) -> None:
        self.close()


class ResidualGate:
    """Silences what is left of the echo, so the recognizer's voice detector hears a pause.

    A voice detector looks at the shape of the sound, not its loudness: the faint remains of
    the coach's voice after cancellation still count as speech, and the coach's sentence and
    the person's "stop" would come out as one long utterance again. So while the coach talks,
    a 10 ms frame passes only when cancellation removed little of it (the person's voice is
    not in the reference, so it survives whole); `hold_s` keeps the ends of words.
    """

    def __init__(self, keep_db: float = -12.0, hold_s: float = 0.15) -> None:
        self._keep = 10 ** (keep_db / 10)
        self._hold = int(hold_s * RATE_HZ / FRAME)
        self._open_for = 0

    def __call__(self, mic: Int16Array, linear: Int16Array, cleaned: Int16Array) -> Int16Array:
        """`linear` where `cleaned` shows the person's voice, silence elsewhere."""
        out = linear.copy()
        for at in range(0, len(mic), FRAME):
            before = float(np.dot(mic[at:at + FRAME].astype(np.float64), mic[at:at + FRAME]))
            after = float(np.dot(cleaned[at:at + FRAME].astype(np.float64), cleaned[at:at + FRAME]))
            if before > 0 and after >= before * self._keep:
                self._open_for = self._hold
            elif self._open_for > 0:
                self._open_for -= 1
            else:
                out[at:at + FRAME] = 0
        return out


class ClockMapping:
    """Stream sample index -> session seconds: the median of recent estimates.

    Only a first guess of how the speaker's and the microphone's streams line up: sound
    servers report latency loosely, so `DelayFinder` then measures it from the sound itself.
    """

    def __init__(self, window: int = _MAPPING_WINDOW) -> None:
        self._offsets: deque[float] = deque(maxlen=window)

    def observe(self, at_s: float, index: int, rate_hz: int) -> None:
        """Sample `index` of the stream was at the device at session second `at_s`."""
        self._offsets.append(at_s - index / rate_hz)

    @property
    def offset_s(self) -> float | None:
        """Session second of sample 0, or None before the first observation."""
        return float(np.median(self._offsets)) if self._offsets else None


class EchoReference:
    """What the speaker sent out in the last few seconds, as one continuous 16 kHz stream.

    `played()` is called from the audio callback and only appends; the listening thread
    converts on its next read. Samples are counted, never placed by the callbacks' times:
    those jitter by tens of milliseconds, and the canceller needs a steady echo path.
    """

    def __init__(self, keep_s: float = 8.0) -> None:
        self._lock = threading.Lock()
        self._pending: list[tuple[float, Int16Array, int]] = []
        self._rate_hz: int | None = None
        self._resampler: Resampler | None = None
        self._ring = np.zeros(int(keep_s * RATE_HZ), np.int16)
        self.written = 0
        """16 kHz samples converted so far; the ring holds the newest len(_ring) of them."""
        self.mapping = ClockMapping()
        self._stalled_at = -1
        self._recent: deque[float] = deque(maxlen=_GAP_BLOCKS)
        self._anchor_s: float | None = None
        self.gaps = 0
        """Underruns followed (for diagnostics and tests)."""
        self._last_sound = -(1 << 62)
        self.generation = 0
        """Counts output streams: a reopened speaker starts a new one, to be aligned anew."""

    def new_stream(self) -> None:
        """The speaker was reopened: what follows is not continuous with what came before."""
        with self._lock:
            self._convert()
            self._rate_hz = None

    def played(self, at_s: float, samples: Int16Array, rate_hz: int) -> None:
        """`samples` (mono) start reaching the speaker at about session second `at_s`."""
        with self._lock:
            self._pending.append((at_s, samples.copy(), rate_hz))

    def wait_for(self, last: int, timeout_s: float, at_most: int) -> bool:
        """Wait until sample `last` has been sent out, unless it is more than `at_most` samples
        away (then the asker is misaligned, and waiting would only make it fall behind)."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:
                self._convert()
                if self.written >= last:
                    return True
                if last - self.written > at_most:
                    return False
                if self.written == self._stalled_at:  # still no sound since the last timeout
                    return False
            if time.monotonic() >= deadline:
                with self._lock:
                    self._stalled_at = self.written  # a stopped speaker: do not wait again
                return False
            time.sleep(0.005)

    def recently_sounding(self, within_s: float = 3.0) -> bool:
        """Has the speaker sent out any sound in the last `within_s` seconds of its stream?"""
        with self._lock:
            return self._last_sound >= self.written - within_s * RATE_HZ

    def samples(self, first: int, count: int) -> Int16Array | None:
        """Samples `first` .. `first + count` of the stream (zeros where unknown); None if all silent."""
        with self._lock:
            self._convert()
            out = np.zeros(count, np.int16)
            lo = max(first, self.written - len(self._ring), 0)
            hi = min(first + count, self.written)
            if hi <= lo:
                return None
            out[lo - first:hi - first] = self._ring[np.arange(lo, hi) % len(self._ring)]
        return out if out.any() else None

    def _follow_gaps(self, at_s: float) -> None:
        """When the output stream underran, the device played silence we never sent: put the
        same silence into the reference, so that the echo stays where the canceller expects it.
        Seen as the blocks' times moving later than their count (a median, against jitter)."""
        self._recent.append(at_s - self.written / RATE_HZ)
        if len(self._recent) < self._recent.maxlen:  # type: ignore[operator]
            return
        observed = float(np.median(self._recent))
        if self._anchor_s is None or observed < self._anchor_s:
            self._anchor_s = observed
        elif observed - self._anchor_s > _GAP_S:
            gap = round((observed - self._anchor_s) * RATE_HZ)
            idx = (self.written + np.arange(gap)) % len(self._ring)
            self._ring[idx] = 0
            self.written += gap
            self._recent.clear()
            self._anchor_s = None
            self.gaps += 1
            _LOGGER.debug("The speaker lost %.0f ms (an underrun); the reference follows.", gap / RATE_HZ * 1000)

    def _convert(self) -> None:
        for at_s, block, rate_hz in self._pending:
            if self._rate_hz != rate_hz:  # the first block of a (new) output stream
                self._rate_hz, self._resampler = rate_hz, Resampler(rate_hz)
                self.mapping = ClockMapping()
                self.generation += 1
                self._recent.clear()
                self._anchor_s = None
            assert self._resampler is not None
            self._follow_gaps(at_s)
            self.mapping.observe(at_s, self.written, RATE_HZ)
            converted = np.clip(np.rint(self._resampler(block.astype(np.float32))), -32768, 32767)
            idx = (self.written + np.arange(len(converted))) % len(self._ring)
            self._ring[idx] = converted.astype(np.int16)
            self.written += len(converted)
            if block.any():
                self._last_sound = self.written
        self._pending.clear()


class DelayFinder:
    """Finds where the echo of the speaker's sound is, by cross-correlating it with the microphone.

    Searches widely (`wide_s`) until it has found the echo once, then near where it was.
    Answers only when the echo clearly dominates the window (the person is quiet).
    """

    def __init__(self, window_s: float = 1.0, wide_s: float = 3.0, near_s: float = 0.3,
                 min_correlation: float = 0.3, min_first_correlation: float = 0.5) -> None:
        self.window = int(window_s * RATE_HZ)
        self.wide = int(wide_s * RATE_HZ)
        self.near = int(near_s * RATE_HZ)
        self.min_correlation = min_correlation
        self.min_first_correlation = min_first_correlation
        """Stricter for the wide first search, which has more chances to match by accident."""
        self.found = False

    @property
    def search(self) -> int:
        """Samples searched either side of the present alignment."""
        return self.near if self.found else self.wide

    def offset(self, mic: Int16Array, around: Int16Array) -> int | None:
        """Where `mic` best matches inside `around` (which has `search` extra samples either side):
        the offset from the middle, in samples, or None when unclear."""
        a = mic.astype(np.float64)
        w = around.astype(np.float64)
        if not a.any() or not w.any():
            return None
        n = 1 << int(np.ceil(np.log2(len(w) + len(a))))
        xc = np.fft.irfft(np.fft.rfft(w, n) * np.conj(np.fft.rfft(a, n)), n)[:len(w) - len(a) + 1]
        energy = np.concatenate([[0.0], np.cumsum(w * w)])
        window_energy = energy[len(a):] - energy[:len(energy) - len(a)]
        norm = np.sqrt(np.maximum(window_energy, 1e-9) * float(np.dot(a, a)))
        score = xc / norm
        best = int(np.argmax(score))
        needed = self.min_correlation if self.found else self.min_first_correlation
        if score[best] < needed:
            return None
        self.found = True
        return best - (len(w) - len(a)) // 2


class EchoCancelledSource:
    """An AudioSource whose blocks have the speaker's echo removed."""

    def __init__(self, source: AudioSource, reference: EchoReference, now: Callable[[], float],
                 canceller: SpeexCanceller | None = None, finder: DelayFinder | None = None) -> None:
        self.source = source
        self.name = source.name
        self._reference = reference
        self._now = now
        self._canceller = canceller or SpeexCanceller()
        self._finder = finder or DelayFinder()
        settings = self._canceller.settings
        self._gate = ResidualGate(settings.keep_db, settings.hold_s)
        self._mapping = ClockMapping()
        self._lock = threading.Lock()
        self._reading = False
        self._closed = False
        self._shift: int | None = None
        """Reference sample index = microphone sample index + shift."""
        self._target = int(settings.echo_lag_s * RATE_HZ)
        self._wait_limit = self._target + int(0.2 * RATE_HZ)
        self._mic_history = np.zeros(0, np.int16)
        self._history_start = 0
        self._generation = -1
        self._silent_for = _FOREVER
        """Samples since the reference last had sound."""
        self._quiet_after = int((settings.filter_s + settings.hold_s) * RATE_HZ)
        self.shifts: list[int] = []
        """Every alignment chosen (for diagnostics and tests)."""

    def blocks(self) -> Iterator[AudioBlock]:
        with self._lock:
            self._reading = True
        try:
            yield from self._cleaned()
        finally:
            with self._lock:
                self._reading = False
                if self._closed:
                    self._canceller.close()

    def _cleaned(self) -> Iterator[AudioBlock]:
        carry = np.zeros(0, np.int16)
        carry_start = 0
        for block in self.source.blocks():
            first = round(block.start_s * RATE_HZ)
            self._mapping.observe(self._now(), round(block.end_s * RATE_HZ), RATE_HZ)
            if not len(carry):
                carry_start = first
            pcm = np.concatenate([carry, np.frombuffer(block.pcm, np.int16)])
            whole = len(pcm) - len(pcm) % FRAME
            carry = pcm[whole:]
            if not whole:
                continue
            start, carry_start = carry_start, carry_start + whole
            mic = pcm[:whole]
            reference = self._reference_for(start, whole)
            if self._reference.recently_sounding():
                self._watch_delay(start, mic)
            if reference is None:
                self._silent_for += whole
                if self._silent_for > self._quiet_after:
                    yield AudioBlock(mic.tobytes(), start / RATE_HZ)
                    continue
                reference = np.zeros(whole, np.int16)
            else:
                self._silent_for = 0
            linear, suppressed = self._canceller.process(mic, reference)

            yield AudioBlock(self._gate(mic, linear, suppressed).tobytes(), start / RATE_HZ)

    def _reference_for(self, start: int, count: int) -> Int16Array | None:
        if self._generation != self._reference.generation:  # a new output stream: align again
            self._generation = self._reference.generation
            self._shift = None
        if self._shift is None:
            mic_offset, ref_offset = self._mapping.offset_s, self._reference.mapping.offset_s
            if mic_offset is None or ref_offset is None:
                self._reference.samples(0, 0)  # keep converting what was played
                return None
            _LOGGER.debug("first alignment from the clocks: microphone at %.3f s, speaker at %.3f s",
                          mic_offset, ref_offset)
            self._set_shift(round((mic_offset - ref_offset) * RATE_HZ) + self._target)
        assert self._shift is not None
        last = start + self._shift + count
        # The newest reference may still be on its way (the canceller wants it ahead of the
        # echo); much further ahead means the alignment is still wrong: do not wait for that.
        self._reference.wait_for(last, _WAIT_S, self._wait_limit)
        return self._reference.samples(start + self._shift, count)

    def _set_shift(self, shift: int) -> None:
        self._shift = shift
        self.shifts.append(shift)
        _LOGGER.debug("Echo alignment: speaker sample = microphone sample %+d", shift)

    def _watch_delay(self, start: int, mic: Int16Array) -> None:
        """Now and then, check where the echo is, and move the alignment if it has wandered."""
        window = self._finder.window
        if not len(self._mic_history):
            self._history_start = start
        self._mic_history = np.concatenate([self._mic_history, mic])
        if len(self._mic_history) < window or self._shift is None:
            return
        search = self._finder.search
        history, first = self._mic_history, self._history_start
        self._drop_history()
        around = self._reference.samples(first + self._shift - search, len(history) + 2 * search)
        if around is None:
            return
        offset = self._finder.offset(history, around)
        # The echo of microphone sample i is reference sample i + shift + offset; the
        # canceller wants the reference `target` samples ahead of its echo.
        if offset is None or abs(offset + self._target) <= _TOLERANCE:
            return
        self._set_shift(self._shift + offset + self._target)

    def _drop_history(self) -> None:
        self._mic_history = np.zeros(0, np.int16)

    def close(self) -> None:
        """Safe from any thread: the canceller is freed by its reader, never under its feet."""
        self.source.close()
        with self._lock:
            self._closed = True
            if not self._reading:
                self._canceller.close()
