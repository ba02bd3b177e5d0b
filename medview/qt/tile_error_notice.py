"""Tells the user when tiles of the open slide cannot be decoded, without closing the slide.

Tiles are decoded on dask's threads when napari first shows them; the reader draws a grey checker
where a tile failed and records the error (:class:`medview.io.tile_errors.TileErrors`). This object
carries each error to the GUI thread: the first of a slide opens a dialog naming the file, every one
goes to the status line.
"""

from __future__ import annotations

from collections.abc import Callable

from qtpy.QtCore import QObject, Signal

from medview.core.scan import Scan

TILE_ERRORS_KEY = "tile_errors"


class TileErrorNotice(QObject):
    """Watches the open scan's tile errors; ``show_error(title, text)`` and ``status(text)`` tell them."""

    reported = Signal(str)

    def __init__(self, show_error: Callable[[str, str], None], status: Callable[[str], None]) -> None:
        super().__init__()
        self._show_error, self._status = show_error, status
        self._unsubscribe: Callable[[], None] | None = None
        self._told = False
        self.reported.connect(self._tell)  # queued when emitted from a reading thread

    def watch(self, scan: Scan | None) -> None:
        """Follow ``scan``'s tile errors (none for other scans), forgetting the previous scan's."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._told = False
        errors = scan.metadata.get(TILE_ERRORS_KEY) if scan is not None else None
        if errors is None:
            return
        self._unsubscribe = errors.subscribe(self.reported.emit)
        for message in errors.errors():  # decoded before the subscription (the first view)
            self.reported.emit(message)

    def _tell(self, message: str) -> None:
        self._status(message)
        if not self._told:
            self._told = True
            self._show_error(
                "Part of this slide cannot be decoded",
                f"{message}\n\nThe slide stays open: regions whose tiles cannot be decoded are drawn as a "
                "grey checker pattern. Further errors of this slide are shown in the status line.",
            )
