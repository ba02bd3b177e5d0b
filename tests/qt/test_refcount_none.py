"""Guards the Qt binding choice: PySide6 6.12.0 on Python 3.11 drops a reference to None on every
void Qt call, and napari then aborts with "deallocating None" after ~2,400 slice steps."""

from __future__ import annotations

import sys

import pytest

from medview.demo import make_ct

pytestmark = pytest.mark.gui
PASSES = 10_000


def test_none_keeps_its_references_across_10000_event_loop_passes(qapp, main_window):
    main_window.show_case(make_ct(0, shape=(40, 64, 64)))
    qapp.processEvents()
    before = sys.getrefcount(None)
    for step in range(PASSES):
        if step % 100 == 0:
            main_window.step_slice(1)
        qapp.processEvents()
    after = sys.getrefcount(None)
    # None is immortal from Python 3.12 on; on 3.11 a leaking binding loses one reference per call.
    assert after >= before - 100, f"None lost {before - after} references in {PASSES} passes"
