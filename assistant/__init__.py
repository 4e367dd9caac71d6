"""Mat Coach: a hands-free voice coach for lower-back exercises on a mat."""

from typing import Any


def __getattr__(name: str) -> Any:
    # Looked up on first use, not at import: the entry point must get to its signal
    # handlers quickly, and importlib.metadata is slow to import.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("mat-coach")
        except PackageNotFoundError:  # running from a source tree that was never installed
            return "0.0.0"
    raise AttributeError(f"module 'assistant' has no attribute {name!r}")
