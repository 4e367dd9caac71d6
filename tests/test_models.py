"""Model download against a local HTTP server: good, corrupt, interrupted and hostile archives."""

from __future__ import annotations

import hashlib
import io
import socket
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.errors import ModelError
from assistant.listener import choose_engine
from assistant.models import DownloadLimits, ModelSpec, download_model, find_vosk_model

NAME = "vosk-model-tiny-test"


def _model_zip(name: str = NAME, extra: dict[str, bytes] | None = None, symlink: str | None = None) -> bytes:
    """A zip shaped like a Vosk model (am/, conf/, graph/), small enough to serve in a test."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{name}/am/final.mdl", b"\x00" * 50_000)
        archive.writestr(f"{name}/conf/model.conf", b"--min-active=200\n")
        archive.writestr(f"{name}/graph/words.txt", b"next 1\n")
        for path, data in (extra or {}).items():
            archive.writestr(path, data)
        if symlink is not None:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = 0o120777 << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def _spec(data: bytes, name: str = NAME, unpacked: int | None = None) -> ModelSpec:
    """What the catalog would say of `data`: its size, MD5 and (by default, truly) its unpacked size."""
    if unpacked is None:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    return ModelSpec(name, len(data), hashlib.md5(data, usedforsecurity=False).hexdigest(), unpacked)


@dataclass
class Server:
    """What the local model server serves, and what it was asked."""

    base_url: str
    files: dict[str, bytes] = field(default_factory=dict)
    cut_after: int | None = None
    """Send only this many bytes of the next response, then drop the connection."""
    ranges: list[str] = field(default_factory=list)
    trickle_s: float | None = None
    """Send one byte, then wait this long, and so on (a server that hardly moves)."""
    no_length: bool = False
    """Send no Content-Length: the body ends when the connection closes."""
    stop: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server("")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            data = state.files.get(self.path.rsplit("/", 1)[-1])
            if data is None:
                self.send_error(404)
                return
            start = 0
            wanted = self.headers.get("Range")
            if wanted:
                state.ranges.append(wanted)
                start = int(wanted.removeprefix("bytes=").split("-")[0])
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            if not state.no_length:
                self.send_header("Content-Length", str(len(data) - start))
            self.end_headers()
            body = data[start:]
            if state.trickle_s is not None:
                for i in range(len(body)):
                    if state.stop.wait(state.trickle_s):
                        return
                    try:
                        self.wfile.write(body[i:i + 1])
                        self.wfile.flush()
                    except OSError:  # the client gave up
                        return
                return
            if state.cut_after is not None:
                body, state.cut_after = body[:state.cut_after], None
                self.wfile.write(body)
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base_url = f"http://127.0.0.1:{httpd.server_address[1]}/models"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stop.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _leftovers(models: Path) -> list[str]:
    """Anything in models/ besides finished model folders and the download folder."""
    return sorted(p.name for p in models.iterdir() if p.name not in (NAME, ".download")) if models.exists() else []


def test_a_good_archive_is_downloaded_verified_and_unpacked(server: Server, tmp_path: Path) -> None:
    data = _model_zip()
    server.files[f"{NAME}.zip"] = data
    models = tmp_path / "models"
    path = download_model(_spec(data), models, server.base_url, progress=True)
    assert path == models / NAME and (path / "am" / "final.mdl").exists()
    assert _leftovers(models) == [] and not (models / ".download").exists(), "nothing left behind"
    assert find_vosk_model(None, models) is not None
    assert download_model(_spec(data), models, server.base_url, progress=False) == path, "twice is fine"


def test_a_corrupt_archive_is_deleted_and_never_looks_like_a_model(server: Server, tmp_path: Path) -> None:
    data = _model_zip()
    server.files[f"{NAME}.zip"] = data[:-10] + b"0123456789"  # same size, wrong bytes
    models = tmp_path / "models"
    with pytest.raises(ModelError, match="corrupt") as err:
        download_model(_spec(data), models, server.base_url, progress=False)
    assert "\n" not in err.value.message
    assert not (models / NAME).exists() and _leftovers(models) == []
    assert not (models / ".download").exists(), "the bad archive is gone, so the next try starts afresh"


def test_an_interrupted_download_resumes_where_it_stopped(server: Server, tmp_path: Path) -> None:
    data = _model_zip()
    server.files[f"{NAME}.zip"] = data
    server.cut_after = len(data) // 3
    models = tmp_path / "models"
    with pytest.raises(ModelError, match="run the same command again to resume"):
        download_model(_spec(data), models, server.base_url, progress=False)
    assert not (models / NAME).exists()
    part = models / ".download" / f"{NAME}.zip.part"
    assert part.stat().st_size == len(data) // 3
    path = download_model(_spec(data), models, server.base_url, progress=False)
    assert server.ranges == [f"bytes={len(data) // 3}-"], "only the missing part was asked for"
    assert (path / "conf" / "model.conf").exists() and not part.exists()


@pytest.mark.parametrize("hostile", [
    {"extra": {"../escaped.txt": b"x"}},
    {"extra": {f"{NAME}/../../escaped.txt": b"x"}},
    {"extra": {"/tmp/escaped-absolute.txt": b"x"}},
    {"extra": {"other-folder/file.txt": b"x"}},
    {"symlink": f"{NAME}/graph/link"},
], ids=["parent", "nested-parent", "absolute", "outside-the-model-folder", "symlink"])
def test_an_archive_with_paths_escaping_the_folder_is_refused(server: Server, tmp_path: Path,
                                                             hostile: dict[str, object]) -> None:
    data = _model_zip(**hostile)  # type: ignore[arg-type]
    server.files[f"{NAME}.zip"] = data
    models = tmp_path / "deep" / "models"
    with pytest.raises(ModelError, match="unsafe path"):
        download_model(_spec(data), models, server.base_url, progress=False)
    assert not (models / NAME).exists() and _leftovers(models) == []
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "deep" / "escaped.txt").exists()
    assert not Path("/tmp/escaped-absolute.txt").exists()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_no_network_is_one_sentence_and_auto_keeps_pocketsphinx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """Offline: the download says what to do, and --engine auto still listens, with PocketSphinx."""
    monkeypatch.chdir(tmp_path)
    status = main(["model", "download", "--base-url", f"http://127.0.0.1:{_closed_port()}/models"])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert err.count("\n") == 0 and "Cannot download the model" in err and "--engine pocketsphinx" in err
    choice = choose_engine("auto")
    assert choice.engine == "pocketsphinx" and "no Vosk model found" in choice.reason
    assert not (tmp_path / "models" / "vosk-model-small-en-us-0.15").exists()


def test_auto_prefers_a_vosk_model_and_says_where_it_was_found(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    model = tmp_path / "somewhere" / "my-model"
    for sub in ("am", "conf"):
        (model / sub).mkdir(parents=True)
    monkeypatch.setenv("VOSK_MODEL_PATH", str(model))
    choice = choose_engine("auto", models_dir=tmp_path / "models")
    assert (choice.engine, choice.model) == ("vosk", model)
    assert "my-model" in choice.reason and "$VOSK_MODEL_PATH" in choice.reason
    explicit = choose_engine("auto", model, models_dir=tmp_path / "models")
    assert "--model" in explicit.reason


def test_asking_for_vosk_without_a_model_says_how_to_get_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    wav = tmp_path / "x.wav"
    wav.write_bytes(b"RIFF\x26\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80>\x00\x00\x00}\x00\x00"
                    b"\x02\x00\x10\x00data\x02\x00\x00\x00\x00\x00")
    assert main(["recognize", str(wav), "--engine", "vosk"]) == 2
    assert "run: assistant model download" in capsys.readouterr().err


# ---------------------------------------------------------------- hostile servers, folders and addresses


def _download_in_time(spec: ModelSpec, models: Path, base_url: str, limits: DownloadLimits) -> BaseException:
    """Run the download on a thread; it must end (with an error) long before the test gives up."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            download_model(spec, models, base_url, progress=False, limits=limits)
        except BaseException as err:  # noqa: BLE001  (handed to the test)
            failures.append(err)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(60.0)
    assert not worker.is_alive(), "the download never ended"
    assert failures, "the download did not fail"
    return failures[0]


@pytest.mark.parametrize("limits", [DownloadLimits(min_rate_bytes_s=1_000, rate_window_s=0.5),
                                    DownloadLimits(budget_s=0.5)], ids=["minimum-rate", "time-budget"])
def test_a_server_that_trickles_one_byte_at_a_time_is_given_up_and_the_download_resumes_later(
        server: Server, tmp_path: Path, limits: DownloadLimits) -> None:
    """One byte every 0.05 s never trips a per-read timeout; the rate and the budget do."""
    data = _model_zip()
    server.files[f"{NAME}.zip"] = data
    server.trickle_s = 0.05
    models = tmp_path / "models"
    error = _download_in_time(_spec(data), models, server.base_url, limits)
    assert isinstance(error, ModelError) and "too slow" in error.message and "resumes" in error.message
    kept = (models / ".download" / f"{NAME}.zip.part").stat().st_size
    assert 0 < kept < len(data), "what arrived is kept, to resume from"
    server.trickle_s = None
    path = download_model(_spec(data), models, server.base_url, progress=False)
    assert server.ranges == [f"bytes={kept}-"] and (path / "am" / "final.mdl").exists()


def test_a_stream_with_no_length_that_goes_on_past_the_size_is_cut_at_the_size(server: Server,
                                                                               tmp_path: Path) -> None:
    """The partial file never grows past the expected size (it grew past 67 MB for a 41 MB model)."""
    data = _model_zip()
    server.files[f"{NAME}.zip"] = data * 3
    server.no_length = True
    models = tmp_path / "models"
    with pytest.raises(ModelError, match="sends more than") as err:
        download_model(_spec(data), models, server.base_url, progress=False)
    assert "\n" not in err.value.message
    assert not (models / ".download").exists() or list((models / ".download").iterdir()) == []


def test_a_whole_file_of_the_wrong_size_is_called_wrong_at_once(server: Server, tmp_path: Path) -> None:
    """The server says the file is half the size: that is not the model, not a download to resume."""
    data = _model_zip(extra={f"{NAME}/graph/HCLG.fst": bytes(range(256)) * 64})
    half = len(data) // 2
    server.files[f"{NAME}.zip"] = data[:half]
    models = tmp_path / "models"
    with pytest.raises(ModelError) as err:
        download_model(_spec(data), models, server.base_url, progress=False)
    assert f"offers {half:,} bytes for {NAME}.zip, not the {len(data):,} expected" in err.value.message
    assert "resume" not in err.value.message
    assert not (models / ".download").exists() or list((models / ".download").iterdir()) == []


def test_an_archive_that_unpacks_to_far_more_than_a_model_is_refused_and_removed(server: Server,
                                                                                  tmp_path: Path) -> None:
    """A 90 KB zip that would become 94 MB: not unpacked, and not left in .download/ either."""
    data = _model_zip(extra={f"{NAME}/graph/HCLG.fst": b"\0" * 94_000_000})
    assert len(data) < 200_000
    server.files[f"{NAME}.zip"] = data
    models = tmp_path / "models"
    with pytest.raises(ModelError, match="would unpack to 94,0"):
        download_model(_spec(data, unpacked=60_000), models, server.base_url, progress=False)
    assert not (models / NAME).exists() and _leftovers(models) == []
    assert not (models / ".download").exists(), "a refused archive is not kept"


def test_a_refused_archive_leaves_nothing_to_resume(server: Server, tmp_path: Path) -> None:
    data = _model_zip(extra={"../escaped.txt": b"x"})
    server.files[f"{NAME}.zip"] = data
    models = tmp_path / "models"
    with pytest.raises(ModelError, match="unsafe path"):
        download_model(_spec(data), models, server.base_url, progress=False)
    assert not (models / ".download").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--dir", "/proc/nope"], "Cannot keep models in /proc/nope"),
    (["--dir", "{file}"], "Cannot keep models in {file}"),
    (["--base-url", "not-a-url"], "--base-url must be an http:// or https:// address"),
    (["--base-url", "ftp://127.0.0.1/models"], "--base-url must be an http:// or https:// address"),
], ids=["proc", "a-file", "not-a-url", "ftp"])
def test_a_bad_folder_or_address_for_the_download_is_one_line_and_exit_2(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        args: list[str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    args = [a.replace("{file}", str(a_file)) for a in args]
    assert main(["model", "download", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message.replace("{file}", str(a_file)) in err, err


def test_a_bad_address_in_the_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MATCOACH_MODEL_URL", "127.0.0.1:8000")
    assert main(["model", "download"]) == 2
    assert "$MATCOACH_MODEL_URL must be an http:// or https:// address" in capsys.readouterr().err
