"""TaskBar runs long core functions off the GUI thread with progress, cancel and clear errors."""

from __future__ import annotations

import threading
import time

import pytest

from medview.core.errors import InputError
from medview.qt.widgets.task_bar import TaskBar

pytestmark = pytest.mark.gui


@pytest.fixture
def bar(qtbot):
    widget = TaskBar()
    qtbot.addWidget(widget)
    widget.show()
    return widget


def test_progress_reaches_the_bar_and_the_result_reaches_the_gui_thread(qtbot, bar):
    gui_thread = threading.get_ident()
    results = []

    def work(progress, cancel):
        assert threading.get_ident() != gui_thread
        progress(0.5, "halfway")
        time.sleep(0.2)
        return 42

    bar.start(work, lambda result: results.append((result, threading.get_ident())), description="Counting")
    qtbot.waitUntil(lambda: bar.message == "halfway", timeout=5000)
    assert bar.fraction == pytest.approx(0.5)
    with qtbot.waitSignal(bar.finished, timeout=5000) as outcome:
        pass
    assert outcome.args == ["done"]
    assert results == [(42, gui_thread)]
    assert bar.fraction == 1.0 and not bar.busy


def test_cancel_stops_the_work_and_does_not_deliver_a_result(qtbot, bar):
    results = []

    def work(progress, cancel):
        for step in range(1000):
            cancel.raise_if_cancelled()
            progress(step / 1000, f"step {step}")
            time.sleep(0.01)
        return "finished"

    bar.start(work, results.append, description="Long job")
    qtbot.waitUntil(lambda: bar.fraction > 0, timeout=5000)
    with qtbot.waitSignal(bar.finished, timeout=5000) as outcome:
        bar.cancel()
    assert outcome.args == ["cancelled"]
    assert results == [] and bar.message == "Long job: cancelled"


def test_user_errors_are_shown_as_their_message(qtbot, bar):
    def work(progress, cancel):
        raise InputError("pixel data is shorter than Rows x Columns", "/data/slice7.dcm")

    errors = []
    with qtbot.waitSignal(bar.finished, timeout=5000) as outcome:
        bar.start(work, lambda result: None, on_error=errors.append)
    assert outcome.args == ["failed"]
    assert bar.message == "/data/slice7.dcm: pixel data is shorter than Rows x Columns"
    assert isinstance(errors[0], InputError)


def test_bugs_are_reported_as_internal_errors_not_tracebacks(qtbot, bar, caplog):
    def work(progress, cancel):
        raise ZeroDivisionError("division by zero")

    with qtbot.waitSignal(bar.finished, timeout=5000):
        bar.start(work, lambda result: None, description="Inference")
    assert bar.message == "Inference failed (internal error): division by zero"
    assert "Traceback" not in bar.message
    assert any(record.exc_info for record in caplog.records)


def test_a_second_task_is_refused_while_one_runs(qtbot, bar):
    release = threading.Event()
    bar.start(lambda progress, cancel: release.wait(5), lambda result: None)
    with pytest.raises(RuntimeError, match="already running"):
        bar.start(lambda progress, cancel: None, lambda result: None)
    with qtbot.waitSignal(bar.finished, timeout=5000):
        release.set()
