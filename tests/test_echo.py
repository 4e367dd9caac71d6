"""Echo cancellation, offline: the coach's real voice as the echo, a person's real voice over it.

The room is simulated sample-exactly here (a delayed, quieter copy of what the speaker sent,
plus the person); tests/test_voice_loop.py does the same through PulseAudio, end to end.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pytest

from assistant.audio import RATE_HZ, AudioBlock, Resampler, read_wav
from assistant.commands import Intent, load_grammar
from assistant.echo import DelayFinder, EchoCancelledSource, EchoReference, SpeexCanceller
from assistant.listening import SphinxRecognizer, recognize_blocks

COACH: Final = ("While you hold it, you keep breathing slowly and calmly, with your belly wide, your buttocks "
                "soft and your pelvis tucked under your trunk. Lie on your stomach. Tuck your pelvis under "
                "your trunk and feel the support at your pubic bone.")
SPEAKER_RATE: Final = 22050
BLOCK: Final = 1600
ECHO_DELAY_S: Final = 0.12
"""Speaker to microphone, through the sound server and the air."""
CLOCK_ERROR_S: Final = 0.4
"""How wrong the sound server's latency report is: the finder must measure the truth."""


def speech(text: str, voice: str, tmp: Path) -> npt.NDArray[np.float64]:
    wav = tmp / f"{voice}-{abs(hash(text))}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", "160", "-w", str(wav), text], check=True, timeout=60)
    info, samples = read_wav(wav)
    assert info.rate_hz == SPEAKER_RATE
    return samples.astype(np.float64) * 32767


class Clock:
    def __init__(self) -> None:
        self.now_s = 0.0

    def now(self) -> float:
        return self.now_s


class Room:
    """The speaker's blocks go to `reference` as a player would report them; the microphone
    hears them `ECHO_DELAY_S` later at half the level, plus whatever the person says."""

    name = "simulated room"

    def __init__(self, coach: npt.NDArray[np.float64], person: npt.NDArray[np.float64], clock: Clock,
                 reference: EchoReference) -> None:
        self.clock = clock
        self.reference = reference
        self.coach = coach
        lead = int(1.0 * SPEAKER_RATE)  # the speaker starts 1 s into the stream
        out = np.zeros(lead + len(coach) + SPEAKER_RATE)
        out[lead:lead + len(coach)] = coach
        self.out = out.astype(np.int16)
        heard = Resampler(SPEAKER_RATE)(out.astype(np.float32)).astype(np.float64) * 0.5
        delay = int(ECHO_DELAY_S * RATE_HZ)
        mic = np.zeros(len(heard) + delay)
        mic[delay:] = heard
        mic[:len(person)] += person[:len(mic)]
        self.mic = np.clip(mic, -32768, 32767).astype(np.int16)

    def blocks(self) -> Iterator[AudioBlock]:
        played = 0
        step = 128
        for start in range(0, len(self.mic) - BLOCK, BLOCK):
            end_s = (start + BLOCK) / RATE_HZ
            while played < len(self.out) and played / SPEAKER_RATE < end_s + 0.1:  # the player runs ahead
                self.reference.played(played / SPEAKER_RATE + CLOCK_ERROR_S, self.out[played:played + step],
                                      SPEAKER_RATE)
                played += step
            self.clock.now_s = end_s
            yield AudioBlock(self.mic[start:start + BLOCK].tobytes(), start / RATE_HZ)

    def close(self) -> None:
        pass


def cleaned(coach: npt.NDArray[np.float64], person: npt.NDArray[np.float64]) -> tuple[Room, list[AudioBlock]]:
    clock = Clock()
    reference = EchoReference()
    room = Room(coach, person, clock, reference)
    source = EchoCancelledSource(room, reference, clock.now)
    blocks = list(source.blocks())
    source.close()
    return room, blocks


def level_db(samples: npt.NDArray[np.int16]) -> float:
    return float(10 * np.log10(np.mean(samples.astype(np.float64) ** 2) + 1e-9))


@pytest.fixture(scope="module")
def coach(tmp_path_factory: pytest.TempPathFactory) -> npt.NDArray[np.float64]:
    return speech(COACH, "en", tmp_path_factory.mktemp("coach"))


def person_saying(phrase: str, at_s: float, length: int, tmp: Path) -> npt.NDArray[np.float64]:
    voice = Resampler(SPEAKER_RATE)(speech(phrase, "en-us", tmp).astype(np.float32)).astype(np.float64)
    out = np.zeros(length)
    at = int(at_s * RATE_HZ)
    out[at:at + len(voice)] = voice[:len(out) - at]
    return out


def test_the_coach_alone_is_taken_out_of_the_microphone(coach: npt.NDArray[np.float64]) -> None:
    """After the first seconds of speech, what is left of the coach's voice is far below it."""
    room, blocks = cleaned(coach, np.zeros(0))
    out = np.frombuffer(b"".join(b.pcm for b in blocks), np.int16)
    settled = slice(int(5.0 * RATE_HZ), int((1.0 + len(coach) / SPEAKER_RATE) * RATE_HZ))
    assert level_db(room.mic[settled]) - level_db(out[settled]) > 25.0


def _over_the_coach() -> SphinxRecognizer:
    """The recognizer as the listener sets it while the coach speaks (decoys too)."""
    recognizer = SphinxRecognizer(load_grammar())
    recognizer.over_speech = True
    return recognizer


def test_the_coach_alone_gives_the_recognizer_no_command(coach: npt.NDArray[np.float64]) -> None:
    _, blocks = cleaned(coach, np.zeros(0))
    assert recognize_blocks(_over_the_coach(), blocks) == []


@pytest.mark.parametrize(("phrase", "intent"), [("quit", Intent.STOP), ("end session", Intent.STOP),
                                              ("wait", Intent.PAUSE), ("it hurts", Intent.PAIN)])
def test_a_barge_in_said_over_the_coach_is_heard(coach: npt.NDArray[np.float64], tmp_path: Path, phrase: str,
                                                 intent: Intent) -> None:
    """The person speaks in the middle of a long sentence; the recognizer hears it alone."""
    person = person_saying(phrase, 7.0, int(13 * RATE_HZ), tmp_path)
    room, blocks = cleaned(coach, person)
    heard = recognize_blocks(_over_the_coach(), blocks)
    assert [(c.intent, round(c.start_s)) for c in heard] == [(intent, 7)]
    without = recognize_blocks(_over_the_coach(),
                               [AudioBlock(room.mic[i:i + BLOCK].tobytes(), i / RATE_HZ)
                                for i in range(0, len(room.mic) - BLOCK, BLOCK)])
    assert without == [], "without cancellation the coach and the person are one long utterance"


def test_in_quiet_the_microphone_passes_untouched(tmp_path: Path) -> None:
    """No coach speech: a command is heard exactly as it was said, with no processing at all."""
    person = person_saying("next", 1.0, int(3 * RATE_HZ), tmp_path)
    room, blocks = cleaned(np.zeros(0), person)
    out = np.frombuffer(b"".join(b.pcm for b in blocks), np.int16)
    assert np.array_equal(out, room.mic[:len(out)])


def test_the_finder_measures_where_the_echo_is() -> None:
    rng = np.random.default_rng(1)
    reference = (rng.standard_normal(10 * RATE_HZ) * 3000).astype(np.int16)
    finder = DelayFinder()
    first, truth, guess = 50_000, 5_000, 5_200  # microphone sample i is reference sample i + truth
    mic = reference[first + truth:first + truth + finder.window]
    around = reference[first + guess - finder.search:first + guess + finder.window + finder.search]
    assert finder.offset(mic, around) == truth - guess
    assert finder.offset(np.zeros_like(mic), around) is None


def test_the_canceller_wants_whole_frames() -> None:
    canceller = SpeexCanceller()
    with pytest.raises(ValueError):
        canceller.process(np.zeros(100, np.int16), np.zeros(100, np.int16))
    canceller.close()
