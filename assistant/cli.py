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
from assistant.app import build_loop, heard, run_until_stopped, run_voice, stopped_line
from assistant.clock import FakeClock, MonotonicClock
from assistant.commands import Grammar, load_grammar
from assistant.errors import MatCoachError, UsageError
from assistant.events import CommandHeard, InboxEvent, NotUnderstood, Shutdown
from assistant.files import check_output
from assistant.history import SqliteHistory, default_data_dir
from assistant.listening_cli import add_devices, add_engine_options, add_low_power, add_model, add_recognize
from assistant.report import plot_minutes, print_history, write_csv
from assistant.routine import BUILTIN_ROUTINE, builtin_routine_names, load_routine, routine_text
from assistant.script import load_script
from assistant.settings import RunSettings, low_power_default
from assistant.speaking import TextSpeaker
from assistant.stopping import STOP, stop_line

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
    _add_voice_options(p)
    _add_data_dir(p)
    p.set_defaults(handler=_cmd_run)


def _add_voice_options(p: argparse.ArgumentParser) -> None:
    """The options of a session by voice, shared by `run` and `serve`."""
    voice = p.add_argument_group("voice mode")
    voice.add_argument("--engine", choices=["auto", "vosk", "pocketsphinx"], default="auto",
                       help="speech recognizer (default: auto, Vosk when a model is found)")
    voice.add_argument("--model", type=Path, metavar="DIR", help="Vosk model folder")
    voice.add_argument("--grammar", type=Path, metavar="FILE",
                       help="the spoken commands, for a Vosk model of another language (see docs/grammar.md; "
                            "default: grammars/en.json)")
    voice.add_argument("--input-device", metavar="D", help="microphone: index or name part")
    voice.add_argument("--output-device", metavar="D", help="speaker: index or name part")
    voice.add_argument("--voice", metavar="V",
                       help="speech voice: id or name part, see `assistant voices` (default: the last used)")
    voice.add_argument("--no-earcons", action="store_true",
                       help="no tones (heard, countdown ticks, start and end of a repetition)")
    voice.add_argument("--no-echo-cancel", action="store_true",
                       help="do not take the coach's voice out of the microphone (for a headset); "
                            "then \"stop\" is only heard between sentences")
    voice.add_argument("--record-dir", type=Path, metavar="DIR",
                       help="keep every stretch of audio the recognizer decided on in DIR (a WAV each, and "
                            "what was heard in DIR/heard.jsonl): when it did not hear you, send us that")
    add_low_power(voice)


def _add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="always on: wait quietly for 'start session', coach, wait again")
    p.add_argument("--routine", default=BUILTIN_ROUTINE, metavar="NAME|FILE",
                   help=f"built-in routine name or a routine .toml file (default: {BUILTIN_ROUTINE})")
    _add_voice_options(p)
    _add_data_dir(p)
    p.set_defaults(handler=_cmd_serve, text=False, speed=1.0, script=None)


def _cmd_serve(args: argparse.Namespace) -> int:
    from assistant.commands import load_wake_grammar
    from assistant.serve import run_serve

    return run_serve(_run_settings(args), load_grammar(args.grammar), load_wake_grammar())



def _add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, metavar="DIR",
                   help="where the session history is kept (default: $MATCOACH_DATA_DIR or your "
                        "user data folder); scripted sessions are recorded only when this is given")


def _run_settings(args: argparse.Namespace) -> RunSettings:
    if args.script is not None and not args.text:
        raise UsageError("usage", "--script works with --text: assistant run --text --script FILE")
    if not 0.1 <= args.speed <= 1000:
        raise UsageError("usage", f"--speed must be from 0.1 to 1000, not {args.speed:g}.")
    if args.speed != 1.0 and not args.text:
        _LOGGER.warning("--speed only applies with --text; it will not be used.")
    if args.speed != 1.0 and args.script is not None:
        _LOGGER.warning("--speed is not used with --script: a script runs on a fake clock.")
    data_dir = args.data_dir
    if data_dir is None and args.script is None:
        data_dir = default_data_dir()
    low_power = low_power_default() if args.low_power is None else args.low_power
    if args.low_power and args.text:
        _LOGGER.warning("--low-power is for listening and speaking; with --text it will not be used.")
    return RunSettings(
        routine=args.routine, text=args.text, speed=args.speed, script=args.script,
        engine=args.engine, model=args.model, input_device=args.input_device,
        output_device=args.output_device, voice=args.voice, earcons=not args.no_earcons,
        debug=args.debug, data_dir=data_dir, echo_cancel=not args.no_echo_cancel, low_power=low_power,
        record_dir=None if args.text else args.record_dir,
    )


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
        return run_voice(settings, load_grammar(args.grammar))
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
    run_until_stopped(loop)
    if loop.stopped_by:
        print(stopped_line(loop), file=sys.stderr)
    return EXIT_OK


# ---------------------------------------------------------------- say, voices


_SAY_TIMEOUT_S: Final = 120.0
"""Longest `assistant say` waits for its sentence to be spoken."""


def _add_say(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("say", help="speak a sentence with the assistant's voice, or render it to a WAV")
    p.add_argument("text", metavar="TEXT", help="what to say")
    p.add_argument("--out", type=Path, metavar="FILE.wav", help="write a WAV file instead of speaking")
    p.add_argument("--voice", metavar="V", help="voice id or name part (see `assistant voices`)")
    p.add_argument("--output-device", metavar="D", help="speaker: index or name part (default: the system's)")
    p.set_defaults(handler=_cmd_say)


def _cmd_say(args: argparse.Namespace) -> int:
    from assistant.speaking import make_speaker, render_to_file

    if args.out is not None:
        if args.output_device is not None:
            _LOGGER.warning("--output-device is not used with --out: nothing is played.")
        seconds = render_to_file(args.text, args.out, args.voice)
        print(f"Wrote {args.out} ({seconds:.1f} s)")
        return EXIT_OK
    if not args.text.strip():
        raise UsageError("usage", 'Nothing to say: give the text, e.g. assistant say "Hello."')
    clock = MonotonicClock()
    speaker = make_speaker(args.output_device, args.voice, lambda event: None, clock.now, interruptible=False)
    try:
        speaker.say(args.text)
        if not speaker.wait_until_quiet(_SAY_TIMEOUT_S):
            _LOGGER.warning("Still speaking after %g s; stopping.", _SAY_TIMEOUT_S)
    finally:
        speaker.close()
    return EXIT_OK


def _add_voices(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("voices", help="list the speech voices (for --voice)")
    p.add_argument("--language", metavar="CODE", help="only voices for this language, e.g. en")
    p.set_defaults(handler=_cmd_voices)


def _cmd_voices(args: argparse.Namespace) -> int:
    from assistant.rendering import shared_renderer

    voices = shared_renderer().voices()
    if args.language:
        want = args.language.lower()
        voices = [v for v in voices
                  if any(lang.lower().startswith(want) for lang in v.languages)
                  or v.id.lower().rsplit("/", 1)[-1].startswith(want)]
    width = max((len(v.id) for v in voices), default=0)
    for v in voices:
        print(f"{v.id:<{width}}  {v.name}  ({', '.join(v.languages) or '?'})")
    if not voices:
        print("No voices match.", file=sys.stderr)
    return EXIT_OK


# ---------------------------------------------------------------- routine, diagram


def _add_demo(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="a whole session with a synthetic user voice, in a simulated room")
    p.add_argument("--out", type=Path, metavar="FILE.wav", help="write the room's sound (both voices)")
    p.add_argument("--speed", type=float, default=10.0, metavar="N",
                   help="shorten the quiet parts (holds, rests) N times (default: 10)")
    p.add_argument("--routine", default=BUILTIN_ROUTINE, metavar="NAME|FILE",
                   help=f"built-in routine name or a routine .toml file (default: {BUILTIN_ROUTINE})")
    p.add_argument("--voice", metavar="V", help="the coach's voice (see: assistant voices)")
    add_engine_options(p)
    p.set_defaults(handler=_cmd_demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    from assistant.demo import run_demo
    from assistant.listener import choose_engine, make_recognizer

    if not 1 <= args.speed <= 1000:
        raise UsageError("usage", f"--speed must be from 1 to 1000, not {args.speed:g}.")
    if args.out is not None and args.out.suffix.lower() != ".wav":
        raise UsageError("usage", f"--out writes a WAV file; give a name ending in .wav, not {args.out.name}.")
    if args.out is not None:
        check_output(args.out, "--out")  # now, not after the whole demo
    routine = load_routine(args.routine)
    grammar = load_grammar()
    choice = choose_engine(args.engine, args.model)
    print(choice.reason, file=sys.stderr)
    recognizer = make_recognizer(choice, grammar, debug=args.debug)
    report = run_demo(routine, grammar, recognizer, speed=args.speed, out_wav=args.out, screen=sys.stdout,
                      voice=args.voice)
    said = len(report.said_by_user)
    print(f"\nThe user said {said} commands; {len(report.acted_on)} were heard and acted on; "
          f"{len(report.gated)} heard in the coach's own voice were ignored. "
          f"{report.session_s / 60:.0f} session minutes in {report.audio_s / 60:.1f} minutes of sound.",
          file=sys.stderr)
    if args.out is not None:
        print(f"Wrote {args.out}", file=sys.stderr)
    return EXIT_OK if report.finished else EXIT_FAILURE


def _add_check(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("check", help="a one-minute self-test: devices, microphone, speaker, model, 'next'")
    p.add_argument("--input-device", metavar="D", help="microphone: index or name part")
    p.add_argument("--output-device", metavar="D", help="speaker: index or name part")
    p.add_argument("--answer-timeout", type=float, default=12.0, metavar="S",
                   help="how long to wait for you to say next (default: 12)")
    add_engine_options(p)
    p.set_defaults(handler=_cmd_check)


def _cmd_check(args: argparse.Namespace) -> int:
    from assistant.check import run_check

    parts = run_check(args.input_device, args.output_device, args.engine, args.model,
                      answer_timeout_s=args.answer_timeout)
    return EXIT_OK if all(p.ok for p in parts) else EXIT_FAILURE


def _add_history(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("history", help="past sessions and a weekly summary")
    p.add_argument("--last", type=int, default=10, metavar="N", help="how many sessions (default: 10)")
    p.add_argument("--days", type=int, default=7, metavar="N",
                   help="days in the summary and the plot (default: 7)")
    p.add_argument("--csv", metavar="FILE", help="export one row per exercise per session ('-': stdout)")
    p.add_argument("--plot", type=Path, metavar="FILE.png",
                   help="draw minutes per day (needs the 'plot' extra: matplotlib)")
    _add_data_dir(p)
    p.set_defaults(handler=_cmd_history)


def _cmd_history(args: argparse.Namespace) -> int:
    if not 1 <= args.last <= 10_000 or not 1 <= args.days <= 3660:
        raise UsageError("usage", "--last must be from 1 to 10000 and --days from 1 to 3660.")
    folder = args.data_dir or default_data_dir()
    history = SqliteHistory.open(folder)
    if history.notice:
        print(history.notice, file=sys.stderr)
    try:
        if args.csv == "-":
            write_csv(history, sys.stdout)
        elif args.csv:
            try:
                with open(args.csv, "w", newline="", encoding="utf-8") as out:
                    rows = write_csv(history, out)
            except OSError as err:
                raise UsageError("csv-write", f"Cannot write {args.csv} ({err.strerror}).") from err
            print(f"Wrote {rows} rows to {args.csv}", file=sys.stderr)
        if args.plot:
            plot_minutes(history, args.plot, args.days)
            print(f"Wrote {args.plot}", file=sys.stderr)
        if not args.csv and not args.plot:
            print_history(history, sys.stdout, last=args.last, days=args.days)
        if history.unreadable:
            print(f"Left out, as they cannot be read: {'; '.join(history.unreadable)}.", file=sys.stderr)
    finally:
        history.close()
    return EXIT_OK


def _add_service(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("service", help="start `assistant serve` at boot (systemd user unit)")
    ssub = p.add_subparsers(dest="service_command", required=True, metavar="install|uninstall")
    for name, helptext in (("install", "write, enable and start the unit"),
                           ("uninstall", "stop, disable and remove the unit")):
        q = ssub.add_parser(name, help=helptext)
        q.add_argument("--unit-dir", type=Path, metavar="DIR",
                       help="where the unit goes (default: ~/.config/systemd/user)")
        q.add_argument("--no-systemctl", action="store_true",
                       help="only write or remove the file; print the systemctl commands to run")
        if name == "install":
            q.add_argument("serve_args", nargs=argparse.REMAINDER, metavar="-- SERVE_ARGS",
                           help="options for `assistant serve`, after --")
        q.set_defaults(handler=_cmd_service)


def _cmd_service(args: argparse.Namespace) -> int:
    from assistant import service

    unit_dir = args.unit_dir or service.default_unit_dir()
    if args.service_command == "install":
        serve_args = [a for a in args.serve_args if a != "--"]
        _, unknown = build_parser().parse_known_args(["serve", *serve_args])
        if unknown:  # found now, not at boot by a unit that fails over and over
            raise UsageError("usage", f"`assistant serve` does not take {' '.join(unknown)}; "
                             "see: assistant serve --help")
        text = service.unit_text(service.assistant_executable(), serve_args, Path.cwd())
        left = service.install(unit_dir, text, run_systemctl=not args.no_systemctl)
        print(f"Wrote {unit_dir / service.UNIT_NAME}")
    else:
        left = service.uninstall(unit_dir, run_systemctl=not args.no_systemctl)
        print(f"Removed {unit_dir / service.UNIT_NAME}")
    if left:
        print("Still to run (systemd was not asked, or did not answer):")
        for command in left:
            print(f"  {command}")
    return EXIT_OK


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
    notes = "".join(f" ({note})" for note in routine.notes)
    print(f"{routine.origin}: ok, '{routine.name}', {len(routine.exercises)} exercises{notes}")
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
    for add in (_add_run, _add_serve, _add_demo, _add_check, _add_say, _add_voices, add_recognize, add_devices,
                add_model, _add_history, _add_routine, _add_diagram, _add_service):
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
    """Run one command; Ctrl-C, SIGTERM and SIGHUP end it with one line and exit status 0."""
    previous = STOP.install()
    try:
        return _main(argv)
    except KeyboardInterrupt as stop:  # StopRequested, or a Ctrl-C where the handler is not ours
        print(stop_line(str(stop)), file=sys.stderr)
        return EXIT_OK
    finally:
        STOP.restore(previous)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.debug)
    if not args.debug:
        from assistant.alsa import quiet_alsa

        quiet_alsa()
    handler: Handler = args.handler
    try:
        return handler(args)
    except MatCoachError as err:
        if args.debug:
            _LOGGER.exception("%s", err.code)
        print(f"error: {err.message}", file=sys.stderr)
        return err.exit_code
    except BrokenPipeError:
        return EXIT_OK


