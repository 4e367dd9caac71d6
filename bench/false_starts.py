"""False starts per hour: how often `assistant serve` would start a session nobody asked for.

    .venv/bin/python bench/false_starts.py [--minutes N] [--cache DIR]

A generated hour of what a microphone beside a mat hears while nobody wants to exercise:
household talk (short sentences with pauses, many of them with near-miss words: start,
session, coach, starting, station), television and radio (longer, faster speech, news,
weather, adverts, some over music), near misses said on their own ("start", "the session",
"coach started", "stop session"), the coach's own routine speech, noise (white, pink, brown,
knocks) and music-like tones. espeak-ng voices read it; a quiet pink room noise lies under
everything. Each category is one continuous stream, written to a WAV and fed through
`WavSource` to the recognizer the way the microphone feeds it, faster than real time.

Then the share of real start phrases that do start ("start session", "coach start" in eight
voices at two rates, clean, in white and pink noise, and over a television), so that
strictness is not bought by deafness. The wake recognizer runs once with no confidence floor;
every threshold is then counted from the same run. Baseline: the session's own grammar and
threshold, counting any "start" command, i.e. waiting without a wake grammar.
Figures, not a test: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.audio import RATE_HZ, WavSource  # noqa: E402
from assistant.commands import Command, Intent, load_grammar, load_wake_grammar, normalize  # noqa: E402
from assistant.listening import HearingSettings, SphinxRecognizer, recognize_blocks  # noqa: E402
from assistant.wake import WakeSettings  # noqa: E402
from tests.speech import Samples, Voice, padded, routine_sentences, synthesize, write_wav  # noqa: E402

VOICES = [Voice("en-us", 150), Voice("en-gb", 160), Voice("en-us+f3", 150), Voice("en-gb-scotland", 150),
          Voice("en-029", 160), Voice("en-us-nyc", 170), Voice("en-gb-x-rp+f2", 145), Voice("en-us+m3", 135)]
FAST_VOICES = [Voice(v.name, v.rate_wpm + 35) for v in VOICES]
THRESHOLDS = (0.6, 0.7, 0.75, 0.8, 0.85, 0.9)
START_PHRASES = ("start my session", "coach start session")

# ---------------------------------------------------------------- sound


def pink(n: int, rng: np.random.Generator) -> Samples:
    """1/f noise, unit RMS (spectral shaping of white noise)."""
    spectrum = np.fft.rfft(rng.normal(size=n))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
    out = np.fft.irfft(spectrum, n)
    return (out / (np.std(out) + 1e-12)).astype(np.float32)


def brown(n: int, rng: np.random.Generator) -> Samples:
    out = np.cumsum(rng.normal(size=n))
    out -= np.convolve(out, np.ones(801) / 801, mode="same")  # keep it from wandering off
    return (out / (np.std(out) + 1e-12)).astype(np.float32)


def level(samples: Samples, dbfs: float) -> Samples:
    rms = float(np.sqrt(np.mean(samples ** 2))) + 1e-12
    return (samples * (10 ** (dbfs / 20) / rms)).astype(np.float32)


def silence(seconds: float) -> Samples:
    return np.zeros(int(seconds * RATE_HZ), np.float32)


def mix_in(out: Samples, at: int, part: Samples) -> None:
    """Add `part` into `out` from sample `at`, cut at the end of `out`."""
    part = part[:max(0, len(out) - at)]
    out[at:at + len(part)] += part


def note(freq: float, seconds: float, rng: np.random.Generator) -> Samples:
    """A plucked or bowed tone with a few harmonics."""
    t = np.arange(int(seconds * RATE_HZ)) / RATE_HZ
    tone = sum(np.sin(2 * np.pi * freq * k * t + rng.uniform(0, 6.28)) / k ** rng.uniform(1, 2)
               for k in range(1, 6))
    attack = np.minimum(1.0, t / rng.uniform(0.005, 0.08))
    decay = np.exp(-t * rng.uniform(0.5, 4.0))
    return (tone * attack * decay).astype(np.float32)


def music(seconds: float, rng: np.random.Generator) -> Samples:
    """Melody over chords with a beat: tonal, rhythmic, speech-like in loudness."""
    out = silence(seconds + 2)
    scale = 220 * 2 ** (np.array([0, 2, 4, 5, 7, 9, 11, 12, 14, 16]) / 12)
    beat = rng.uniform(0.3, 0.6)
    at = 0.0
    while at < seconds:
        i = int(at * RATE_HZ)
        melody = note(float(rng.choice(scale)) * rng.choice([1, 2]), beat * rng.choice([1, 2]), rng)
        mix_in(out, i, melody)
        if rng.random() < 0.3:
            root = float(rng.choice(scale[:5])) / 2
            for ratio in (1, 1.26, 1.5):
                chord = 0.5 * note(root * ratio, beat * 4, rng)
                mix_in(out, i, chord)
        drum = level(rng.normal(size=int(0.05 * RATE_HZ)).astype(np.float32), -20) * np.exp(
            -np.arange(int(0.05 * RATE_HZ)) / 200)
        mix_in(out, i, drum.astype(np.float32))
        at += beat
    return level(out[:int(seconds * RATE_HZ)], -22)


def noises(seconds: float, rng: np.random.Generator) -> Iterator[Samples]:
    """Steady and bursty noise: fans, a vacuum cleaner far off, knocks, doors."""
    made = 0.0
    while made < seconds:
        kind = rng.integers(4)
        length = float(rng.uniform(1.0, 12.0))
        n = int(length * RATE_HZ)
        if kind == 0:
            chunk = level(rng.normal(size=n).astype(np.float32), float(rng.uniform(-40, -20)))
        elif kind == 1:
            chunk = level(pink(n, rng), float(rng.uniform(-40, -18)))
        elif kind == 2:
            chunk = level(brown(n, rng), float(rng.uniform(-35, -15)))
        else:  # knocks and clatter
            chunk = silence(length)
            for _ in range(int(rng.integers(1, 8))):
                at = int(rng.uniform(0, max(0.1, length - 0.2)) * RATE_HZ)
                click = rng.normal(size=int(0.08 * RATE_HZ)) * np.exp(-np.arange(int(0.08 * RATE_HZ)) / 150)
                mix_in(chunk, at, level(click.astype(np.float32), float(rng.uniform(-20, -6))))
        yield chunk
        yield silence(float(rng.uniform(0.3, 3.0)))
        made += length


# ---------------------------------------------------------------- words

HOUSEHOLD = """Where did you put the car keys?
Can you start the washing machine when it finishes?
The session with the dentist is on Thursday.
Coach said practice starts at six tomorrow.
Is the kettle on? I'd love a cup of tea.
Let's start dinner, I'm starving.
Did the bus stop at the station this morning?
We're starting late again, hurry up.
Please turn the radio down a little.
The football coach called about the match.
Take the dog out before it rains.
I'll start the car and warm it up.
What time does the train leave the station?
That was a long session at work today.
Who left the lights on in the kitchen?
Can you pass me the salt, please?
The kids start school next week.
Have you seen my glasses anywhere?
The coach is late, we'll miss the start.
Stop it, both of you, and come here.
We need milk, bread and some apples.
Shall we watch a film tonight?
Don't forget to water the plants.
My back hurts a bit after gardening.
The meeting session starts in ten minutes.
Let's go for a walk after lunch.
Is it going to rain this afternoon?
I started the new book yesterday.
The station was closed for repairs.
Can you hear the phone ringing?
Put your shoes on, we're leaving.
Start again from the beginning, slowly.
The coach trip to the coast was lovely.
What's for dinner tonight?
Could you close the window, it's cold.
He's in a session with his physio right now.
Okay, start the timer for the pasta.
Where's the remote control?
I'll call you back in five minutes.
Session two of the course is online.
We should start saving for the holiday.
The bakery opens at seven.
Did you lock the back door?
Your coach is waiting outside.
Let me finish this email first.
The heating starts at six in the morning.
Good morning, did you sleep well?
Thank you, that's very kind.
Can we start the session after breakfast?
Time for bed, it's late.""".splitlines()

SUBJECTS = ["I", "we", "you", "the coach", "my sister", "the neighbours", "our team", "the kids", "Grandma",
            "the station manager", "the teacher", "everyone", "the new coach", "the doctor"]
VERBS = ["will start", "started", "is starting", "wants to start", "should stop", "booked", "missed", "cancelled",
         "moved", "liked", "finished", "forgot", "remembered", "is planning", "talked about", "rescheduled"]
OBJECTS = ["the session", "the training session", "a new session", "the morning session", "the car", "the engine",
           "the meeting", "the station", "the radio station", "the coach trip", "the game", "the lesson",
           "the class", "the film", "the project", "the washing", "dinner", "the garden", "the race", "the show"]
TIMES = ["today", "tomorrow", "on Monday", "at nine", "next week", "this evening", "again", "early", "late",
         "after lunch", "before the news", "last night"]
QUESTIONS = ["Did {s} say when {o} begins?", "When does {o} start?", "Has {o} started yet?", "Is {o} over?",
             "Who is going to {v} {o}?", "Why did {s} cancel {o}?", "Can {s} start {o} {t}?"]

NEWS = ["Good evening, here is the news at six.", "The station reported delays on the northern line this morning.",
        "Parliament will start a new session next week, with the budget first on the agenda.",
        "Temperatures will start to fall tonight, with frost in the north.",
        "The national coach named a young squad for the start of the season.",
        "Shares started the day higher after strong results from the banks.",
        "And now the weather, with sunshine and scattered showers across the coast.",
        "Our reporter is live at the station where the strike began at dawn.",
        "In sport, the team's coach says the start was the best in years.",
        "Stay with us, after the break we start the second session of the quiz.",
        "Call now and start saving on your energy bills today.",
        "This programme contains scenes some viewers may find upsetting.",
        "Coming up next, the late film, starting in five minutes.",
        "Traffic is heavy on the ring road, so start your journey early.",
        "The jury will start deliberations in the morning session.",
        "Scientists say the experiment could start a new era in medicine.",
        "That was the band with their new single, and now back to the studio.",
        "A coach carrying thirty passengers broke down near the station.",
        "The summit's opening session started late because of the storm.",
        "Thank you for listening, and good night."]
NEWS_PARTS = (["Tonight,", "Meanwhile,", "In other news,", "Earlier today,", "According to officials,", "Later,"],
              ["the minister", "the club", "the company", "the council", "a spokesman", "the coach", "the union"],
              ["said the session would start on time", "announced a new station in the city centre",
               "warned that prices will start to rise", "confirmed the start of the season",
               "denied that the coach had resigned", "promised to restart the talks", "opened the new session",
               "reported record numbers at the station", "started an investigation"],
              ["on Friday.", "this week.", "despite the rain.", "after a long delay.", "for the first time.", "."])

NEAR = ["start", "session", "coach", "starting", "station", "start station", "the session", "this session",
        "next session", "last session", "first session", "stop session", "end session", "new session",
        "session started", "coach started", "coach starts", "coach station", "couch", "restart", "start again",
        "start the car", "start dinner", "start now", "let's start", "starting session", "station start",
        "session start", "start the engine", "coach", "start seven", "star session", "smart session", "start it",
        "okay start", "start please", "session two", "the coach", "coach stop", "go coach", "start the timer",
        "coaching session", "training session", "start the show", "the start", "fresh start", "start session",
        "coach start", "start the session", "stop session", "new session",
        "poach start", "coach starter", "coach stats", "couch starts", "coast start", "coach store",
                 "coach stuff", "coat start", "roach start", "stars session", "start passions", "tart session",
                 "start discussion", "start the season", "start sessions", "starts session", "start a lesson",
                 "part section", "art session", "first station", "last station", "coach's session", "couch session",
                 "starch session", "stop the session", "coach sat down", "start selling", "stand session",
                 "smart station", "coach stopped here", "start suction", "coach, stopping", "coaches start",
                 "start my car", "start the match", "stop my session", "start my lesson", "my session",
                 "start my day", "coach stopped the session", "start a session", "mat coach", "start my washing"]
"""Near misses looked at while the wake grammar was tuned."""

NEAR_HELD_OUT = ["start my shift", "start my diet", "start my homework", "start my computer", "start my laptop",
                 "stop my alarm", "start my song", "start my playlist", "star my message", "skip my session",
                 "cancel my session", "my session starts", "coach, start now", "coach starts the session",
                 "coach started the season", "start my sessions", "starts my session", "restart my session",
                 "start this session", "start our session", "start your session", "start his session",
                 "coach stars", "coach, start the car", "first my session", "start my lesson plan",
                 "smart my session", "stop my lesson", "coach's start", "coach start station", "post my session",
                 "start my morning", "coat start session", "my session's over", "start my mission"]
"""Near misses written before the wake decoys were last changed, and never used to choose them: they show
what the decoys do not cover."""


def household_sentences(rng: random.Random, count: int) -> list[str]:
    out = list(HOUSEHOLD)
    while len(out) < count:
        s, v, o, t = rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS), rng.choice(TIMES)
        if rng.random() < 0.4:
            out.append(rng.choice(QUESTIONS).format(s=s, v=v.split()[-1], o=o, t=t).capitalize())
        else:
            out.append(f"{s} {v} {o} {t}.".capitalize())
    return out


def news_sentences(rng: random.Random, count: int) -> list[str]:
    out = list(NEWS)
    while len(out) < count:
        a, b, c, d = (rng.choice(p) for p in NEWS_PARTS)
        out.append(f"{a} {b} {c} {d}".replace(" .", "."))
    return out


# ---------------------------------------------------------------- streams


@dataclass(frozen=True, slots=True)
class Stream:
    category: str
    path: Path
    hours: float

    def said_at(self, at_s: float) -> str:
        """What was being said at stream second `at_s` (from the stream's list of sentences)."""
        said = ""
        for line in self.path.with_suffix(".txt").read_text(encoding="utf-8").splitlines():
            start, _, text = line.partition(" ")
            if float(start) > at_s + 0.5:
                break
            said = text
        return said


def build(category: str, minutes: float, cache: Path, make: Callable[[float], Iterator[Samples | tuple[Samples, str]]],
          content: object = None) -> Stream:
    """A continuous stream of about `minutes`, with a quiet room under it, written once to a WAV.

    `content` (e.g. the sentences) is part of the file's name, so changing it makes a new stream."""
    key = hashlib.sha1(repr(content).encode()).hexdigest()[:8]
    path = cache / f"false-starts-{category.replace(' ', '_')}-{minutes:g}-{key}.wav"
    if not path.exists():
        parts: list[Samples] = []
        total = 0.0
        said: list[str] = []
        for part in make(minutes * 60):
            if isinstance(part, tuple):
                part, text = part
                said.append(f"{total:.2f} {text}")
            parts.append(part)
            total += len(part) / RATE_HZ
            if total >= minutes * 60:
                break
        stream = np.concatenate(parts)
        room = level(pink(len(stream), np.random.default_rng(7)), -62)
        path.with_suffix(".txt").write_text("\n".join(said) + "\n", encoding="utf-8")
        write_wav(path, np.clip(stream + room, -1, 1).astype(np.float32))
    return Stream(category, path, WavSource(path).duration_s / 3600)


def spoken(sentences: list[str], voices: list[Voice], cache: Path, seed: int, gap_s: tuple[float, float],
           under: Callable[[int, np.random.Generator], Samples] | None = None
           ) -> Callable[[float], Iterator[Samples | tuple[Samples, str]]]:
    def make(seconds: float) -> Iterator[Samples | tuple[Samples, str]]:
        rng = random.Random(seed)
        nrng = np.random.default_rng(seed)
        while True:
            for text in rng.sample(sentences, len(sentences)):
                speech = synthesize(text, rng.choice(voices), cache / "tts")
                speech = level(speech, float(rng.uniform(-30, -16)))
                if under is not None and rng.random() < 0.5:
                    speech = speech + under(len(speech), nrng)
                yield speech, text
                yield silence(rng.uniform(*gap_s))

    return make


def streams(cache: Path, minutes: float) -> list[Stream]:
    share = minutes / 65  # the default hour and a bit, split like this
    rng = random.Random(1)
    household, news, coach = household_sentences(rng, 420), news_sentences(rng, 260), routine_sentences()
    tv_music: Callable[[int, np.random.Generator], Samples] = lambda n, g: level(music(n / RATE_HZ + 0.01, g)[:n], -32)  # noqa: E731
    return [
        build("household talk", 18 * share, cache,
              spoken(household, VOICES, cache, 11, (0.6, 4.0)), household),
        build("tv and radio", 15 * share, cache,
              spoken(news, FAST_VOICES, cache, 12, (0.1, 0.8), under=tv_music), news),
        build("near misses, tuning set", 5 * share, cache, spoken(NEAR, VOICES + FAST_VOICES, cache, 13, (1.0, 3.0)),
              NEAR),
        build("near misses, held out", 5 * share, cache,
              spoken(NEAR_HELD_OUT, VOICES + FAST_VOICES, cache, 17, (1.0, 3.0)), NEAR_HELD_OUT),
        build("coach's own speech", 10 * share, cache, spoken(coach, VOICES[:4], cache, 14, (0.3, 1.5)), coach),
        build("noise", 6 * share, cache, lambda s: noises(s, np.random.default_rng(15))),
        build("music", 6 * share, cache, lambda s: iter([music(s, np.random.default_rng(16))])),
    ]


def start_clips(cache: Path) -> list[tuple[str, Path]]:
    """Real start phrases: (condition, WAV) for 2 phrases x 8 voices x 2 rates x 4 conditions."""
    out: list[tuple[str, Path]] = []
    rng = np.random.default_rng(21)
    tv = synthesize(" ".join(NEWS[:6]), Voice("en-gb", 185), cache / "tts")
    for phrase in START_PHRASES:
        for voice in VOICES + FAST_VOICES:
            speech = level(synthesize(phrase, voice, cache / "tts"), -20)
            for condition in ("clean", "white 20 dB", "pink 10 dB", "television 10 dB"):
                path = cache / f"start-{phrase.replace(' ', '_')}-{voice.label}-{condition.replace(' ', '_')}.wav"
                if not path.exists():
                    whole = padded(speech, 1.0, 1.5)
                    n = len(whole)
                    if condition == "white 20 dB":
                        whole = whole + level(rng.normal(size=n).astype(np.float32), -40)
                    elif condition == "pink 10 dB":
                        whole = whole + level(pink(n, rng), -30)
                    elif condition == "television 10 dB":
                        start = int(rng.integers(0, len(tv) - n))
                        whole = whole + level(tv[start:start + n], -30)
                    whole = whole + level(pink(n, rng), -62)
                    write_wav(path, np.clip(whole, -1, 1).astype(np.float32))
                out.append((condition, path))
    return out


# ---------------------------------------------------------------- counting


def starts_in(recognizer: SphinxRecognizer, path: Path, wanted: Callable[[Command], bool]) -> list[Command]:
    recognizer.reset()
    return [c for c in recognize_blocks(recognizer, WavSource(path).blocks()) if wanted(c)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=65.0, help="minutes of non-command audio (default: 65)")
    parser.add_argument("--cache", type=Path, default=Path(".bench-cache"))
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    chosen = WakeSettings()
    wake = load_wake_grammar()
    clash = {normalize(p) for p in NEAR_HELD_OUT} & {*wake.decoys, *wake.phrases}
    assert not clash, f"held-out near misses that are phrases or decoys: {clash}"
    began = time.perf_counter()
    made = streams(args.cache, args.minutes)
    clips = start_clips(args.cache)
    print(f"Generated in {time.perf_counter() - began:.0f} s (cached in {args.cache})", file=sys.stderr)

    # No floor here: every threshold is counted from this one run.
    loose = WakeSettings(min_confidence=0.6)
    waiting = SphinxRecognizer(wake, HearingSettings(min_confidence=0.0, max_other_words=0,
                                                     max_utterance_s=loose.max_utterance_s, decoys=True))
    session = SphinxRecognizer(load_grammar())

    def is_wake(c: Command) -> bool:
        return c.intent is Intent.START and c.phrase in wake.phrases

    def is_start(c: Command) -> bool:
        return c.intent is Intent.START

    hours = sum(s.hours for s in made)
    print(f"# False starts: PocketSphinx (bundled English model), wake grammar '{' / '.join(wake.phrases)}'\n")
    print(f"{hours:.2f} h of non-command audio; chosen threshold {chosen.min_confidence:g} "
          f"(a session command needs {HearingSettings().min_confidence:g})\n")
    header = " | ".join(f"≥ {t:g}" for t in THRESHOLDS)
    print(f"| category | hours | session grammar | wake grammar: false starts at confidence {header} |")
    print("|---|---|---|" + "---|" * len(THRESHOLDS))
    totals = [0] * len(THRESHOLDS)
    base_total = 0
    cpu = 0.0
    seen: list[tuple[str, str]] = []
    for stream in made:
        t0 = time.process_time()
        heard = starts_in(waiting, stream.path, is_wake)
        base = starts_in(session, stream.path, is_start)
        cpu += time.process_time() - t0
        base_total += len(base)
        counts = [sum(1 for c in heard if c.confidence >= t) for t in THRESHOLDS]
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
        seen += [(stream.category, f"{c.phrase}' {c.confidence:.2f} for '{stream.said_at(c.start_s)}") for c in heard]
        print(f"| {stream.category} | {stream.hours:.2f} | {len(base)} | " + " | ".join(map(str, counts)) + " |")
    print(f"| **all** | {hours:.2f} | {base_total} ({base_total / hours:.1f}/h) | "
          + " | ".join(f"{n} ({n / hours:.2f}/h)" for n in totals) + " |")
    for category, what in seen:
        print(f"  {category}: '{what}'")

    print("\n| start phrase said | clips | " + " | ".join(f"starts at ≥ {t:g}" for t in THRESHOLDS) + " |")
    print("|---|---|" + "---|" * len(THRESHOLDS))
    by: dict[str, list[float]] = {}
    for condition, path in clips:
        got = starts_in(waiting, path, is_wake)
        by.setdefault(condition, []).append(max((c.confidence for c in got), default=-1.0))
    every = [c for confs in by.values() for c in confs]
    for condition, confs in [*by.items(), ("**all**", every)]:
        print(f"| {condition} | {len(confs)} | "
              + " | ".join(f"{sum(1 for c in confs if c >= t) / len(confs):.0%}" for t in THRESHOLDS) + " |")
    n_clean = len(by.get("clean", []))
    print(f"\nCPU: {cpu / (hours * 3600):.4f} s per second of audio for both recognizers "
          f"({n_clean} clean start clips)")


if __name__ == "__main__":
    main()
