"""Files a person names. Inputs (a routine, a script, a WAV) must be regular files of a sane
size, and text is UTF-8, with the line of any fault; an output is checked before the work that
fills it begins.

A pipe, a device or a folder given by mistake would otherwise block for ever (a FIFO waits
for a writer) or fill the memory (/dev/zero); each is refused in one sentence instead.
"""

from __future__ import annotations

import stat
from pathlib import Path

from assistant.errors import MatCoachError, UsageError

TEXT_LIMIT_BYTES = 1 << 20
"""A routine or script is a few kilobytes; a megabyte is surely something else."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _size(n: int) -> str:
    return f"{n / (1 << 30):.1f} GB" if n >= 1 << 30 else f"{n / (1 << 20):.1f} MB" if n >= 1 << 20 else f"{n:,} bytes"


def read_regular_file(path: Path, what: str, error: type[MatCoachError], limit_bytes: int) -> bytes:
    """The bytes of `path`; `error` (one sentence naming `what`) when it cannot be one of those.

    Missing files are the caller's to word (it knows what else the name could mean).
    """
    try:
        info = path.stat()
    except OSError as err:
        raise error("file-unreadable", f"Cannot read the {what} {path} ({err.strerror}); check the path.") from err
    if not stat.S_ISREG(info.st_mode):
        raise error("not-a-file", f"The {what} {path} is {_kind(info.st_mode)}, not a file; give the path of a "
                    f"{what}.")
    if info.st_size > limit_bytes:
        raise error("file-too-big", f"The {what} {path} is {_size(info.st_size)}, more than a {what} can be "
                    f"({_size(limit_bytes)} at most).")
    try:
        with path.open("rb") as file:
            data = file.read(limit_bytes + 1)  # a file still growing is not read for ever either
    except OSError as err:
        raise error("file-unreadable", f"Cannot read the {what} {path} ({err.strerror}).") from err
    if len(data) > limit_bytes:
        raise error("file-too-big", f"The {what} {path} is more than a {what} can be ({_size(limit_bytes)} at most).")
    return data


def decode_text(data: bytes, origin: str, error: type[MatCoachError]) -> str:
    """UTF-8 text, a byte-order mark kept as its first character (Notepad writes one).

    Text that is not UTF-8 is named by line and column, not by byte offset.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = len(data[data.rfind(b"\n", 0, err.start) + 1:err.start].decode("utf-8", "replace")) + 1
        raise error("not-utf8", f"{origin}, line {line}, column {column}: this is not UTF-8 text (byte "
                    f"0x{data[err.start]:02x}); save the file as UTF-8.") from err


def check_output(path: Path, option: str) -> None:
    """Fail now, in one sentence, when `path` cannot be written (rather than after the work):
    its folder is made if missing, and a file there must be creatable."""
    existed = path.exists()
    try:
        if path.is_dir():
            raise IsADirectoryError(21, "Is a directory")
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab"):
            pass
    except OSError as err:
        raise UsageError("bad-output", f"Cannot write {path} ({err.strerror}); choose another {option}.") from err
    if not existed:
        path.unlink()
