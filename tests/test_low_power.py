"""--low-power: still hears commands, never synthesizes during a session, chosen on ARM."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Final

import numpy as np
import pytest

from assistant.audio import WavSource
from assistant.cli import build_parser, main
from assistant.commands import Grammar, Intent
from assistant.cues import load_cues
from assistant.events import InboxEvent, SpeechEnded
from assistant.listening import LOW_POWER, HearingSettings, SphinxRecognizer, VoskRecognizer, recognize_blocks
from assistant.rendering import shared_renderer
from assistant.routine import load_routine
from assistant.settings import low_power_default
from assistant.speaking import SpeechWorker, VoiceControl
from assistant.speech_cache import SpeechCache
from assistant.speech_lines import session_lines
from assistant.voice_settings import VoiceSettings, VoiceSettingsStore
from tests.fakes import CoachedSession, InstantPlayer
from tests.korean import KOREAN_VOICES, korean_grammar, korean_model_path
from tests.speech import Voice, make_clip

QUIET_TIMEOUT_S: Final = 30.0
TIME_TOLERANCE_S: Final = 0.35
"""Stream times of a command may be off by the endpointer's frame and pre-roll, not more."""
PROGRESS: Final = "In the last seven days you exercised on 2 days: 2 sessions, 30 minutes in all."


# ---------------------------------------------------------------- hearing


@pytest.mark.slow
def test_low_power_still_hears_next_in_a_quiet_room(english: Grammar, speech_dir: Path) -> None:
    """PocketSphinx with the low-power preset hears "next" and "next step", at the right time."""
    recognizer = SphinxRecognizer(english, LOW_POWER)
    said = [("next step", Voice("en-us", 130)), ("next step", Voice("en-us", 175)),
            ("next", Voice("en-us+f3", 150)), ("next", Voice("en-gb", 150))]
    for phrase, voice in said:
        clip = make_clip(phrase, voice, speech_dir)
        recognizer.reset()
        heard = recognize_blocks(recognizer, WavSource(clip.path).blocks())
        assert [c.intent for c in heard] == [Intent.NEXT], voice
        assert heard[0].start_s == pytest.approx(clip.speech_start_s, abs=TIME_TOLERANCE_S)


@pytest.mark.slow
def test_low_power_vosk_hears_each_command_word_and_when(speech_dir: Path) -> None:
    """Vosk decoding only the sound still hears every Korean command word, with its stream time."""
    grammar = korean_grammar()
    recognizer = VoskRecognizer(korean_model_path(), grammar, LOW_POWER)
    right = 0
    for phrase, intent in grammar.phrases.items():
        for voice in KOREAN_VOICES:
            clip = make_clip(phrase, voice, speech_dir)
            recognizer.reset()
            heard = recognize_blocks(recognizer, WavSource(clip.path).blocks())
            if [c.intent for c in heard] == [intent]:
                right += 1
                assert heard[0].start_s == pytest.approx(clip.speech_start_s, abs=TIME_TOLERANCE_S)
                assert heard[0].end_s == pytest.approx(clip.speech_end_s, abs=TIME_TOLERANCE_S)
    assert right / (len(grammar.phrases) * len(KOREAN_VOICES)) >= 0.9


@pytest.mark.slow
def test_low_power_vosk_hears_nothing_in_silence_and_noise(speech_dir: Path) -> None:
    """Ten seconds of a quiet room and of loud hiss are not taken for commands."""
    from tests.speech import write_wav

    rng = np.random.default_rng(3)
    recognizer = VoskRecognizer(korean_model_path(), korean_grammar(), LOW_POWER)
    for level in (0.001, 0.1):
        path = write_wav(speech_dir / f"noise-{level}.wav", rng.normal(0, level, 160_000).astype(np.float32))
        recognizer.reset()
        assert recognize_blocks(recognizer, WavSource(path).blocks()) == []


def test_the_low_power_preset_is_leaner_than_the_default() -> None:
    """No partial results and sound-only decoding; the PocketSphinx search is left as measured."""
    assert HearingSettings().partial_results and not HearingSettings().sound_only
    assert not LOW_POWER.partial_results and LOW_POWER.sound_only
    assert LOW_POWER.min_confidence == HearingSettings().min_confidence


# ---------------------------------------------------------------- speaking


def _said_in(session: CoachedSession) -> set[str]:
    return {s.text for s in session.speaker.said if s.text not in ("tick", "rep_start", "rep_end")}


def test_everything_a_session_says_is_prepared_in_low_power() -> None:
    """Sessions with every command, at many moments, stopped early or late, say only prepared sentences."""
    routine = load_routine()
    prepared = set(session_lines(routine, load_cues(), every_number=True)) | {PROGRESS}
    said: set[str] = set()
    phrases = ["how long", "help", "mistakes", "repeat", "pause", "resume", "how am i doing",
               "slower", "louder", "back", "next", "skip", "yes", "no", "it hurts", "done"]
    for offset in (0.0, 7.0, 13.0, 31.0):
        session = CoachedSession(routine, progress_report=lambda: PROGRESS)
        at = 5.0 + offset
        for i in range(120):
            session.say_at(at, phrases[i % len(phrases)] if i % 3 else "how long")
            at += 9.0 + (i % 5)
        session.say_at(at, "stop").say_at(at + 2, "yes").run_to_end()
        said |= _said_in(session)
    for stop_at in (20.0, 47.0, 75.0, 200.0):  # short sessions: the summary names seconds
        session = CoachedSession(routine, progress_report=lambda: PROGRESS)
        session.say_at(2.0, "next").say_at(stop_at, "stop").say_at(stop_at + 1, "yes").run_to_end()
        said |= _said_in(session)
    assert said - prepared == set()


def test_low_power_never_synthesizes_during_the_session(tmp_path: Path) -> None:
    """After prepare(), a prepared sentence plays from the cache; one that was not is shown, not rendered."""
    renderer = shared_renderer()
    cache = SpeechCache(renderer, tmp_path / "speech")
    store = VoiceSettingsStore(tmp_path / "config")
    player, events, out = InstantPlayer(), list[InboxEvent](), io.StringIO()
    speaker = SpeechWorker(player, cache, store.load(), events.append, lambda: 4.0, store=store, out=out,
                           prerendered_only=True)
    try:
        speaker.prepare(["Lie on your stomach.", "Rest."], progress=False)
        before = renderer.renders
        speaker.say("Lie on your stomach.")
        speaker.say("A sentence nobody prepared.")
        speaker.adjust(VoiceControl.SLOWER)
        speaker.adjust(VoiceControl.QUIETER)
        speaker.say("Rest.")
        assert speaker.wait_until_quiet(QUIET_TIMEOUT_S)
        assert renderer.renders == before, "nothing was synthesized once the session had begun"
    finally:
        speaker.close()
    assert len(player.played) == 2
    assert speaker.not_prepared == ["A sentence nobody prepared."]
    assert out.getvalue().strip() == "[    4.0] A sentence nobody prepared."
    assert [e.text for e in events if isinstance(e, SpeechEnded)] == [
        "Lie on your stomach.", "A sentence nobody prepared.", "Rest."]
    rest = cache.get("Rest.", speaker._lookup_params())
    assert np.abs(player.played[1]).max() < np.abs(rest.samples).max(), "'quieter' still made it quieter"
    kept = VoiceSettingsStore(tmp_path / "config").load()
    assert kept.rate_wpm < VoiceSettings().rate_wpm, "'slower' is kept for the next session"


# ---------------------------------------------------------------- choosing it


def test_low_power_is_the_default_on_a_raspberry_pi_only() -> None:
    """aarch64 and 32-bit ARM Linux get it; x86_64 and macOS on Apple silicon ("arm64") do not."""
    assert low_power_default("aarch64") and low_power_default("armv7l")
    assert not low_power_default("x86_64") and not low_power_default("arm64")


def test_low_power_can_be_forced_either_way_but_not_both(capsys: pytest.CaptureFixture[str]) -> None:
    """--low-power and --no-low-power set it; both at once is a usage error with exit status 2."""
    parser = build_parser()
    assert parser.parse_args(["run", "--low-power"]).low_power is True
    assert parser.parse_args(["run", "--no-low-power"]).low_power is False
    assert parser.parse_args(["run"]).low_power is None
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--low-power", "--no-low-power"])
    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
