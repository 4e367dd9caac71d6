"""Keep alsa-lib's own messages ("underrun occurred") off the user's terminal."""

from __future__ import annotations

import ctypes
import sys
from typing import Any

_handler: Any = None
"""The installed callback; kept referenced so it is never freed while ALSA may call it."""


def quiet_alsa() -> None:
    """Route alsa-lib's error printing to a no-op. Harmless where there is no ALSA (not Linux)."""
    global _handler
    if _handler is not None or not sys.platform.startswith("linux"):
        return
    try:
        lib = ctypes.cdll.LoadLibrary("libasound.so.2")
    except OSError:
        return
    prototype = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                                 ctypes.c_char_p)
    _handler = prototype(lambda *_args: None)
    lib.snd_lib_error_set_handler(_handler)
