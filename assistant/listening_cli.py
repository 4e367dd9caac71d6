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
    p = sub.add_parser("recognize", help="the commands heard in a WAV file")
    p.add_argument("wav", type=Path, metavar="FILE.wav")
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
    down.set_defaults(handler=cmd_model_download)
    path = msub.add_parser("path", help="print the Vosk model that --engine auto would use")
    path.add_argument("--model", type=Path, metavar="DIR", help="Vosk model folder")
    path.set_defaults(handler=cmd_model_path)
    msub.add_parser("list", help="models known to the downloader, and the ones installed").set_defaults(
        handler=cmd_model_list)


def cmd_model_download(args: argparse.Namespace) -> int:
    from assistant.models import DEFAULT_MODEL, download_model, spec_for

    spec = spec_for(args.name or DEFAULT_MODEL)
    path = download_model(spec, args.dir, args.base_url, progress=sys.stderr.isatty())
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
