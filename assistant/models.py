"""Speech models: where a Vosk model is found, and downloading one safely.

A download goes to `<models>/.download/NAME.zip.part`, resumes from there with an HTTP Range
request, is checked against the catalog's size and MD5, and is unpacked into a temporary
folder that is renamed into place only when complete: a broken download never leaves a
half model that looks whole.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections import deque
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, Final
from urllib.parse import urlsplit

from assistant.errors import ModelError, UsageError

_LOGGER = logging.getLogger(__name__)

BASE_URL: Final = "https://alphacephei.com/vosk/models"
BASE_URL_ENV: Final = "MATCOACH_MODEL_URL"
"""Overrides BASE_URL (a mirror, or a local server in tests)."""
MODEL_PATH_ENV: Final = "VOSK_MODEL_PATH"
DEFAULT_MODEL: Final = "vosk-model-small-en-us-0.15"
_CHUNK_BYTES: Final = 1 << 16
_MAX_MEMBERS: Final = 10_000


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A downloadable model archive, as the Vosk server's model-list.json describes it."""

    name: str
    """Archive and folder name (the zip holds one folder of this name)."""
    size_bytes: int
    md5: str
    unpacked_bytes: int
    """About how much it unpacks to."""
    about: str = ""

    @property
    def unpacked_limit_bytes(self) -> int:
        """Most the archive may unpack to; more is refused (a zip bomb, or not this model)."""
        return int(self.unpacked_bytes * 1.5)

    def url(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/{self.name}.zip"


CATALOG: Final = {
    spec.name: spec
    for spec in (
        ModelSpec(DEFAULT_MODEL, 41_205_931, "09ab50ccd62b674cbaa231b825f9c1cb", 68_000_000,
                  "English, small (40 MB download, 68 MB on disk); runtime grammar"),
    )
}


def user_models_dir() -> Path:
    """The user's cache folder for models (e.g. ~/.cache/mat-coach/models on Linux)."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("mat-coach")) / "models"


def looks_like_vosk_model(folder: Path) -> bool:
    return (folder / "am").is_dir() and (folder / "conf").is_dir()


@dataclass(frozen=True, slots=True)
class FoundModel:
    """A Vosk model folder and why it was chosen."""

    path: Path
    where: str
    """Human words: "--model", "$VOSK_MODEL_PATH", "./models", "the user cache"."""


def _first_model_in(folder: Path) -> Path | None:
    if looks_like_vosk_model(folder):
        return folder
    if not folder.is_dir():
        return None
    found = sorted(p for p in folder.iterdir() if p.is_dir() and looks_like_vosk_model(p))
    preferred = [p for p in found if p.name == DEFAULT_MODEL]
    return (preferred or found)[0] if found else None


def find_vosk_model(explicit: Path | None = None, models_dir: Path = Path("models")) -> FoundModel | None:
    """The Vosk model to use: --model, $VOSK_MODEL_PATH, ./models/, then the user cache."""
    if explicit is not None:
        if not looks_like_vosk_model(explicit):
            raise ModelError("model-invalid",
                             f"--model {explicit} is not a Vosk model folder (it needs am/ and conf/ inside); "
                             "run: assistant model download")
        return FoundModel(explicit, "--model")
    env = os.environ.get(MODEL_PATH_ENV)
    if env:
        path = _first_model_in(Path(env))
        if path is None:
            raise ModelError("model-invalid",
                             f"${MODEL_PATH_ENV}={env} holds no Vosk model; fix it, or unset it "
                             "and run: assistant model download")
        return FoundModel(path, f"${MODEL_PATH_ENV}")
    for folder, where in ((models_dir, f"./{models_dir}"), (user_models_dir(), "the user cache")):
        path = _first_model_in(folder)
        if path is not None:
            return FoundModel(path, where)
    return None


def installed_models(models_dir: Path = Path("models")) -> list[Path]:
    """Every Vosk model folder in ./models and the user cache."""
    found: list[Path] = []
    for folder in (models_dir, user_models_dir()):
        if folder.is_dir():
            found += sorted(p for p in folder.iterdir() if p.is_dir() and looks_like_vosk_model(p))
    return found


# ---------------------------------------------------------------- download


@dataclass(frozen=True, slots=True)
class DownloadLimits:
    """When a download is given up (it resumes from where it stopped when run again)."""

    read_timeout_s: float = 30.0
    """A server silent this long, in one read, has gone."""
    min_rate_bytes_s: float = 8 * 1024
    """Slower than this on average over `rate_window_s`, the download is too slow to wait for."""
    rate_window_s: float = 60.0
    budget_s: float = 3 * 3600.0
    """The whole download, however it trickles in: at most this long."""


def check_base_url(url: str, where: str = "--base-url") -> str:
    """`url` if it is an http(s) address; UsageError naming `where` otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError("usage", f"{where} must be an http:// or https:// address, such as {BASE_URL}; "
                         f"not '{url}'.")
    return url


def _no_network(url: str, err: BaseException) -> ModelError:
    host = urlsplit(url).netloc or url
    return ModelError(
        "model-download",
        f"Cannot download the model from {host} ({getattr(err, 'reason', err)}); check the internet "
        "connection and try again (it resumes), or keep using the bundled engine: --engine pocketsphinx",
    )


def _wrong_size(name: str, offered: int, total: int) -> ModelError:
    return ModelError("model-size", f"The server offers {offered:,} bytes for {name}.zip, not the {total:,} "
                      "expected: it is not the model this Mat Coach knows, so nothing was kept. Check "
                      "--base-url (or $MATCOACH_MODEL_URL).")


def _offered_size(response: http.client.HTTPResponse, have: int) -> int | None:
    """The size of the whole file, as the response's headers give it (None: not said)."""
    content_range = response.headers.get("Content-Range", "")
    if response.status == 206 and "/" in content_range:
        whole = content_range.rsplit("/", 1)[1].strip()
        if whole.isdigit():
            return int(whole)
    length = response.headers.get("Content-Length", "")
    if length.strip().isdigit():
        return int(length) + (have if response.status == 206 else 0)
    return None


def _fetch(url: str, part: Path, spec: ModelSpec, progress: bool, limits: DownloadLimits) -> None:
    """Bring `part` up to the model's size, resuming from what it already holds."""
    from tqdm import tqdm

    total = spec.size_bytes
    have = part.stat().st_size if part.exists() else 0
    if have > total:
        part.unlink()
        have = 0
    if have == total:
        return
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=limits.read_timeout_s)
    except urllib.error.HTTPError as err:
        if err.code == 416:  # the server thinks we have it all; the checksum will tell
            return
        raise ModelError("model-download", f"The model server answered {err.code} {err.reason} for {url}; "
                         "check the model name with: assistant model list") from err
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        raise _no_network(url, err) from err
    with response:
        if have and response.status != 206:
            _LOGGER.info("The server cannot resume; downloading from the start.")
            have = 0
        offered = _offered_size(response, have)
        if offered is not None and offered != total:  # said outright: no need to fetch it to know
            if have == 0 and part.exists():
                part.unlink()
            raise _wrong_size(spec.name, offered, total)
        try:
            out = part.open("ab" if have else "wb")
        except OSError as err:
            raise ModelError("model-disk", f"Cannot write {part} ({err.strerror}); choose another folder with "
                             "--dir.") from err
        with out, tqdm(total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024, desc=spec.name,
                       disable=not progress) as bar:
            _copy(response, out, bar, have, spec, part, limits)


def _copy(response: http.client.HTTPResponse, out: IO[Any], bar: Any, have: int, spec: ModelSpec,
          part: Path, limits: DownloadLimits) -> None:
    """Response body into `out`, within the limits, never past the expected size."""
    total = spec.size_bytes
    started = time.monotonic()
    window: deque[tuple[float, int]] = deque([(started, have)])
    while True:
        try:
            # read1: whatever has arrived (up to the size), so the limits are checked as bytes trickle in
            chunk = response.read1(min(_CHUNK_BYTES, total - have + 1))
        except (OSError, http.client.HTTPException) as err:  # reset, timeout, IncompleteRead
            raise _interrupted(part, total) from err
        if not chunk:
            break
        if have + len(chunk) > total:
            out.close()
            part.unlink()
            raise ModelError("model-size", f"The server sends more than the {total:,} bytes of {spec.name}.zip: "
                             "it is not the model this Mat Coach knows, so nothing was kept. Check --base-url "
                             "(or $MATCOACH_MODEL_URL).")
        try:
            out.write(chunk)
        except OSError as err:
            raise ModelError("model-disk", f"Cannot write {part} ({err.strerror}); free some space or choose "
                             "another folder with --dir, then run the same command again (it resumes).") from err
        have += len(chunk)
        bar.update(len(chunk))
        now = time.monotonic()
        window.append((now, have))
        while len(window) > 2 and now - window[1][0] >= limits.rate_window_s:
            window.popleft()
        span = now - window[0][0]
        too_slow = span >= limits.rate_window_s and (have - window[0][1]) / span < limits.min_rate_bytes_s
        if too_slow or now - started > limits.budget_s:
            rate = (have - window[0][1]) / max(span, 1e-9)
            out.flush()
            raise ModelError("model-slow", f"The download is too slow ({rate / 1024:.1f} KB/s, stopped at "
                             f"{have:,} of {total:,} bytes); try again later: it resumes where it stopped.")
    out.flush()
    if part.stat().st_size < total:
        raise _interrupted(part, total)


def _interrupted(part: Path, total: int) -> ModelError:
    got = part.stat().st_size if part.exists() else 0
    return ModelError("model-download",
                      f"The download stopped at {got:,} of {total:,} bytes; run the same command again "
                      "to resume it.")


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _safe_members(archive: zipfile.ZipFile, spec: ModelSpec) -> list[zipfile.ZipInfo]:
    """Every member, refusing any that would land outside the model folder (or is a link), and
    an archive that would unpack to more than the model can be."""
    name = spec.name
    members = archive.infolist()
    for info in members:
        path = PurePosixPath(info.filename.replace("\\", "/"))
        mode = info.external_attr >> 16
        if (path.is_absolute() or ".." in path.parts or not path.parts or path.parts[0] != name
                or ":" in path.parts[0] or (mode & 0o170000) == 0o120000):
            raise ModelError("model-archive",
                             f"The archive {name}.zip holds an unsafe path '{info.filename}'; it was not "
                             "unpacked. Download it again from the official server.")
    unpacked = sum(info.file_size for info in members)
    if unpacked > spec.unpacked_limit_bytes or len(members) > _MAX_MEMBERS:
        raise ModelError("model-archive",
                         f"The archive {name}.zip would unpack to {unpacked:,} bytes in {len(members):,} files, "
                         f"far more than the model is ({spec.unpacked_limit_bytes:,} bytes at most); it was "
                         "not unpacked. Download it again from the official server.")
    return members


def _extract(zip_path: Path, spec: ModelSpec, models_dir: Path) -> Path:
    """Unpack into a temporary folder beside the target, then rename: all or nothing."""
    name = spec.name
    target = models_dir / name
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=models_dir))
    except OSError as err:
        raise ModelError("model-disk", f"Cannot unpack the model into {models_dir} ({err.strerror}); free "
                         "some space or choose another folder with --dir.") from err
    try:
        try:
            with zipfile.ZipFile(zip_path) as archive:
                for info in _safe_members(archive, spec):
                    archive.extract(info, staging)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as err:
            raise ModelError("model-archive", f"{zip_path.name} is not a valid zip archive; it was deleted, "
                             "so run the same command to download it again.") from err
        except OSError as err:
            raise ModelError("model-disk", f"Cannot unpack the model into {models_dir} ({err.strerror}); free "
                             "some space or choose another folder with --dir.") from err
        unpacked = staging / name
        if not looks_like_vosk_model(unpacked):
            raise ModelError("model-archive", f"{name}.zip does not hold a Vosk model (no {name}/am and "
                             f"{name}/conf); nothing was installed.")
        os.replace(unpacked, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _download_folder(models_dir: Path) -> Path:
    downloads = models_dir / ".download"
    try:
        downloads.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ModelError("model-dir", f"Cannot keep models in {models_dir} ({err.strerror or err}); choose "
                         "another folder with --dir.") from err
    return downloads


def _tidy(downloads: Path) -> None:
    """Remove the download folder when nothing is left to resume."""
    try:
        if not any(downloads.iterdir()):
            downloads.rmdir()
    except OSError:
        pass


def download_model(spec: ModelSpec, models_dir: Path = Path("models"), base_url: str | None = None,
                   progress: bool = True, limits: DownloadLimits | None = None) -> Path:
    """Download, verify and unpack `spec` into `models_dir`; return the model folder."""
    limits = limits or DownloadLimits()
    target = models_dir / spec.name
    if looks_like_vosk_model(target):
        _LOGGER.info("%s is already in %s", spec.name, models_dir)
        return target
    base = _base_url(base_url)
    downloads = _download_folder(models_dir)
    part = downloads / f"{spec.name}.zip.part"
    try:
        _fetch(spec.url(base), part, spec, progress, limits)
    except ModelError:
        _tidy(downloads)
        raise
    if part.stat().st_size != spec.size_bytes or _md5(part) != spec.md5:
        part.unlink()
        _tidy(downloads)
        raise ModelError("model-checksum",
                         f"The downloaded {spec.name}.zip is corrupt (size or MD5 does not match); it was "
                         "deleted. Run the same command again to download it afresh.")
    if target.exists():  # a leftover that is not a whole model (e.g. unpacked by hand, then cut short)
        shutil.rmtree(target)
    try:
        path = _extract(part, spec, models_dir)
    except ModelError as err:
        if err.code == "model-archive":  # a refused archive is of no use: nothing is left behind
            part.unlink()
            _tidy(downloads)
        raise
    part.unlink()
    _tidy(downloads)
    _LOGGER.info("Installed %s in %s", spec.name, path)
    return path


MODEL_LIST: Final = "model-list.json"
"""The Vosk server's list of its models (name, url, size, md5), beside the archives."""
_LIST_LIMIT_BYTES: Final = 4 << 20
_LISTED_UNPACK_RATIO: Final = 3
"""A listed model has no unpacked size: allow this many times its download (Vosk zips hold
already-compressed files, about 1.1-1.7x)."""


def spec_for(name: str, base_url: str | None = None) -> ModelSpec:
    """The model called `name`: from the catalog, or from the server's model list.

    The catalog's size and checksum are ours and win; any other model of the server's list
    (another language, a bigger English one) is checked against the list's.
    """
    if name in CATALOG:
        return CATALOG[name]
    base = _base_url(base_url)
    url = f"{base.rstrip('/')}/{MODEL_LIST}"
    try:
        with urllib.request.urlopen(url, timeout=DownloadLimits().read_timeout_s) as response:
            data = response.read(_LIST_LIMIT_BYTES + 1)
    except urllib.error.HTTPError as err:
        raise ModelError("model-unknown", f"No model called '{name}' in the catalog ({', '.join(CATALOG)}), "
                         f"and the server has no model list ({err.code} {err.reason}).") from err
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        raise _no_network(url, err) from err
    try:
        listed = json.loads(data[:_LIST_LIMIT_BYTES].decode("utf-8"))
        entries = [e for e in listed if isinstance(e, dict) and e.get("name") == name]
    except (ValueError, TypeError) as err:
        raise ModelError("model-unknown", f"The server's model list cannot be read ({err}); download '{name}' "
                         "by hand and unpack it into models/.") from err
    if not entries:
        raise ModelError("model-unknown", f"No model called '{name}' in the catalog ({', '.join(CATALOG)}) "
                         "or in the server's list; see: assistant model list")
    try:
        size, md5 = int(entries[0]["size"]), str(entries[0]["md5"])
    except (KeyError, ValueError, TypeError) as err:
        raise ModelError("model-unknown", f"The server's model list has no size or md5 for '{name}' ({err}); "
                         "download it by hand and unpack it into models/.") from err
    return ModelSpec(name, size, md5, size * _LISTED_UNPACK_RATIO, "listed by the server")


def _base_url(base_url: str | None) -> str:
    if base_url is not None:
        return check_base_url(base_url)
    if os.environ.get(BASE_URL_ENV):
        return check_base_url(os.environ[BASE_URL_ENV], f"${BASE_URL_ENV}")
    return BASE_URL
