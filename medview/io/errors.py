"""The one error type of scan reading: its message names the file and what is wrong with it."""

from __future__ import annotations

from medview.core.errors import InputError


class ScanError(InputError):
    """A scan file or folder cannot be opened as a valid image; nothing of it is shown."""
