"""The main window on demo data, driven as a user would, asserting on what is rendered."""

from __future__ import annotations

import numpy as np
import pytest
from napari.layers import Image, Labels, Shapes
from qtpy.QtCore import Qt

from medview.demo import make_ct
from medview.qt.app import DEMO_CASES

pytestmark = pytest.mark.gui


def wait_for_task(qtbot, window, timeout_ms: int = 30_000) -> None:
    qtbot.waitUntil(lambda: not window.task_bar.busy, timeout=timeout_ms)


def rendered(qtbot, window) -> np.ndarray:
    qtbot.wait(100)
    return window.screenshot()[..., :3].astype(int)


def test_demo_ct_opens_from_the_case_list_with_its_window_physical_aspect_and_ground_truth(
    qtbot, main_window
):
    item = main_window.cases.findItems("Demo CT (phantom)", Qt.MatchFlag.MatchExactly)[0]
    main_window.cases.itemActivated.emit(item)
    wait_for_task(qtbot, main_window)

    image, truth = main_window.viewer.layers
    assert isinstance(image, Image) and isinstance(truth, Labels)
    assert image.name == "demo-ct-0" and truth.name == "ground truth"
    np.testing.assert_allclose(image.scale, (2.0, 0.8, 0.8))
    np.testing.assert_allclose(truth.scale, image.scale)
    assert tuple(image.contrast_limits) == (-160.0, 240.0)  # soft tissue 40/400
    assert main_window.window_presets.currentText().startswith("soft tissue")
    assert "done" in main_window.task_bar.message


def test_screenshot_is_not_blank_and_changes_when_the_overlay_is_toggled(qtbot, main_window):
    main_window.show_case(make_ct(0, shape=(40, 128, 128)))
    with_overlay = rendered(qtbot, main_window)
    assert with_overlay.std() > 20, "the canvas shows nothing"

    main_window.toggle_overlays()
    assert not main_window.viewer.layers["ground truth"].visible
    without_overlay = rendered(qtbot, main_window)
    assert np.abs(with_overlay - without_overlay).mean() > 2

    main_window.toggle_overlays()
    np.testing.assert_allclose(rendered(qtbot, main_window), with_overlay, atol=3)


def test_stepping_slices_changes_the_picture_and_wraps_at_the_end(qtbot, main_window):
    main_window.show_case(make_ct(0, shape=(40, 128, 128)))
    main_window.viewer.dims.set_current_step(0, 10)
    before = rendered(qtbot, main_window)
    for _ in range(8):
        main_window.step_slice(1)
    assert main_window.viewer.dims.current_step[0] == 18
    assert np.abs(rendered(qtbot, main_window) - before).mean() > 1
    main_window.viewer.dims.set_current_step(0, 39)
    main_window.step_slice(1)
    assert main_window.viewer.dims.current_step[0] == 0


def test_status_line_shows_position_in_mm_and_hounsfield_units(qtbot, main_window):
    case = make_ct(0, shape=(40, 64, 64))
    main_window.show_case(case)
    index = (20, 32, 20)
    main_window.viewer.dims.set_current_step(0, index[0])
    world = case.scan.geometry.index_to_world(index)
    main_window.viewer.cursor.position = tuple(world)
    text = main_window.cursor_label.text()
    assert f"x {world[2]:.1f} y {world[1]:.1f} z {world[0]:.1f} mm" in text
    assert text.endswith(f"| {case.scan.array[index]} HU")


def test_window_presets_switch_the_contrast(qtbot, main_window):
    main_window.show_case(make_ct(0, shape=(20, 32, 32)))
    names = [main_window.window_presets.itemText(i) for i in range(main_window.window_presets.count())]
    lung = next(i for i, name in enumerate(names) if name.startswith("lung"))
    main_window.window_presets.activated.emit(lung)
    window = main_window.window_presets.itemData(lung)
    assert tuple(main_window.scan_layer.contrast_limits) == pytest.approx(window.limits)


def test_radiograph_demo_shows_its_boxes(qtbot, main_window):
    main_window.open_demo("Demo chest radiograph")
    wait_for_task(qtbot, main_window)
    boxes = main_window.viewer.layers["ground truth boxes"]
    assert isinstance(boxes, Shapes) and len(boxes.data) >= 1
    assert set(boxes.features["label"]) == {"nodule"}


def test_every_demo_case_is_in_the_file_menu():
    from medview.qt.app import MainWindow

    assert set(DEMO_CASES) == {"Demo CT (phantom)", "Demo chest radiograph", "Demo H&E tile"}
    assert MainWindow.open_demo.__doc__


def test_a_broken_panel_is_reported_and_the_window_still_opens(qtbot, monkeypatch):
    from medview.qt import app

    monkeypatch.setattr(app, "PANELS", (("Broken", "medview_no_such_module:Panel", "right"),))
    window = app.MainWindow()
    qtbot.addWidget(window)
    assert "Broken" in window.panel_errors and "No module named" in window.panel_errors["Broken"]
    assert "Broken" not in window.panels


def test_a_bad_file_shows_an_error_dialog_and_keeps_what_was_open(qtbot, main_window, tmp_path, monkeypatch):
    dialogs = []
    monkeypatch.setattr(main_window, "show_error", lambda title, text: dialogs.append((title, text)))
    main_window.show_case(make_ct(0, shape=(20, 32, 32)))
    bad = tmp_path / "empty.nii.gz"
    bad.write_bytes(b"")
    main_window.open_path(bad)
    wait_for_task(qtbot, main_window)
    assert "empty.nii.gz" in main_window.task_bar.message
    [(title, text)] = dialogs
    assert title == "Could not open empty.nii.gz" and text.startswith(str(bad))
    assert [layer.name for layer in main_window.viewer.layers] == ["demo-ct-0", "ground truth"]


def test_a_case_clicked_in_the_metrics_table_opens_in_the_viewer(qtbot, main_window, tmp_path, small_ct):
    from medview.io import write_scan
    from medview.workspace import Workspace

    with Workspace.create(tmp_path / "ws") as workspace:
        case = workspace.add_case(write_scan(small_ct.scan, tmp_path / "liver-07.nii.gz"))
    browser = main_window.panels["Cases"]
    browser.open_workspace(tmp_path / "ws")
    main_window.panels["Metrics"].cases.case_requested.emit(case.id)
    qtbot.waitUntil(lambda: browser.current is not None, timeout=20_000)
    assert browser.current.id == case.id
    assert any(isinstance(layer, Image) for layer in main_window.viewer.layers)


def test_a_folder_with_two_series_asks_which_one_to_show(qtbot, main_window, tmp_path, monkeypatch):
    import shutil

    from pydicom.data import get_testdata_file

    from medview.qt.widgets import series_dialog

    for name in ("CT_small.dcm", "MR_small.dcm"):
        shutil.copy(get_testdata_file(name), tmp_path / name)
    offered = []

    def choose(parent, series):
        offered.extend(series)
        return next(info.uid for info in series if info.modality == "MR")

    monkeypatch.setattr(series_dialog, "choose_series", choose)
    main_window.open_path(tmp_path)
    qtbot.waitUntil(lambda: main_window.scan_layer is not None, timeout=30_000)
    assert sorted(info.modality for info in offered) == ["CT", "MR"]
    assert main_window.viewer.layers[0].metadata["medview_scan"].modality == "MR"


def test_new_demo_workspace_is_ready_to_train_in(qtbot, main_window, tmp_path):
    main_window.create_demo_workspace(tmp_path / "demo-ws")
    wait_for_task(qtbot, main_window, 60_000)

    browser, training = main_window.panels["Cases"], main_window.panels["Train"]
    assert browser.directory == tmp_path / "demo-ws"
    assert training.workspace == tmp_path / "demo-ws"
    assert training._cases.count() == 15 and training.status_text == "15 annotated cases"
    assert not training.visibleRegion().isEmpty()  # the Train tab is shown
