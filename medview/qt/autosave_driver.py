"""Drives a core :class:`~medview.annotations.autosave.Autosaver` from the Qt event loop."""

from __future__ import annotations

from qtpy.QtCore import QObject, QTimer

from medview.annotations.autosave import Autosaver

TICK_MS = 1000


class AutosaveDriver(QObject):
    """Calls ``autosaver.tick()`` every second; the autosaver decides whether a draft is due.

    The tick only copies the array; compression and the disk write run on the autosaver's own
    thread, so painting never waits for the disk.
    """

    def __init__(self, autosaver: Autosaver, tick_ms: int = TICK_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.autosaver = autosaver
        self._timer = QTimer(self)
        self._timer.setInterval(tick_ms)
        self._timer.timeout.connect(autosaver.tick)
        self._timer.start()

    @property
    def active(self) -> bool:
        return self._timer.isActive()

    def stop(self) -> None:
        """Stop ticking and write any pending change now (on close)."""
        self._timer.stop()
        self.autosaver.flush()
