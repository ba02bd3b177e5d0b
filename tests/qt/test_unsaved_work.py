"""Unsaved strokes are never dropped: switching scans, opening a case and quitting ask first, drafts
are offered at once when their scan opens again, and undo history belongs to the annotation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from napari.layers import Labels
from qtpy.QtCore import Qt
from window_input import menu_action

from medview.annotations.autosave import find_drafts
from medview.io import open_label_map, write_scan
from medview.qt import unsaved_prompts
from medview.workspace import Workspace

pytestmark = pytest.mark.gui


def wait_idle(qtbot, window, timeout_ms: int = 30_000) -> None:
    annotate = window.panels["Annotate"]
    qtbot.waitUntil(lambda: not window.task_bar.busy and not annotate.task_bar.busy, timeout=timeout_ms)


@pytest.fixture
def two_scans(tmp_path, small_ct, small_radiograph) -> tuple[Path, Path]:
    first, second = tmp_path / "first.nii.gz", tmp_path / "second.nii.gz"
    write_scan(small_ct.scan, first)
    write_scan(small_radiograph.scan, second)
    return first, second


def open_and_paint(qtbot, window, path: Path) -> Labels:
    """Open ``path``, press the Paint tool (which starts the user's own annotation) and paint a disc."""
    window.open_path(path)
    wait_idle(qtbot, window)
    annotate = window.panels["Annotate"]
    qtbot.mouseClick(annotate.tool_buttons["paint"], Qt.MouseButton.LeftButton)
    layer = annotate.layer
    assert layer is not None and layer.name == f"{window.scan_layer.name} annotation"
    centre = tuple(n // 2 for n in layer.data.shape)
    annotate.editor.paint(centre, 10.0, 1, plane_axis=0 if layer.ndim == 3 else None)
    assert layer.data.any() and annotate.session.unsaved()
    return layer


def test_cancel_keeps_the_scan_and_its_strokes(qtbot, main_window, two_scans, prompts):
    first, second = two_scans
    layer = open_and_paint(qtbot, main_window, first)
    prompts.answers["ask_unsaved"] = unsaved_prompts.CANCEL

    main_window.open_path(second)
    wait_idle(qtbot, main_window)

    assert prompts.asked == [("ask_unsaved", "opening second.nii.gz")]
    assert main_window.scan_layer.metadata["medview_scan"].source == str(first)
    assert layer in main_window.viewer.layers and layer.data.any()


def test_a_kept_draft_is_offered_at_once_when_its_scan_opens_again(qtbot, main_window, two_scans, prompts):
    first, second = two_scans
    painted = open_and_paint(qtbot, main_window, first).data.copy()

    main_window.open_path(second)  # answered "keep as draft"
    wait_idle(qtbot, main_window)
    assert main_window.scan_layer.metadata["medview_scan"].source == str(second)
    assert not any(isinstance(layer, Labels) for layer in main_window.viewer.layers)  # one scan at a time

    prompts.answers["offer_draft"] = unsaved_prompts.RECOVER
    main_window.open_path(first)
    wait_idle(qtbot, main_window)

    assert ("offer_draft", "first annotation") in prompts.asked
    annotate = main_window.panels["Annotate"]
    assert annotate.layer.name == "first annotation"
    assert np.array_equal(annotate.layer.data, painted)
    assert annotate.session.unsaved()  # recovered, still not saved
    annotate.undo()  # recovering is an undoable edit
    assert not annotate.layer.data.any()


def test_discard_asks_for_confirmation_naming_what_is_lost(qtbot, main_window, two_scans, prompts):
    first, second = two_scans
    open_and_paint(qtbot, main_window, first)
    main_window.open_path(second)
    wait_idle(qtbot, main_window)
    main_window.open_path(first)  # the draft is offered; answered "later": the panel keeps offering it
    wait_idle(qtbot, main_window)
    drafts_folder = main_window.panels["Annotate"].session.drafts_directory
    assert len(find_drafts(drafts_folder)) == 1

    main_window.panels["Annotate"].new_annotation()
    annotate = main_window.panels["Annotate"]
    annotate.drafts.draft = find_drafts(drafts_folder)[0]
    annotate.drafts.discard()  # confirmation answered no
    assert prompts.asked[-1] == ("confirm_discard", "first annotation")
    assert len(find_drafts(drafts_folder)) == 1
    prompts.answers["confirm_discard"] = True
    annotate.drafts.discard()
    assert find_drafts(drafts_folder) == []


def test_save_before_switching_writes_the_file_then_switches(
    qtbot, main_window, two_scans, prompts, tmp_path
):
    first, second = two_scans
    layer = open_and_paint(qtbot, main_window, first)
    painted = layer.data.copy()
    prompts.answers["ask_unsaved"] = unsaved_prompts.SAVE
    target = tmp_path / "mine.nii.gz"
    main_window.files.ask_save_target = lambda annotation: ("nifti", target)
    main_window.panels["Annotate"].ask_export_path = main_window.files.ask_save_target

    main_window.open_path(second)
    qtbot.waitUntil(
        lambda: main_window.scan_layer.metadata["medview_scan"].source == str(second), timeout=30_000
    )
    wait_idle(qtbot, main_window)

    assert np.array_equal(open_label_map(target).array, painted)
    assert find_drafts(main_window.panels["Annotate"].session.drafts_directory) == []


def test_quitting_with_unsaved_strokes_asks_and_cancel_keeps_the_window(
    qtbot, main_window, two_scans, prompts
):
    open_and_paint(qtbot, main_window, two_scans[0])
    prompts.answers["ask_unsaved"] = unsaved_prompts.CANCEL
    menu_action(main_window, "File", "Quit").trigger()
    assert prompts.asked == [("ask_unsaved", "quitting")]
    assert main_window.isVisible()

    prompts.answers["ask_unsaved"] = unsaved_prompts.DRAFT
    main_window.close()
    assert not main_window.isVisible()
    assert len(find_drafts(main_window.panels["Annotate"].session.drafts_directory)) == 1


def test_drafts_of_an_earlier_session_are_offered_at_start(qtbot, two_scans, prompts):
    from medview.qt.app import MainWindow

    first, _ = two_scans
    before = MainWindow()
    qtbot.addWidget(before)
    before.show()
    painted = open_and_paint(qtbot, before, first).data.copy()
    before.close()  # answered "keep as draft"

    prompts.answers["offer_draft"] = unsaved_prompts.RECOVER
    after = MainWindow()
    qtbot.addWidget(after)
    after.show()
    after.offer_drafts_at_start()
    wait_idle(qtbot, after)
    qtbot.waitUntil(lambda: after.panels["Annotate"].layer is not None, timeout=10_000)

    assert ("offer_draft", "first annotation") in prompts.asked
    assert after.scan_layer.metadata["medview_scan"].source == str(first)
    assert np.array_equal(after.panels["Annotate"].layer.data, painted)
    after.panels["Annotate"].session.discard(after.panels["Annotate"].annotation)
    after.close()


def test_undo_history_survives_switching_layers(qtbot, main_window, two_scans):
    layer = open_and_paint(qtbot, main_window, two_scans[0])
    annotate = main_window.panels["Annotate"]
    main_window.viewer.layers.selection.active = main_window.scan_layer
    other = annotate.new_annotation()
    assert annotate.layer is other
    main_window.viewer.layers.selection.active = layer
    assert annotate.layer is layer and annotate._undo.isEnabled()
    annotate.undo()
    assert not layer.data.any()


def test_opening_a_case_asks_then_replaces_every_layer(qtbot, main_window, two_scans, prompts, tmp_path):
    workspace = Workspace.create(tmp_path / "ws")
    case = workspace.add_case(two_scans[1])
    workspace.close()
    open_and_paint(qtbot, main_window, two_scans[0])
    browser = main_window.panels["Cases"]
    browser.open_workspace(tmp_path / "ws")

    browser.open_case(case)
    qtbot.waitUntil(lambda: browser.current is not None, timeout=30_000)

    assert prompts.asked == [("ask_unsaved", f"opening case {case.id}")]
    names = [layer.name for layer in main_window.viewer.layers]
    assert names == [main_window.scan_layer.name, f"{case.id} annotation"]


def test_the_ground_truth_is_never_the_first_strokes_target(qtbot, main_window, small_ct):
    main_window.show_case(small_ct)
    annotate = main_window.panels["Annotate"]
    truth = next(layer for layer in main_window.viewer.layers if layer.name == "ground truth")
    main_window.viewer.layers.selection.active = truth
    before = truth.data.copy()

    assert annotate.layer is None and "ground truth" in annotate.target and not truth.editable
    qtbot.mouseClick(annotate.tool_buttons["paint"], Qt.MouseButton.LeftButton)

    mine = annotate.layer
    assert mine is not truth and mine.name == f"{small_ct.scan.name} annotation" and mine.mode == "paint"
    annotate.editor.paint((20, 32, 32), 20.0, 1, plane_axis=0)
    assert np.array_equal(truth.data, before) and mine.data.any()
    assert annotate.editor.label_map.provenance.source == "user"


def test_editing_a_model_output_edits_a_copy_marked_corrected(qtbot, main_window, small_ct):
    from medview.core.provenance import Provenance
    from medview.core.scan import LabelMap
    from medview.qt.bridge import add_label_map

    main_window.show_case(small_ct)
    predicted = LabelMap(
        small_ct.truth.array.copy(),
        small_ct.scan.geometry,
        small_ct.truth.labels,
        Provenance.predicted("ct-unet3d", "1.0.0+ft2"),
    )
    output = add_label_map(main_window.viewer, predicted, name="ct-unet3d 1.0.0+ft2")
    main_window.viewer.layers.selection.active = output
    annotate = main_window.panels["Annotate"]
    assert annotate.layer is None and "a model's output" in annotate.target

    copy = annotate.edit_copy()
    assert annotate.layer is copy and copy.name == "ct-unet3d 1.0.0+ft2 (corrected)"
    annotate.editor.paint((20, 32, 32), 20.0, 0, plane_axis=0)
    provenance = annotate.editor.label_map.provenance
    assert (
        provenance.source == "model+user" and provenance.derived_from == "corrected from ct-unet3d 1.0.0+ft2"
    )
    assert np.array_equal(output.data, small_ct.truth.array)  # the model's output itself is untouched
