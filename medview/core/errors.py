"""Errors a user can cause: each message says which file or input is wrong and what to do."""

from __future__ import annotations

from pathlib import Path


class MedviewError(Exception):
    """Base of every error that is shown to the user as a message rather than a traceback."""


class InputError(MedviewError):
    """A file or argument the user gave cannot be used; ``path`` names it when there is one."""

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = None if path is None else Path(path)
        super().__init__(f"{self.path}: {message}" if self.path is not None else message)
