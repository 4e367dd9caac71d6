"""Ctrl-C right after Enter: what a person sees when SIGINT (or SIGTERM) comes N ms after the start.

Starts `assistant run --text --script examples/session.txt` (the installed console script, as a
person types it) again and again, sends the signal after 0, 10, 20 ... 300 ms, and tallies what
came back: "Stopped (...)" (the one line, exit 0), a Python traceback, killed by the signal (the
interpreter had no handler yet, or had dropped them while exiting), or a run that had already
ended (exit 0, nothing said). Nothing here depends on the machine's speed but the ms figures.

    .venv/bin/python bench/early_stop.py [--signal SIGTERM] [--tries 2]
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signal", default="SIGINT", choices=["SIGINT", "SIGTERM", "SIGHUP"])
    parser.add_argument("--tries", type=int, default=2, help="tries at each delay (default: 2)")
    parser.add_argument("--until-ms", type=int, default=300)
    args = parser.parse_args()
    exe = Path(sys.executable).parent / "assistant"
    number = signal.Signals[args.signal]
    seen: dict[str, list[int]] = defaultdict(list)
    for ms in range(0, args.until_ms + 1, 10):
        for _ in range(args.tries):
            with subprocess.Popen([str(exe), "run", "--text", "--script", "examples/session.txt"], cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as process:
                time.sleep(ms / 1000)
                process.send_signal(number)
                _, err = process.communicate(timeout=60)
            if "Traceback" in err:
                kind = "traceback"
            elif process.returncode < 0:
                kind = "killed by the signal (no handler yet, or already exiting)"
            elif err.strip().startswith("Stopped ("):
                kind = f"one line, exit {process.returncode}"
            else:
                kind = f"already finished, exit {process.returncode}"
            seen[kind].append(ms)
    total = sum(len(v) for v in seen.values())
    print(f"{args.signal} sent 0-{args.until_ms} ms after start, {total} tries:")
    for kind, delays in seen.items():
        print(f"  {kind}: {len(delays)} (at {min(delays)}-{max(delays)} ms)")


if __name__ == "__main__":
    main()
