"""Errors a user can cause. Each says what was wrong (naming the file, table or column) and what to do."""

from __future__ import annotations


class BoldError(Exception):
    """Base class for errors shown to users as a message (no traceback) by the CLI and web app."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  What to do: {self.hint}" if self.hint else self.message


class InputError(BoldError):
    """Bad input: a file, table, column, parameter or configuration the user supplied."""


class OutputExistsError(BoldError):
    """An output path exists and ``overwrite`` was not given."""


class DisclosureError(BoldError):
    """An attempt to release an output that has not passed disclosure control."""


class LoadBlocked(BoldError):
    """A load was blocked by the failure policy; nothing was committed."""
