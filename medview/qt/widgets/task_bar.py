"""A progress bar with a Cancel button that runs one long core function off the GUI thread."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from qtpy.QtCore import QObject, Qt, Signal
from qtpy.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget
from superqt.utils import create_worker

from medview.core.errors import MedviewError
from medview.core.progress import Cancelled, CancelToken, ProgressCallback

LongTask = Callable[[ProgressCallback, CancelToken], Any]
_log = logging.getLogger(__name__)
_PROGRESS_STEPS = 1000


class _ProgressRelay(QObject):
    """Carries progress from the worker thread to the GUI thread (a queued signal)."""

    reported = Signal(float, str)


class TaskBar(QWidget):
    """Runs ``function(progress, cancel)`` in a worker thread and shows its progress.

    Only one task runs at a time; ``busy`` tells whether one is running. Errors the user caused
    (:class:`MedviewError`) are shown as a message in the bar; other exceptions are bugs and are
    logged with their traceback and shown as "internal error", never as a traceback dialog. An
    exception raised by ``on_done`` while it shows the result fails the task the same way (and
    reaches ``on_error``), so a result that could not be shown is never reported as done.

    Signals:
        finished(str): the outcome, one of ``done``, ``cancelled``, ``failed``.
    """

    finished = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._bar = QProgressBar()
        self._bar.setRange(0, _PROGRESS_STEPS)
        self._bar.setTextVisible(True)
        self._message = QLabel("")
        self._message.setWordWrap(True)
        self._message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._cancel_button = QPushButton("Cancel")
        self._cancel_button.setToolTip("Stop the running task (Esc); earlier results are kept")
        self._cancel_button.clicked.connect(self.cancel)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self._bar, 2)
        row.addWidget(self._cancel_button)
        row.addWidget(self._message, 3)
        self._relay = _ProgressRelay()
        self._relay.reported.connect(self._show_progress)
        self._token: CancelToken | None = None
        self._worker = None
        self._started = 0.0
        self._set_idle()

    @property
    def busy(self) -> bool:
        return self._worker is not None

    @property
    def message(self) -> str:
        """The text the user reads beside the bar."""
        return self._message.text()

    @property
    def fraction(self) -> float:
        return self._bar.value() / _PROGRESS_STEPS

    def start(
        self,
        function: LongTask,
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None] | None = None,
        description: str = "Working",
    ) -> CancelToken:
        """Run ``function`` in a worker; ``on_done(result)`` runs on the GUI thread when it returns."""
        if self.busy:
            raise RuntimeError("a task is already running")
        token = CancelToken()
        self._token = token
        self._started = time.monotonic()
        self._bar.setValue(0)
        self._message.setStyleSheet("")
        self._message.setText(f"{description}…")
        self._cancel_button.setEnabled(True)
        self.setVisible(True)

        def succeeded(result: Any) -> None:
            elapsed = time.monotonic() - self._started
            self._worker = self._token = None  # idle, so that on_done may start the next task
            try:
                on_done(result)
            except Exception as error:  # showing the result failed: the task failed, say so
                if not self.busy:
                    failed(error)
                else:  # on_done started another task first, which owns the bar now
                    _log.error("%s: showing the result failed", description, exc_info=error)
                    if on_error is not None:
                        on_error(error)
                return
            if self.busy:  # on_done started another task, which owns the bar now
                self.finished.emit("done")
            else:
                self._finish("done", f"{description}: done in {elapsed:.1f} s")

        def failed(error: BaseException) -> None:
            if isinstance(error, Cancelled):
                self._finish("cancelled", f"{description}: cancelled")
            elif isinstance(error, MedviewError):
                self._finish("failed", str(error), error=True)
            else:
                _log.error("%s failed", description, exc_info=error)
                self._finish("failed", f"{description} failed (internal error): {error}", error=True)
            if on_error is not None:
                on_error(error)

        self._worker = create_worker(
            function,
            self._relay.reported.emit,
            token,
            _connect={"returned": succeeded, "errored": failed},
        )
        return token

    def cancel(self) -> None:
        """Ask the running task to stop at its next check."""
        if self._token is not None:
            self._token.cancel()
            self._message.setText("Cancelling…")
            self._cancel_button.setEnabled(False)

    def _show_progress(self, fraction: float, message: str) -> None:
        if not self.busy:
            return
        self._bar.setValue(int(min(max(fraction, 0.0), 1.0) * _PROGRESS_STEPS))
        if message and not (self._token and self._token.cancelled):
            self._message.setText(message)

    def _finish(self, outcome: str, message: str, error: bool = False) -> None:
        self._worker = None
        self._token = None
        self._message.setText(message)
        self._message.setStyleSheet("color: #e05050;" if error else "")
        if outcome == "done":
            self._bar.setValue(_PROGRESS_STEPS)
        self._cancel_button.setEnabled(False)
        self.finished.emit(outcome)

    def _set_idle(self) -> None:
        self._cancel_button.setEnabled(False)
