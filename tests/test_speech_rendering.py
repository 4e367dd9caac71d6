"""Rendering sentences with the real pyttsx3 + espeak-ng, the cache, and the voice settings."""

from __future__ import annotations

import io
import threading
import wave
from pathlib import Path
from typing import Final

import numpy as np
import pytest

from assistant.cues import load_cues
from assistant.earcons import earcon_samples
from assistant.errors import UsageError
from assistant.events import DeviceLost, InboxEvent, SpeechEnded, SpeechStarted
from assistant.rendering import SpeechRenderer, VoiceParams, shared_renderer
from assistant.routine import load_routine
from assistant.speaking import SpeechWorker, VoiceControl, resolve_voice
from assistant.speech_cache import SpeechCache, read_wav
from assistant.speech_lines import predicted_lines, session_lines
from assistant.voice_settings import EARCON_NAMES, VoiceSettings, VoiceSettingsStore
from tests.audio_checks import as_float, loud_rms, sound_span
from tests.fakes import InstantPlayer

QUIET_TIMEOUT_S: Final = 30.0
DEFAULT: Final = VoiceParams(None, 175, 1.0)


@pytest.fixture
def renderer() -> SpeechRenderer:
    return shared_renderer()


@pytest.fixture
def cache(renderer: SpeechRenderer, tmp_path: Path) -> SpeechCache:
    return SpeechCache(renderer, tmp_path / "speech")


def test_rendered_speech_is_audible_and_longer_for_longer_text(cache: SpeechCache) -> None:
    """A sentence becomes real, non-silent speech, and more words take longer to say."""
    short = cache.get("Relax.", DEFAULT)
    long = cache.get("Lie down on your stomach and rest your forehead on the mat.", DEFAULT)
    for rendered in (short, long):
        assert rendered.sample_rate > 8000
        assert sound_span(as_float(rendered.samples), rendered.sample_rate) is not None
        assert loud_rms(as_float(rendered.samples), rendered.sample_rate) > 0.03
    assert long.duration_s > 2 * short.duration_s


def test_a_cached_sentence_is_not_rendered_twice(cache: SpeechCache, renderer: SpeechRenderer,
                                                 tmp_path: Path) -> None:
    """Once rendered, a sentence comes from disk, also for the next session (a new cache object)."""
    text = "Breathe down towards the sides of your pelvis."
    first = cache.get(text, DEFAULT)
    before = renderer.renders
    again = cache.get(text, DEFAULT)
    next_session = SpeechCache(renderer, tmp_path / "speech").get(text, DEFAULT)
    assert renderer.renders == before
    assert np.array_equal(first.samples, again.samples)
    assert np.array_equal(first.samples, next_session.samples)
    cache.get(text, VoiceParams(None, 200, 1.0))
    assert renderer.renders == before + 1, "another rate is another rendering"


def test_the_whole_routine_is_rendered_before_the_session(cache: SpeechCache, renderer: SpeechRenderer) -> None:
    """Every fixed and every predictable sentence of the routine is on disk before the first cue."""
    routine, cues = load_routine("lower-back"), load_cues()
    lines = session_lines(routine, cues)
    assert "Repetition 3 of 5. Hold the position." in lines
    assert "Slide 2 of 5, left leg." in lines
    assert "10 seconds left." in lines
    assert set(routine.spoken_lines()) <= set(lines)
    assert set(cues.all_fixed()) <= set(lines)
    rendered = cache.prepare(lines, DEFAULT, progress=False)
    assert rendered == len(lines)
    assert all(cache.is_cached(text, DEFAULT) for text in lines)
    before = renderer.renders
    assert cache.prepare(lines, DEFAULT, progress=False) == 0
    assert renderer.renders == before


def test_predicted_lines_follow_the_routine_numbers() -> None:
    """Changing a routine's dose changes which counted sentences are rendered ahead."""
    routine, cues = load_routine("lower-back"), load_cues()
    lines = predicted_lines(routine, cues)
    holds = [t for t in lines if t.startswith("Repetition ")]
    assert holds == [f"Repetition {r} of 5. Hold the position." for r in range(1, 6)]
    assert "Rest for 20 seconds." in lines
    assert "Now change to the left leg." in lines
    assert "Session finished after 17 minutes." in lines


def test_faster_and_slower_change_the_length_of_rendered_speech(cache: SpeechCache) -> None:
    """'Faster' makes the next sentence measurably shorter and 'slower' longer."""
    text = "Slowly slide your heel along the mat, and then bring it back."
    normal = VoiceSettings()
    faster = normal.adjusted(VoiceControl.FASTER)
    slower = normal.adjusted(VoiceControl.SLOWER)
    length = {s.rate_wpm: cache.get(text, VoiceParams(None, s.rate_wpm, s.volume)).duration_s
              for s in (normal, faster, slower)}
    assert length[faster.rate_wpm] < 0.92 * length[normal.rate_wpm]
    assert length[slower.rate_wpm] > 1.08 * length[normal.rate_wpm]


def test_louder_and_quieter_change_the_loudness_of_rendered_speech(cache: SpeechCache) -> None:
    """'Louder' makes the next sentence measurably louder and 'quieter' softer."""
    text = "Keep your shoulders relaxed."
    normal = VoiceSettings(volume=1.0)
    loudness = {}
    for settings in (normal, normal.adjusted(VoiceControl.LOUDER), normal.adjusted(VoiceControl.QUIETER)):
        rendered = cache.get(text, VoiceParams(None, settings.rate_wpm, settings.volume))
        loudness[settings.volume] = loud_rms(as_float(rendered.samples), rendered.sample_rate)
    volumes = sorted(loudness)
    assert loudness[volumes[0]] < 0.9 * loudness[1.0] < 0.9 * 0.9 * loudness[volumes[-1]]


def test_the_engine_chatter_stays_off_the_terminal(cache: SpeechCache, capfd: pytest.CaptureFixture[str]) -> None:
    """pyttsx3's 'Audio saved to ...' lines never reach the user's screen."""
    cache.get("Let go of the position and rest.", DEFAULT)
    out, err = capfd.readouterr()
    assert "Audio saved" not in out + err


def test_sentences_asked_for_from_many_threads_all_render_completely(cache: SpeechCache) -> None:
    """The one render thread serves everyone; each WAV is whole when it is handed out."""
    texts = [f"This is sentence number {n}." for n in range(8)]
    results: dict[str, float] = {}

    def ask(text: str) -> None:
        results[text] = cache.get(text, DEFAULT).duration_s

    threads = [threading.Thread(target=ask, args=(t,)) for t in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(QUIET_TIMEOUT_S)
    assert sorted(results) == sorted(texts)
    for text in texts:
        with wave.open(str(cache.path_for(text, DEFAULT)), "rb") as w:
            assert w.getnframes() / w.getframerate() == pytest.approx(results[text])


def test_a_voice_can_be_chosen_by_part_of_its_name(renderer: SpeechRenderer) -> None:
    """`--voice "america"` picks the American English voice; a wrong name says what to do."""
    voices = renderer.voices()
    assert resolve_voice(voices, "English (America)").endswith("en-us")
    assert resolve_voice(voices, "en-us").endswith("/en-us"), "not en-us-nyc"
    assert resolve_voice(voices, "scotland").endswith("en-gb-scotland")
    with pytest.raises(UsageError, match="assistant voices"):
        resolve_voice(voices, "no such voice at all")


def test_every_earcon_is_a_short_audible_tone_of_its_own() -> None:
    """Heard, tick, start and end of a repetition sound different, and are brief."""
    tones = {name: earcon_samples(name, 22050) for name in EARCON_NAMES}
    for name, samples in tones.items():
        assert 0.03 < len(samples) / 22050 < 0.3, name
        assert loud_rms(as_float(samples), 22050) > 0.05, name
    assert not np.array_equal(tones["rep_start"], tones["rep_end"])
    assert loud_rms(as_float(earcon_samples("tick", 22050, volume=0.4)), 22050) < loud_rms(
        as_float(tones["tick"]), 22050)


# ---------------------------------------------------------------- the speaker without a device


def _speaker(cache: SpeechCache, player: InstantPlayer, events: list[InboxEvent], tmp_path: Path,
             out: io.StringIO | None = None, settings: VoiceSettings | None = None,
             earcons: bool = True) -> SpeechWorker:
    store = VoiceSettingsStore(tmp_path / "config")
    return SpeechWorker(player, cache, settings or store.load(), events.append, lambda: 12.0,
                        store=store, earcons=earcons, out=out)


def test_voice_changes_apply_from_the_next_sentence_and_are_remembered(
        cache: SpeechCache, tmp_path: Path) -> None:
    """'Slower' makes the next sentence longer, and the next session starts slower too."""
    player, events = InstantPlayer(), []
    speaker = _speaker(cache, player, events, tmp_path)
    text = "Rest your forehead on the mat."
    try:
        speaker.say(text)
        assert speaker.wait_until_quiet(QUIET_TIMEOUT_S)
        speaker.adjust(VoiceControl.SLOWER)
        speaker.say(text)
        assert speaker.wait_until_quiet(QUIET_TIMEOUT_S)
    finally:
        speaker.close()
    assert len(player.played[1]) > 1.08 * len(player.played[0])
    remembered = VoiceSettingsStore(tmp_path / "config").load()
    assert remembered.rate_wpm < VoiceSettings().rate_wpm
    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded] * 2


def test_duration_is_exact_for_a_rendered_sentence(cache: SpeechCache, tmp_path: Path) -> None:
    """The session paces itself by the real length of a prepared sentence, not a guess."""
    speaker = _speaker(cache, InstantPlayer(), [], tmp_path)
    text = "Put your hands under your forehead."
    try:
        speaker.prepare([text], progress=False)
        exact = read_wav(cache.path_for(text, DEFAULT)).duration_s
        assert speaker.duration_s(text) == pytest.approx(exact)
    finally:
        speaker.close()


def test_earcons_can_be_turned_off_one_by_one_or_all(cache: SpeechCache, tmp_path: Path) -> None:
    """A settings file without 'tick' keeps the countdown silent; --no-earcons silences them all."""
    player = InstantPlayer()
    speaker = _speaker(cache, player, [], tmp_path,
                       settings=VoiceSettings(earcons=frozenset({"heard", "rep_start", "rep_end"})))
    speaker.earcon("tick")
    speaker.earcon("heard")
    speaker.close()
    assert len(player.earcons) == 1
    quiet = InstantPlayer()
    speaker = _speaker(cache, quiet, [], tmp_path, earcons=False)
    for name in EARCON_NAMES:
        speaker.earcon(name)
    speaker.close()
    assert quiet.earcons == []


def test_a_speaker_that_fails_mid_session_prints_the_words_and_reports_it(
        cache: SpeechCache, tmp_path: Path) -> None:
    """No crash: DeviceLost goes to the session once, and every sentence is printed instead."""
    player, events, out = InstantPlayer(), [], io.StringIO()
    speaker = _speaker(cache, player, events, tmp_path, out=out)
    try:
        speaker.say("First we lie down.")
        assert speaker.wait_until_quiet(QUIET_TIMEOUT_S)
        player.fail("unplugged")
        speaker.say("Then we breathe.")
        speaker.say("And we rest.")
        assert speaker.wait_until_quiet(QUIET_TIMEOUT_S)
    finally:
        speaker.close()
    lost = [e for e in events if isinstance(e, DeviceLost)]
    assert len(lost) == 1 and lost[0].reason == "unplugged"
    assert out.getvalue().splitlines() == ["[   12.0] Then we breathe.", "[   12.0] And we rest."]
    assert [e.text for e in events if isinstance(e, SpeechEnded)] == [
        "First we lie down.", "Then we breathe.", "And we rest."]


def test_a_broken_settings_file_falls_back_to_the_defaults(tmp_path: Path) -> None:
    """A hand-edited settings file with a typo does not stop the session."""
    store = VoiceSettingsStore(tmp_path)
    store.path.write_text('{"rate_wpm": "fast"', encoding="utf-8")
    assert store.load() == VoiceSettings()


def test_a_speaker_that_comes_back_is_used_again(cache: SpeechCache, tmp_path: Path) -> None:
    """After DeviceLost, the next sentence tries the speaker again; DeviceBack, and it speaks."""
    first, second, events, out = InstantPlayer(), InstantPlayer(), [], io.StringIO()
    store = VoiceSettingsStore(tmp_path / "config")
    speaker = SpeechWorker(first, cache, store.load(), events.append, lambda: 3.0, store=store, out=out,
                           reopen=lambda: second, reconnect_s=0.0)
    try:
        first.fail("unplugged")
        speaker.say("Lost.")
        assert speaker.wait_until_quiet(QUIET_TIMEOUT_S)
        speaker.say("Back again.")
        assert speaker.wait_until_quiet(QUIET_TIMEOUT_S)
    finally:
        speaker.close()
    kinds = [type(e).__name__ for e in events]
    assert "DeviceLost" in kinds and kinds.index("DeviceBack") > kinds.index("DeviceLost")
    assert len(second.played) == 1 and first.closed
    assert not speaker.lost
