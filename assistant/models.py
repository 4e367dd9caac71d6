"""Speech models: where a Vosk model is found, and downloading one safely.

A download goes to `<models>/.download/NAME.zip.part`, resumes from there with an HTTP Range
request, is checked against the catalog's size and MD5, and is unpacked into a temporary
folder that is renamed into place only when complete: a broken download never leaves a
half model that looks whole.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Final
from urllib.parse import urlsplit

from assistant.errors import ModelError

_LOGGER = logging.getLogger(__name__)

BASE_URL: Final = "https://alphacephei.com/vosk/models"
BASE_URL_ENV: Final = "MATCOACH_MODEL_URL"
"""Overrides BASE_URL (a mirror, or a local server in tests)."""
MODEL_PATH_ENV: Final = "VOSK_MODEL_PATH"
DEFAULT_MODEL: Final = "vosk-model-small-en-us-0.15"
_CHUNK_BYTES: Final = 1 << 16
_TIMEOUT_S: Final = 30.0


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A downloadable model archive, as the Vosk server's model-list.json describes it."""

    name: str
    """Archive and folder name (the zip holds one folder of this name)."""
    size_bytes: int
    md5: str
    about: str = ""

    def url(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/{self.name}.zip"


CATALOG: Final = {
    spec.name: spec
    for spec in (
        ModelSpec(DEFAULT_MODEL, 41_205_931, "09ab50ccd62b674cbaa231b825f9c1cb",
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


def _no_network(url: str, err: BaseException) -> ModelError:
    host = urlsplit(url).netloc or url
    return ModelError(
        "model-download",
        f"Cannot download the model from {host} ({getattr(err, 'reason', err)}); check the internet "
        "connection and try again (it resumes), or keep using the bundled engine: --engine pocketsphinx",
    )


def _fetch(url: str, part: Path, total: int, progress: bool) -> None:
    """Bring `part` up to `total` bytes, resuming from what it already holds."""
    from tqdm import tqdm

    have = part.stat().st_size if part.exists() else 0
    if have > total:
        part.unlink()
        have = 0
    if have == total:
        return
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=_TIMEOUT_S)
    except urllib.error.HTTPError as err:
        if err.code == 416:  # the server thinks we have it all; the checksum will tell
            return
        raise ModelError("model-download", f"The model server answered {err.code} {err.reason} for {url}; "
                         "check the model name with: assistant model list") from err
    except (urllib.error.URLError, OSError) as err:
        raise _no_network(url, err) from err
    with response:
        if have and response.status != 206:
            _LOGGER.info("The server cannot resume; downloading from the start.")
            have = 0
        mode = "ab" if have else "wb"
        with part.open(mode) as out, tqdm(total=total, initial=have, unit="B", unit_scale=True,
                                          unit_divisor=1024, desc=part.name.removesuffix(".zip.part"),
                                          disable=not progress) as bar:
            try:
                while chunk := response.read(_CHUNK_BYTES):
                    out.write(chunk)
                    bar.update(len(chunk))
            except (OSError, http.client.HTTPException) as err:  # reset, timeout, IncompleteRead
                raise _interrupted(part, total) from err
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


def _safe_members(archive: zipfile.ZipFile, name: str) -> list[zipfile.ZipInfo]:
    """Every member, refusing any that would land outside the model folder (or is a link)."""
    members = archive.infolist()
    for info in members:
        path = PurePosixPath(info.filename.replace("\\", "/"))
        mode = info.external_attr >> 16
        if (path.is_absolute() or ".." in path.parts or not path.parts or path.parts[0] != name
                or ":" in path.parts[0] or (mode & 0o170000) == 0o120000):
            raise ModelError("model-archive",
                             f"The archive {name}.zip holds an unsafe path '{info.filename}'; it was not "
                             "unpacked. Download it again from the official server.")
    return members


def _extract(zip_path: Path, name: str, models_dir: Path) -> Path:
    """Unpack into a temporary folder beside the target, then rename: all or nothing."""
    target = models_dir / name
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=models_dir))
    try:
        try:
            with zipfile.ZipFile(zip_path) as archive:
                for info in _safe_members(archive, name):
                    archive.extract(info, staging)
        except zipfile.BadZipFile as err:
            raise ModelError("model-archive", f"{zip_path.name} is not a valid zip archive; delete it and "
                             "download again.") from err
        unpacked = staging / name
        if not looks_like_vosk_model(unpacked):
            raise ModelError("model-archive", f"{name}.zip does not hold a Vosk model (no {name}/am and "
                             f"{name}/conf); nothing was installed.")
        os.replace(unpacked, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def download_model(spec: ModelSpec, models_dir: Path = Path("models"), base_url: str | None = None,
                   progress: bool = True) -> Path:
    """Download, verify and unpack `spec` into `models_dir`; return the model folder."""
    target = models_dir / spec.name
    if looks_like_vosk_model(target):
        _LOGGER.info("%s is already in %s", spec.name, models_dir)
        return target
    base = base_url or os.environ.get(BASE_URL_ENV) or BASE_URL
    downloads = models_dir / ".download"
    downloads.mkdir(parents=True, exist_ok=True)
    part = downloads / f"{spec.name}.zip.part"
    try:
        _fetch(spec.url(base), part, spec.size_bytes, progress)
    except ModelError:
        if not any(downloads.iterdir()):  # nothing to resume: leave no trace
            downloads.rmdir()
        raise
    if part.stat().st_size != spec.size_bytes or _md5(part) != spec.md5:
        part.unlink()
        raise ModelError("model-checksum",
                         f"The downloaded {spec.name}.zip is corrupt (size or MD5 does not match); it was "
                         "deleted. Run the same command again to download it afresh.")
    if target.exists():  # a leftover that is not a whole model (e.g. unpacked by hand, then cut short)
        shutil.rmtree(target)
    path = _extract(part, spec.name, models_dir)
    part.unlink()
    _LOGGER.info("Installed %s in %s", spec.name, path)
    return path


def spec_for(name: str) -> ModelSpec:
    if name not in CATALOG:
        raise ModelError("model-unknown",
                         f"No model called '{name}' in the catalog; known: {', '.join(CATALOG)} "
                         "(others can be unpacked into models/ by hand).")
    return CATALOG[name]
