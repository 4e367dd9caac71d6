"""How soon an earcon is heard: from `speaker.earcon()` (called as a command is acted on) to
its tone in the PulseAudio virtual room, measured on a recording of the room.

    .venv/bin/python bench/earcon_latency.py [--times 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from tests.audio_checks import sound_span  # noqa: E402
from tests.room import virtual_room  # noqa: E402

RATE = 16000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--times", type=int, default=30)
    args = parser.parse_args()
    with virtual_room() as room, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(room.env)
        from assistant.speaking import make_speaker
        from tests.recorder import RoomRecorder

        speaker = make_speaker("pulse", None, lambda event: None, time.monotonic, cache_dir=Path(tmp),
                               config_dir=Path(tmp) / "config")
        recorder = RoomRecorder()
        delays = []
        for _ in range(args.times):
            time.sleep(0.6)
            asked = time.monotonic()
            speaker.earcon("heard")
            time.sleep(0.5)
            heard, heard_from = recorder.between(asked - 0.1, time.monotonic())
            span = sound_span(heard, RATE)
            if span is not None:
                delays.append(heard_from + span[0] - asked)
        recorder.close()
        speaker.close()
    delays_ms = sorted(d * 1000 for d in delays)
    print(f"earcon asked -> its tone in the room: median {statistics.median(delays_ms):.0f} ms, "
          f"90th percentile {statistics.quantiles(delays_ms, n=10)[-1]:.0f} ms, "
          f"max {delays_ms[-1]:.0f} ms (n={len(delays_ms)} of {args.times})")


if __name__ == "__main__":
    main()
