"""The voice loop in the PulseAudio virtual room, in real time: spoken commands and a silent session.

`assistant run` runs as a process with the room's monitor as its microphone (it hears itself
and the person, as on a mat). A person (espeak-ng, a voice other than the coach's) says
wait, say again, how long and resume in turn, each once, when the coach is quiet, and again if nothing
happened (a miss). Printed: the share acted on right at the first try, wrong actions, and the
time from the end of the phrase (paplay has drained it into the room) to the command being
acted on (the "you:" line, written as the earcon is queued), median and 90th percentile.
Then a whole silent session: how many commands were acted on with nobody speaking.

    .venv/bin/python bench/voice_loop.py [--commands 51] [--engine pocketsphinx]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from assistant.speaking import estimate_speech_s  # noqa: E402
from tests.room import virtual_room  # noqa: E402
from tests.voice_room import USER_VOICES, Assistant, User  # noqa: E402

TURNS = (("wait", r"Paused\. Say resume"),  # "pause" itself is seldom heard by PocketSphinx
         ("say again", r"\]  ?[A-Z]"),  # the last instruction again, whichever it was
         ("how long", r"left\.|No timer|We are paused"),
         ("resume", r"carry on|Let's go on"))
ANSWER_S = 3.0


def quiet(assistant: Assistant, gap_s: float = 0.6, timeout_s: float = 20.0) -> None:
    """Wait until the coach has finished its last sentence (a person waits for a pause).
    A line is printed as its sentence starts; how long it plays is estimated from its words."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with assistant._lock:
            said = [(at, text) for at, text in assistant.lines if "] you: " not in text]
        at_end = 0.0
        if said:
            at, text = said[-1]
            ends = at + estimate_speech_s(text.split("]", 1)[-1])
            at_end = ends + gap_s
        if time.monotonic() > at_end:
            return
        time.sleep(0.1)


def spoken(commands: int, cache: Path, work: Path) -> None:
    with virtual_room() as room:
        assistant = Assistant(room, work / "data", cache)
        user = User(room, work)
        assert assistant.wait_for(r"Repetition 1 of 2\. Hold", 120.0), assistant.errors[-5:]
        latencies: list[float] = []
        first_try = misses = wrong = turns = 0
        for n in range(commands):
            if assistant.proc.poll() is not None:
                break  # the routine has ended
            turns += 1
            phrase, answer = TURNS[n % len(TURNS)]
            for attempt in range(4):
                quiet(assistant)
                before = len(assistant.heard())
                ended = user.say(phrase, USER_VOICES[attempt % len(USER_VOICES)])
                at = assistant.wait_for(r"\] you: ", ANSWER_S, since=ended - 0.8)
                heard = assistant.heard()[before:]
                if at is not None and assistant.wait_for(answer, ANSWER_S, since=ended - 0.8) is not None:
                    latencies.append(at - ended)
                    first_try += attempt == 0
                    break
                misses += 1
                wrong += bool(heard)
            else:
                print(f"gave up on '{phrase}' (turn {turns})")
                break
        assistant.close()
    said = len(latencies) + misses
    print(f"spoken commands: {turns} turns, {said} phrases said, {len(latencies)} acted on")
    print(f"  acted on right at the first try: {first_try}/{turns} ({first_try / max(turns, 1):.0%})")
    print(f"  phrases not acted on: {misses}; acted on wrongly: {wrong}")
    if latencies:
        q = statistics.quantiles(latencies, n=10)
        print(f"  phrase end -> acted on (earcon queued): median {statistics.median(latencies) * 1000:.0f} ms, "
              f"90th percentile {q[-1] * 1000:.0f} ms (n={len(latencies)})")


def silent(cache: Path, work: Path) -> None:
    with virtual_room() as room:
        assistant = Assistant(room, work / "silent", cache)
        began = time.monotonic()
        assert assistant.wait_for(r"Goodbye", 300.0), assistant.transcript()[-5:]
        seconds = time.monotonic() - began
        print(f"silent session: {seconds:.0f} s, commands acted on: {len(assistant.heard())}")
        assistant.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=51)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cache = work / "cache"
        print("engine: PocketSphinx (bundled English model), echo cancellation on; room: PulseAudio null sink")
        spoken(args.commands, cache, work)
        silent(cache, work)


if __name__ == "__main__":
    main()
