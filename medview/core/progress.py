"""Progress reporting and cancellation for long work, with no dependency on any GUI toolkit.

Long functions take ``progress: ProgressCallback`` and ``cancel: CancelToken``; the Qt layer runs
them in a worker and forwards progress to a bar, tests call them directly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

ProgressCallback = Callable[[float, str], None]
"""Called with the fraction done (0..1) and a short message for the user."""


class Cancelled(Exception):
    """Raised inside long work when its :class:`CancelToken` was cancelled."""


class CancelToken:
    """A thread-safe flag that the GUI sets and the worker checks between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled by the user")


def no_progress(fraction: float, message: str) -> None:
    """A progress callback that ignores what it is told."""


def scaled(progress: ProgressCallback, start: float, stop: float) -> ProgressCallback:
    """A callback that maps ``0..1`` of a sub-task onto ``start..stop`` of its parent."""

    def report(fraction: float, message: str) -> None:
        progress(start + (stop - start) * min(max(fraction, 0.0), 1.0), message)

    return report
