"""Kill a real annotating process with SIGKILL mid-edit; the draft must be offered and restore the voxels."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from medview.annotations.autosave import find_drafts
from medview.io import write_scan
from medview.workspace import Workspace

pytestmark = [pytest.mark.gui, pytest.mark.slow]
KILL_AFTER_STROKES = 48  # 12 s of painting at 4 strokes a second
MAX_LOSS_S = 10.0


def test_sigkill_loses_at_most_ten_seconds_and_draft_is_offered(qtbot, tmp_path, monkeypatch):
    from medview.demo import make_ct

    scan = make_ct(0, shape=(60, 64, 64)).scan
    write_scan(scan, tmp_path / "ct.nii.gz")
    workspace = Workspace.create(tmp_path / "ws")
    case = workspace.add_case(tmp_path / "ct.nii.gz")
    script = Path(__file__).with_name("crash_annotator.py")
    stroke_times: dict[int, float] = {}
    with subprocess.Popen(
        [sys.executable, str(script), str(workspace.directory), case.id],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    ) as process:
        try:
            for line in process.stdout:
                word, stamp = line.split()
                if word != "ready":
                    stroke_times[int(word)] = float(stamp)
                if len(stroke_times) >= KILL_AFTER_STROKES:
                    break
            assert len(stroke_times) >= KILL_AFTER_STROKES, process.stderr.read()
            process.send_signal(signal.SIGKILL)
            killed_at = time.time()
        finally:
            process.kill()
            process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    (draft,) = find_drafts(workspace.drafts_directory)
    assert draft.case_id == case.id

    # restart: the window opens the case, and the draft is offered at once, before anything is applied
    from medview.qt import unsaved_prompts
    from medview.qt.app import MainWindow

    offered = []

    def offer(parent, draft, name):
        offered.append(name)
        assert not window.panels["Annotate"].layer.data.any()  # offered, not applied
        return unsaved_prompts.RECOVER

    monkeypatch.setattr(unsaved_prompts, "offer_draft", offer)
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    browser = window.panels["Cases"]
    browser.open_workspace(workspace.directory)
    browser.open_case(workspace.case(case.id))
    qtbot.waitUntil(lambda: bool(offered), timeout=30_000)
    layer = window.panels["Annotate"].layer
    assert len(offered) == 1 and layer.name == f"{case.id} annotation"

    painted_slices = [k for k in range(scan.spatial_shape[0]) if layer.data[k].any()]
    saved_strokes = len(painted_slices)
    assert painted_slices == list(range(saved_strokes))  # a consistent prefix of the strokes
    assert np.all(layer.data[:saved_strokes, 32, 32] == 1)
    lost_s = killed_at - stroke_times[saved_strokes - 1]
    window.panels["Annotate"].session.discard(window.panels["Annotate"].annotation)
    print(f"crash recovery: {saved_strokes} of {len(stroke_times)} strokes recovered, {lost_s:.1f} s lost")
    assert saved_strokes >= 1 and lost_s <= MAX_LOSS_S
    window.close()
