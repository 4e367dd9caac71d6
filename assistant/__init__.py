"""Mat Coach: a hands-free voice coach for lower-back exercises on a mat."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mat-coach")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
