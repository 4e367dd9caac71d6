"""The listening commands of the CLI: `recognize`, `devices` and `model download|path|list`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Final, TypeAlias

from assistant.errors import AudioDeviceError

_LOGGER = logging.getLogger(__name__)

EXIT_OK: Final = 0
EXIT_FAILURE: Final = 1

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def add_engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", choices=["auto", "vosk", "pocketsphinx"], default="auto",
                   help="speech recognizer (default: auto, Vosk when a model is found)")
    p.add_argument("--model", type=Path, metavar="DIR", help="Vosk model folder")


# ---------------------------------------------------------------- recognize


def add_recognize(sub: Subparsers) -> None:
    p = sub.add_parser("recognize", help="the commands heard in a WAV file, or a folder of them scored")
    p.add_argument("wav", type=Path, metavar="FILE.wav|DIR",
                   help="a WAV file; or a folder made by --record-dir (heard.jsonl) or bench/devset.py "
                        "(manifest.jsonl), each clip scored against its \"expected\" intent")
    add_engine_options(p)
    p.add_argument("--json", action="store_true",
                   help='one JSON object per line: {"intent", "phrase", "confidence", "start_s", "end_s", '
                        '"emitted_s"} (stream seconds)')
    p.set_defaults(handler=cmd_recognize)


def cmd_recognize(args: argparse.Namespace) -> int:
    from assistant.audio import WavSource
    from assistant.commands import load_grammar
    from assistant.listener import choose_engine, make_recognizer
    from assistant.listening import recognize_blocks

    if args.wav.is_dir():
        return _score_folder(args)
    source = WavSource(args.wav)  # a bad file fails first, before a model loads
    choice = choose_engine(args.engine, args.model)
    print(choice.reason, file=sys.stderr)
    recognizer = make_recognizer(choice, load_grammar(), debug=args.debug)
    for command in recognize_blocks(recognizer, source.blocks()):
        if args.json:
            print(json.dumps({"intent": command.intent.value, "phrase": command.phrase,
                              "confidence": command.confidence, "start_s": command.start_s,
                              "end_s": command.end_s, "emitted_s": command.emitted_s},
                             ensure_ascii=False), flush=True)
        else:
            print(f"{command.start_s:7.2f}-{command.end_s:.2f} s  {command.intent.value:<10} "
                  f"'{command.phrase}' ({command.confidence:.2f}, heard at {command.emitted_s:.2f} s)", flush=True)
    return EXIT_OK


NOT_A_COMMAND: Final = "nothing"
"""The "expected" of a clip in which nothing should be heard."""


def _score_folder(args: argparse.Namespace) -> int:
    """Recognize every clip of a folder's index; score those with an "expected" intent."""
    from assistant.audio import WavSource
    from assistant.commands import Intent, load_grammar
    from assistant.errors import UsageError, WavFormatError
    from assistant.files import decode_text, read_regular_file
    from assistant.listener import choose_engine, make_recognizer
    from assistant.listening import recognize_blocks

    index = next((args.wav / n for n in ("heard.jsonl", "manifest.jsonl") if (args.wav / n).is_file()), None)
    if index is None:
        raise UsageError("usage", f"{args.wav} has no heard.jsonl or manifest.jsonl; give a WAV file, or a "
                         "folder made by --record-dir.")
    lines: list[dict[str, object]] = []
    data = read_regular_file(index, "index", UsageError, 64 << 20)
    for number, text in enumerate(decode_text(data, str(index), UsageError).splitlines(), 1):
        try:
            line = json.loads(text)
            if not isinstance(line, dict) or not isinstance(line.get("file"), str):
                raise ValueError("no \"file\"")
        except ValueError as err:
            raise UsageError("usage", f"{index}, line {number}: not a clip ({err}); fix or delete that line.") from err
        lines.append(line)
    intents = {i.value for i in Intent}
    choice = choose_engine(args.engine, args.model)
    print(choice.reason, file=sys.stderr)
    recognizer = make_recognizer(choice, load_grammar(), debug=args.debug)
    right = scored = false = negatives = 0
    for line in lines:
        name = str(line["file"])
        expected = line.get("expected")
        try:
            source = WavSource(args.wav / name)
        except WavFormatError as err:
            print(f"{name}: skipped ({err.message})", file=sys.stderr)
            continue
        recognizer.reset()
        heard = [c.intent.value for c in recognize_blocks(recognizer, source.blocks())]
        verdict = ""
        if expected == NOT_A_COMMAND:
            negatives += 1
            false += len(heard)
            verdict = "ok" if not heard else "FALSE COMMAND"
        elif expected in intents:
            scored += 1
            right += heard == [expected]
            verdict = "ok" if heard == [expected] else "MISSED" if not heard else "WRONG"
        if args.json:
            print(json.dumps({"file": name, "expected": expected, "heard": heard, "verdict": verdict or None}))
        else:
            print(f"{name}: heard {', '.join(heard) or 'nothing'}"
                  + (f" (expected {expected}: {verdict})" if verdict else ""), flush=True)
    if scored or negatives:
        print(f"Scored: {right} of {scored} commands heard right ({right / max(1, scored):.0%}); "
              f"{false} commands heard in {negatives} clips of no command.", file=sys.stderr)
    else:
        print(f"{len(lines)} clips recognized; none has an \"expected\" intent to score (write one, or "
              f"\"{NOT_A_COMMAND}\", into {index.name}).", file=sys.stderr)
    return EXIT_OK


# ---------------------------------------------------------------- devices


def add_devices(sub: Subparsers) -> None:
    p = sub.add_parser("devices", help="list microphones and speakers")
    p.set_defaults(handler=cmd_devices)


def cmd_devices(args: argparse.Namespace) -> int:
    from assistant.audio import list_devices

    try:
        devices = list_devices()
    except OSError as err:  # PortAudio missing entirely
        raise AudioDeviceError("no-portaudio", f"The sound library PortAudio cannot be loaded ({err}); "
                               "install it (Debian: sudo apt install libportaudio2).") from err
    if not devices:
        print("No sound devices found. Plug in a microphone and a speaker, or use: assistant run --text")
        return EXIT_FAILURE
    for title, key in (("Microphones (--input-device)", "inputs"), ("Speakers (--output-device)", "outputs")):
        print(f"{title}:")
        for d in devices:
            channels = getattr(d, key)
            if channels:
                default = d.is_default_input if key == "inputs" else d.is_default_output
                print(f"  {d.index:>3}  {d.name}  ({channels} ch, {d.default_rate_hz:.0f} Hz)"
                      f"{'  [default]' if default else ''}")
    return EXIT_OK


# ---------------------------------------------------------------- model


def add_model(sub: Subparsers) -> None:
    p = sub.add_parser("model", help="download, find and list Vosk speech models")
    msub = p.add_subparsers(dest="model_command", required=True, metavar="download|path|list")
    down = msub.add_parser("download", help="download a Vosk model into models/ (resumes, verifies)")
    down.add_argument("name", nargs="?", default=None, metavar="NAME",
                      help="model name (default: vosk-model-small-en-us-0.15)")
    down.add_argument("--dir", type=Path, default=Path("models"), help="where models live (default: models)")
    down.add_argument("--base-url", metavar="URL",
                      help="model server (default: $MATCOACH_MODEL_URL or https://alphacephei.com/vosk/models)")
    down.add_argument("--if-missing", action="store_true",
                      help="what `make run` does: nothing when a Vosk model is already there; when the "
                           "download fails, one line, and exit 0 (the session listens with PocketSphinx)")
    down.set_defaults(handler=cmd_model_download)
    path = msub.add_parser("path", help="print the Vosk model that --engine auto would use")
    path.add_argument("--model", type=Path, metavar="DIR", help="Vosk model folder")
    path.set_defaults(handler=cmd_model_path)
    msub.add_parser("list", help="models known to the downloader, and the ones installed").set_defaults(
        handler=cmd_model_list)


def cmd_model_download(args: argparse.Namespace) -> int:
    from assistant.errors import ModelError
    from assistant.models import DEFAULT_MODEL, download_model, find_vosk_model, looks_like_vosk_model, spec_for

    if args.if_missing:
        found = (args.dir / args.name) if args.name else None
        if found is not None and looks_like_vosk_model(found):
            print(f"Vosk model: {found}")
            return EXIT_OK
        if args.name is None and (model := find_vosk_model(models_dir=args.dir)) is not None:
            print(f"Vosk model: {model.path} (in {model.where})")
            return EXIT_OK
    try:
        spec = spec_for(args.name or DEFAULT_MODEL, args.base_url)
        path = download_model(spec, args.dir, args.base_url, progress=sys.stderr.isatty())
    except ModelError as err:
        if not args.if_missing:
            raise
        # make run goes on: the session listens with the bundled engine, and the next make run
        # tries again (a part file resumes).
        print(f"{err.message.split('; ')[0]}; this session listens with the bundled engine (PocketSphinx).",
              file=sys.stderr)
        return EXIT_OK
    print(f"Model ready: {path}")
    return EXIT_OK


def cmd_model_path(args: argparse.Namespace) -> int:
    from assistant.models import find_vosk_model

    found = find_vosk_model(args.model)
    if found is None:
        print("No Vosk model found (looked in --model, $VOSK_MODEL_PATH, ./models and the user cache); "
              "run: assistant model download", file=sys.stderr)
        return EXIT_FAILURE
    print(found.path)
    return EXIT_OK


def cmd_model_list(args: argparse.Namespace) -> int:
    from assistant.models import CATALOG, installed_models, user_models_dir

    installed = installed_models()
    names = {p.name for p in installed}
    print("Downloadable (assistant model download NAME):")
    for spec in CATALOG.values():
        mark = "  [installed]" if spec.name in names else ""
        print(f"  {spec.name}: {spec.about}{mark}")
    print(f"Installed (./models, {user_models_dir()}):")
    for p in installed:
        print(f"  {p}")
    if not installed:
        print("  none; PocketSphinx (bundled) is used")
    return EXIT_OK


def add_low_power(group: argparse._ArgumentGroup) -> None:
    """--low-power / --no-low-power (None when neither is given: see low_power_default)."""
    power = group.add_mutually_exclusive_group()
    power.add_argument("--low-power", action="store_true", default=None,
                       help="least CPU (for a Raspberry Pi): leaner listening, and every sentence prepared "
                            "before the session, none synthesized during it (default: on for 64-bit and "
                            "32-bit ARM Linux)")
    power.add_argument("--no-low-power", dest="low_power", action="store_false",
                       help="full listening and speech even on ARM")
