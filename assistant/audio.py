"""Where sound comes from: the microphone or a WAV file, as 16 kHz mono 16-bit blocks.

sounddevice is imported inside `MicSource` only, so the rest of the program (and `--text`)
runs on machines with no PortAudio at all.
"""

from __future__ import annotations

import logging
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt

from assistant.errors import AudioDeviceError, WavFormatError
from assistant.files import read_regular_file

_LOGGER = logging.getLogger(__name__)

RATE_HZ: Final = 16000
"""Every recognizer here takes 16 kHz mono signed 16-bit little-endian PCM."""
BYTES_PER_SAMPLE: Final = 2
BLOCK_S: Final = 0.1
"""Default block length: short enough to act early, long enough to keep the CPU cost low."""
_NO_MIC: Final = (
    "No microphone found; plug one in (see: assistant devices), or type commands instead: "
    "assistant run --text"
)

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class AudioBlock:
    """A piece of the audio stream."""

    pcm: bytes
    """16 kHz mono signed 16-bit little-endian samples."""
    start_s: float
    """Stream seconds of the first sample (counted from samples, not from a wall clock)."""

    def __post_init__(self) -> None:
        if len(self.pcm) % BYTES_PER_SAMPLE:
            raise ValueError("pcm must hold whole 16-bit samples")
        if self.start_s < 0:
            raise ValueError(f"start_s must be >= 0, not {self.start_s}")

    @property
    def samples(self) -> int:
        return len(self.pcm) // BYTES_PER_SAMPLE

    @property
    def duration_s(self) -> float:
        return self.samples / RATE_HZ

    @property
    def end_s(self) -> float:
        """Stream seconds just after the last sample."""
        return self.start_s + self.duration_s


class AudioSource(Protocol):
    """Yields consecutive blocks of one stream; `close()` releases the device or file."""

    name: str

    def blocks(self) -> Iterator[AudioBlock]:
        """Blocks in stream order, until the source ends (a file) or is closed (a microphone)."""
        ...

    def close(self) -> None: ...


# ---------------------------------------------------------------- conversion


def _lowpass_taps(cutoff: float, taps: int = 63) -> FloatArray:
    """A windowed-sinc low-pass filter; `cutoff` as a fraction of the sample rate (0..0.5)."""
    n = np.arange(taps) - (taps - 1) / 2
    h = 2 * cutoff * np.sinc(2 * cutoff * n) * np.hamming(taps)
    taps_out: FloatArray = (h / h.sum()).astype(np.float32)
    return taps_out


class Resampler:
    """Streaming sample-rate conversion to 16 kHz: low-pass (when going down), then interpolation.

    State is carried between calls, so a microphone stream converts block by block with no
    clicks at block edges. After the low-pass, linear interpolation is accurate enough for
    speech recognition, which only looks below 8 kHz.
    """

    def __init__(self, from_hz: int, to_hz: int = RATE_HZ) -> None:
        if from_hz <= 0 or to_hz <= 0:
            raise ValueError("sample rates must be positive")
        self.from_hz = from_hz
        self.to_hz = to_hz
        self._step = from_hz / to_hz
        self._taps = _lowpass_taps(0.45 * to_hz / from_hz) if from_hz > to_hz else None
        self._history = np.zeros(0 if self._taps is None else len(self._taps) - 1, np.float32)
        self._pos = 0.0
        """Position of the next output sample, in input samples from the start of `_carry`."""
        self._carry = np.zeros(0, np.float32)

    def __call__(self, samples: FloatArray) -> FloatArray:
        if self.from_hz == self.to_hz:
            return samples
        x = samples.astype(np.float32)
        if self._taps is not None:
            padded = np.concatenate([self._history, x])
            self._history = padded[len(padded) - len(self._history):]
            x = np.convolve(padded, self._taps, mode="valid").astype(np.float32)
        x = np.concatenate([self._carry, x])
        if len(x) < 2:
            self._carry = x
            return np.zeros(0, np.float32)
        last = len(x) - 1
        positions = np.arange(self._pos, last, self._step)
        out: FloatArray = np.interp(positions, np.arange(len(x)), x).astype(np.float32)
        next_pos = self._pos + len(positions) * self._step
        keep_from = int(next_pos)
        self._carry = x[keep_from:]
        self._pos = next_pos - keep_from
        return out


def to_pcm16(samples: FloatArray) -> bytes:
    """Float samples in -1..1 to little-endian int16 bytes (clipped, never wrapped)."""
    return (np.clip(samples, -1.0, 32767 / 32768) * 32768).astype("<i2").tobytes()


def from_pcm16(pcm: bytes) -> FloatArray:
    samples: FloatArray = (np.frombuffer(pcm, "<i2").astype(np.float32) / 32768).astype(np.float32)
    return samples


# ---------------------------------------------------------------- WAV files


@dataclass(frozen=True, slots=True)
class WavInfo:
    """What a WAV file holds."""

    rate_hz: int
    channels: int
    sample_bytes: int
    """Bytes per sample of one channel: 1, 2, 3 or 4."""
    is_float: bool


_PCM: Final = 1
_FLOAT: Final = 3
_EXTENSIBLE: Final = 0xFFFE
_MAX_CHANNELS: Final = 32
_RATES_HZ: Final = (4_000, 768_000)
"""Sample rates a real recording can have (telephone to studio)."""
WAV_LIMIT_BYTES: Final = 1 << 30
"""About 9 hours at 16 kHz: longer recordings are cut into parts first (all of it is held in memory)."""


def _not_a_wav(path: Path, why: str) -> WavFormatError:
    return WavFormatError(
        "wav-format",
        f"{path} is not a WAV file this program can read ({why}); convert it first, e.g.: "
        f"sox '{path}' -r 16000 -c 1 -b 16 out.wav",
    )


def read_wav(path: Path) -> tuple[WavInfo, FloatArray]:
    """A WAV file as float samples (-1..1), channels mixed down to mono.

    Our own small RIFF reader, because the standard `wave` module refuses float and
    extensible WAVs, which audio editors and phones commonly write.
    """
    data = read_regular_file(path, "WAV file", WavFormatError, WAV_LIMIT_BYTES)
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise _not_a_wav(path, "no RIFF/WAVE header")
    info: WavInfo | None = None
    frames: bytes | None = None
    pos = 12
    while pos + 8 <= len(data):
        chunk_id, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = data[pos + 8:pos + 8 + size]
        if chunk_id == b"fmt " and len(body) >= 16:
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", body)
            if tag == _EXTENSIBLE and len(body) >= 26:
                tag = struct.unpack_from("<H", body, 24)[0]
            if tag not in (_PCM, _FLOAT) or bits not in (8, 16, 24, 32):
                raise _not_a_wav(path, f"encoding {tag}, {bits}-bit, {channels} channels, {rate} Hz")
            if not 1 <= channels <= _MAX_CHANNELS:
                raise _not_a_wav(path, f"its header says {channels:,} channels; a recording has 1 to {_MAX_CHANNELS}")
            if not _RATES_HZ[0] <= rate <= _RATES_HZ[1]:
                raise _not_a_wav(path, f"its header says {rate:,} samples a second; recordings have "
                                 f"{_RATES_HZ[0]:,} to {_RATES_HZ[1]:,}")
            if tag == _FLOAT and bits != 32:
                raise _not_a_wav(path, f"{bits}-bit float samples")
            info = WavInfo(rate, channels, bits // 8, tag == _FLOAT)
        elif chunk_id == b"data":
            frames = body
        pos += 8 + size + (size & 1)
    if info is None or frames is None:
        raise _not_a_wav(path, "no 'fmt ' or 'data' chunk")
    frame_bytes = info.sample_bytes * info.channels
    frames = frames[: len(frames) - len(frames) % frame_bytes]
    if not frames:
        raise _not_a_wav(path, "it holds no sound: 0 samples")
    samples = _decode(frames, info).reshape(-1, info.channels).mean(axis=1, dtype=np.float32)
    return info, samples.astype(np.float32)


def _decode(raw: bytes, info: WavInfo) -> FloatArray:
    if info.is_float:
        return np.frombuffer(raw, "<f4").astype(np.float32)
    if info.sample_bytes == 1:  # 8-bit WAV is unsigned
        return ((np.frombuffer(raw, np.uint8).astype(np.float32) - 128) / 128).astype(np.float32)
    if info.sample_bytes == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        value = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        value = np.where(value >= 1 << 23, value - (1 << 24), value)
        return (value / float(1 << 23)).astype(np.float32)
    dtype = "<i2" if info.sample_bytes == 2 else "<i4"
    scale = float(1 << (8 * info.sample_bytes - 1))
    return (np.frombuffer(raw, dtype).astype(np.float64) / scale).astype(np.float32)


class WavSource:
    """A WAV file of any common rate, channel count and sample format, as 16 kHz mono blocks."""

    def __init__(self, path: Path, block_s: float = BLOCK_S) -> None:
        self.name = str(path)
        self.info, samples = read_wav(path)  # read now: a bad file fails before anything starts
        self._pcm = to_pcm16(Resampler(self.info.rate_hz)(samples))
        self._block_bytes = int(block_s * RATE_HZ) * BYTES_PER_SAMPLE

    @property
    def duration_s(self) -> float:
        return len(self._pcm) / BYTES_PER_SAMPLE / RATE_HZ

    def blocks(self) -> Iterator[AudioBlock]:
        for at in range(0, len(self._pcm), self._block_bytes):
            yield AudioBlock(self._pcm[at:at + self._block_bytes], at / BYTES_PER_SAMPLE / RATE_HZ)

    def close(self) -> None:
        pass


# ---------------------------------------------------------------- sound devices


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """One sound device as PortAudio sees it."""

    index: int
    name: str
    inputs: int
    outputs: int
    default_rate_hz: float
    is_default_input: bool = False
    is_default_output: bool = False


def list_devices() -> list[DeviceInfo]:
    """Every sound device; an empty list on a machine with no sound hardware."""
    import sounddevice as sd

    try:
        default_in, default_out = (int(d) for d in sd.default.device)
    except (TypeError, ValueError):
        default_in = default_out = -1
    try:
        found = sd.query_devices()
    except sd.PortAudioError:  # "Error querying device -1": no sound hardware at all
        return []
    return [
        DeviceInfo(int(d["index"]), str(d["name"]), int(d["max_input_channels"]),
                   int(d["max_output_channels"]), float(d["default_samplerate"]),
                   int(d["index"]) == default_in, int(d["index"]) == default_out)
        for d in found
    ]


def find_input_device(wanted: str | None) -> DeviceInfo:
    """The microphone named by `wanted` (an index, or part of a name), or the default one."""
    devices = [d for d in list_devices() if d.inputs > 0]
    if not devices:
        raise AudioDeviceError("no-microphone", _NO_MIC)
    if wanted is None:
        for d in devices:
            if d.is_default_input:
                return d
        # No default (PortAudio reports -1): the first device that can record is the best guess.
        return devices[0]
    if wanted.strip().isdigit():
        for d in devices:
            if d.index == int(wanted):
                return d
    else:
        matches = [d for d in devices if wanted.lower() in d.name.lower()]
        if matches:
            return matches[0]
    names = "; ".join(f"{d.index}: {d.name}" for d in devices)
    raise AudioDeviceError(
        "no-such-microphone",
        f"No microphone matches --input-device '{wanted}'; choose one of: {names} (see: assistant devices).",
    )


class MicSource:
    """The microphone through sounddevice, in blocking reads, resampled to 16 kHz when needed.

    Overflows (the program too slow to take the sound in time) are counted and logged as
    warnings: that audio is gone, and whoever listens should know it.
    """

    def __init__(self, device: str | None = None, block_s: float = BLOCK_S, rate_hz: int | None = None) -> None:
        """`rate_hz` forces a recording rate (the default: 16 kHz when the device can, else its own)."""
        try:
            import sounddevice as sd
        except OSError as err:  # the PortAudio library itself is missing
            raise AudioDeviceError("no-portaudio", f"The sound library PortAudio cannot be loaded ({err}); "
                                   "install it (Debian: sudo apt install libportaudio2), or type commands: "
                                   "assistant run --text") from err
        self.device = find_input_device(device)
        self.name = self.device.name
        self.overflows = 0
        rate = rate_hz or RATE_HZ
        if rate_hz is None:
            try:
                sd.check_input_settings(self.device.index, channels=1, dtype="float32", samplerate=RATE_HZ)
            except Exception:  # PortAudio says "Invalid sample rate" in several ways
                rate = int(self.device.default_rate_hz)
                _LOGGER.info("%s cannot record at %d Hz; recording at %d Hz and resampling",
                             self.name, RATE_HZ, rate)
        self.rate_hz = rate
        self._resample = Resampler(rate)
        self._frames = max(1, int(block_s * rate))
        try:
            self._stream: Any = sd.InputStream(device=self.device.index, channels=1, samplerate=rate,
                                               dtype="float32", blocksize=self._frames)
            self._stream.start()
        except Exception as err:
            _LOGGER.exception("cannot open %s", self.name)
            raise AudioDeviceError(
                "microphone-failed",
                f"Cannot record from '{self.name}' ({err}); choose another with --input-device "
                "(see: assistant devices), or type commands: assistant run --text",
            ) from err
        self._samples_out = 0
        self._closed = False
        self._reading = False
        self._lock = threading.Lock()
        self._last_report = 0.0

    def blocks(self) -> Iterator[AudioBlock]:
        with self._lock:
            self._reading = True
        try:
            while not self._closed:
                try:
                    data, overflowed = self._stream.read(self._frames)
                except Exception as err:
                    if self._closed:
                        return
                    raise AudioDeviceError(
                        "microphone-lost",
                        f"The microphone '{self.name}' stopped working ({err}); check its cable.",
                    ) from err
                if overflowed:
                    self._count_overflow()
                pcm = to_pcm16(self._resample(data[:, 0]))
                start_s = self._samples_out / RATE_HZ
                self._samples_out += len(pcm) // BYTES_PER_SAMPLE
                if pcm:
                    yield AudioBlock(pcm, start_s)
        finally:
            with self._lock:
                self._reading = False
                if self._closed:
                    self._release()

    def _count_overflow(self) -> None:
        self.overflows += 1
        now = time.monotonic()
        if now - self._last_report >= 5.0:  # one warning per few seconds, with the running total
            self._last_report = now
            _LOGGER.warning("Microphone overflow: some sound was lost (%d times so far); "
                            "the computer may be too busy.", self.overflows)

    def close(self) -> None:
        """Safe from any thread: a stream being read is released by its reader, after the read
        returns (closing it under a blocking read crashes PortAudio)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if not self._reading:
                self._release()

    def _release(self) -> None:
        try:
            self._stream.stop()
            self._stream.close()
        except Exception:  # closing a device that vanished can fail; nothing is left to release
            _LOGGER.debug("closing %s failed", self.name, exc_info=True)
        if self.overflows:
            _LOGGER.warning("Microphone '%s' overflowed %d times in this session.", self.name, self.overflows)
