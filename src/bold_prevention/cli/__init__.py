"""Command-line interface. Importing this package registers every command group on :data:`app`."""

from .app import app

# Each module below registers its commands on ``app`` when imported.
from . import synth as _synth  # noqa: E402,F401

__all__ = ["app"]
