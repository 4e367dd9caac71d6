"""The `assistant` command line: `main(argv) -> exit status`."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final, TextIO

from assistant import __version__
from assistant.clock import Clock, FakeClock, MonotonicClock
from assistant.commands import Command, Grammar, load_grammar
from assistant.errors import MatCoachError, UsageError
from assistant.events import CommandHeard, InboxEvent, NotUnderstood, Shutdown
from assistant.listening_cli import add_devices, add_model, add_recognize
from assistant.loop import SessionLoop
from assistant.routine import BUILTIN_ROUTINE, builtin_routine_names, load_routine, routine_text
from assistant.script import load_script
from assistant.session import Session
from assistant.settings import RunSettings
from assistant.speaking import Speaker, TextSpeaker

_LOGGER = logging.getLogger(__name__)

EXIT_OK: Final = 0
EXIT_FAILURE: Final = 1
EXIT_USAGE: Final = 2

Handler = Callable[[argparse.Namespace], int]


# ---------------------------------------------------------------- run


def _add_run(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="a guided session: by voice, or typed with --text")
    what = p.add_argument_group("what to do")
    what.add_argument("--routine", default=BUILTIN_ROUTINE, metavar="NAME|FILE",
                      help=f"built-in routine name or a routine .toml file (default: {BUILTIN_ROUTINE})")
    text = p.add_argument_group("text mode")
    text.add_argument("--text", action="store_true",
                      help="type commands and read the assistant's words instead of speaking")
    text.add_argument("--speed", type=float, default=1.0, metavar="N",
                      help="with --text: run time N times faster (default: 1, real time)")
    text.add_argument("--script", type=Path, metavar="FILE",
                      help="with --text: lines '<session seconds> <phrase>' on a fake clock")
    voice = p.add_argument_group("voice mode")
    voice.add_argument("--engine", choices=["auto", "vosk", "pocketsphinx"], default="auto",
                       help="speech recognizer (default: auto, Vosk when a model is found)")
    voice.add_argument("--model", type=Path, metavar="DIR", help="Vosk model folder")
    voice.add_argument("--input-device", metavar="D", help="microphone: index or name part")
    voice.add_argument("--output-device", metavar="D", help="speaker: index or name part")
    p.set_defaults(handler=_cmd_run)


def _run_settings(args: argparse.Namespace) -> RunSettings:
    if args.script is not None and not args.text:
        raise UsageError("usage", "--script works with --text: assistant run --text --script FILE")
    if not 0.1 <= args.speed <= 1000:
        raise UsageError("usage", f"--speed must be from 0.1 to 1000, not {args.speed:g}.")
    if args.speed != 1.0 and not args.text:
        _LOGGER.warning("--speed only applies with --text; it will not be used.")
    if args.speed != 1.0 and args.script is not None:
        _LOGGER.warning("--speed is not used with --script: a script runs on a fake clock.")
    return RunSettings(
        routine=args.routine, text=args.text, speed=args.speed, script=args.script,
        engine=args.engine, model=args.model, input_device=args.input_device,
        output_device=args.output_device, debug=args.debug,
    )


def build_loop(settings: RunSettings, clock: Clock, speaker: Speaker) -> SessionLoop:
    """A session loop over the routine of `settings`, speaking through `speaker`."""
    routine = load_routine(settings.routine)
    return SessionLoop(
        lambda announce: Session(routine, clock, announce, duration_of=speaker.duration_s),
        clock,
        speaker,
    )


def heard(grammar: Grammar, phrase: str, at_s: float) -> InboxEvent:
    """A typed or scripted phrase, as the recognizer would report it."""
    intent = grammar.match(phrase)
    if intent is None:
        return NotUnderstood(phrase)
    return CommandHeard(Command(intent, phrase.strip().lower(), 1.0, at_s, at_s, at_s))


def _print_heard(out: TextIO) -> Callable[[InboxEvent, float], None]:
    def show(event: InboxEvent, at_s: float) -> None:
        if isinstance(event, CommandHeard):
            print(f"[{at_s:7.1f}] you: {event.command.phrase}", file=out, flush=True)
        elif isinstance(event, NotUnderstood):
            print(f"[{at_s:7.1f}] you: {event.text}", file=out, flush=True)

    return show


def _cmd_run(args: argparse.Namespace) -> int:
    settings = _run_settings(args)
    if not settings.text:
        raise UsageError(
            "voice-unavailable",
            "Voice mode is not built into this version yet; run with --text to type commands: "
            "assistant run --text",
        )
    load_routine(settings.routine)  # a wrong routine fails here, before anything starts
    grammar = load_grammar()
    if settings.script is not None:
        return _run_script(settings, grammar)
    return _run_typed(settings, grammar)


def _run_script(settings: RunSettings, grammar: Grammar) -> int:
    assert settings.script is not None
    script = load_script(settings.script)
    clock = FakeClock()
    loop = build_loop(settings, clock, TextSpeaker(clock.now))
    loop.inbox_observers.append(_print_heard(sys.stdout))
    for line in script:
        loop.post_at(line.at_s, heard(grammar, line.phrase, line.at_s))
    loop.start()
    loop.run_until_idle()
    if not loop.session.finished:
        print(f"(the script ended with the session {loop.session.state.value}; "
              "nothing more would happen without a command)", file=sys.stderr)
    return EXIT_OK


def _run_typed(settings: RunSettings, grammar: Grammar) -> int:
    clock = MonotonicClock(settings.speed)
    loop = build_loop(settings, clock, TextSpeaker(clock.now))
    print("Type what you would say (next, pause, how long, help...). Ctrl-D or Ctrl-C quits.",
          file=sys.stderr)

    def read_keyboard() -> None:
        for line in sys.stdin:
            if line.strip():
                loop.post(heard(grammar, line, clock.now()))
        loop.post(Shutdown("end of input"))

    threading.Thread(target=read_keyboard, name="keyboard", daemon=True).start()
    loop.start()
    try:
        loop.run()
    except KeyboardInterrupt:
        loop.stopped_by = "Ctrl-C"
    if loop.stopped_by:
        print(f"Session stopped ({loop.stopped_by}).", file=sys.stderr)
    return EXIT_OK


# ---------------------------------------------------------------- routine, diagram


def _add_routine(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("routine", help="list, show or check routines")
    rsub = p.add_subparsers(dest="routine_command", required=True, metavar="list|show|check")
    rsub.add_parser("list", help="the built-in routines").set_defaults(handler=_cmd_routine_list)
    show = rsub.add_parser("show", help="print a routine file, to copy and change")
    show.add_argument("name", nargs="?", default=BUILTIN_ROUTINE, metavar="NAME|FILE")
    show.set_defaults(handler=_cmd_routine_show)
    check = rsub.add_parser("check", help="validate a routine file and summarize it")
    check.add_argument("name", metavar="NAME|FILE")
    check.set_defaults(handler=_cmd_routine_check)


def _cmd_routine_list(args: argparse.Namespace) -> int:
    for name in builtin_routine_names():
        print(f"{name}: {load_routine(name).name}")
    return EXIT_OK


def _cmd_routine_show(args: argparse.Namespace) -> int:
    text, _ = routine_text(args.name)
    sys.stdout.write(text)
    return EXIT_OK


def _cmd_routine_check(args: argparse.Namespace) -> int:
    routine = load_routine(args.name)
    print(f"{routine.origin}: ok, '{routine.name}', {len(routine.exercises)} exercises")
    for ex in routine.exercises:
        dose = ex.dose
        numbers = {"hold": f"{dose.reps} x {dose.hold_s:g} s hold, {dose.rest_s:g} s rest",
                   "slides": f"{dose.reps} per side x {len(dose.sides) or 1}, {dose.rep_s:g} s each",
                   "breathing": f"until 'done', at most {dose.duration_s:g} s"}[ex.kind.value]
        chosen = f" (our defaults: {', '.join(dose.defaults)})" if dose.defaults else ""
        print(f"  {ex.id}: {numbers}{chosen}")
    return EXIT_OK


def _add_diagram(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("diagram", help="draw the session state machine (needs Graphviz)")
    p.add_argument("--out", type=Path, required=True, metavar="FILE.svg|png")
    p.set_defaults(handler=_cmd_diagram)


def _cmd_diagram(args: argparse.Namespace) -> int:
    from assistant.diagram import draw_session_diagram

    draw_session_diagram(args.out)
    print(f"Wrote {args.out}")
    return EXIT_OK


# ---------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assistant",
        description="Mat Coach: a hands-free voice coach for lower-back exercises.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="detailed logs, and a traceback for any error")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_run, _add_routine, _add_diagram, add_recognize, add_devices, add_model):
        add(sub)
    return parser


def _configure_logging(debug: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s" if debug else "%(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("transitions").setLevel(logging.DEBUG if debug else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.debug)
    handler: Handler = args.handler
    try:
        return handler(args)
    except MatCoachError as err:
        if args.debug:
            _LOGGER.exception("%s", err.code)
        print(f"error: {err.message}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("Stopped.", file=sys.stderr)
        return EXIT_OK
    except BrokenPipeError:
        return EXIT_OK


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


