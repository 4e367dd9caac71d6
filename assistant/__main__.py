"""`python -m assistant` and the `assistant` command.

The stop signals are taken over before anything heavy is imported: a Ctrl-C, SIGTERM or
SIGHUP in the first moments then ends with one line and exit status 0, not a traceback.
"""

import signal
import sys


def run() -> None:
    """Console-script entry point."""
    from assistant.stopping import STOP, STOP_SIGNALS, StopRequested, stop_line

    STOP.install()
    try:
        from assistant.cli import main

        code = main()
    except StopRequested as stop:  # before main() could catch it: during the imports
        print(stop_line(str(stop)), file=sys.stderr)
        code = 0
    for number in STOP_SIGNALS:  # done: a stop now, while the interpreter shuts down, changes nothing
        signal.signal(number, signal.SIG_IGN)
    sys.exit(code)


if __name__ == "__main__":
    run()
