"""The main window survives bad input: a failed open names the file, keeps what was shown, and later
opens work; a scan napari cannot draw in patient space is shown as stored; notices and units show."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from napari.layers import Labels, Layer
from window_input import drop_on_canvas

from medview.core.geometry import Geometry
from medview.core.scan import AttachedLabels, LabelMap, Scan
from medview.demo import make_ct
from medview.qt import opening
from medview.qt.bridge import GEOMETRY_KEY

pytestmark = pytest.mark.gui

OBLIQUE_ROW, OBLIQUE_COLUMN = (0.569, 0.822, 0.0), (0.0, 0.0, -1.0)


@pytest.fixture
def write_slice(monkeypatch):
    monkeypatch.syspath_prepend(Path(__file__).parents[1] / "io")
    from io_scan_files import write_slice

    return write_slice


def open_and_wait(qtbot, window, path) -> None:
    window.open_path(path)
    qtbot.waitUntil(lambda: not window.task_bar.busy, timeout=30_000)


def rendered(qtbot, window) -> np.ndarray:
    qtbot.wait(100)
    return window.screenshot()[..., :3].astype(float)


def image_area(shot: np.ndarray) -> np.ndarray:
    """The part of a screenshot the image covers (its non-black bounding box)."""
    rows, columns = np.nonzero(shot.max(axis=-1) > 8)
    return shot[rows.min() : rows.max() + 1, columns.min() : columns.max() + 1]


def marked_pixels() -> np.ndarray:
    """64x80 grey with a bright block at the top left and a black one at the bottom right."""
    pixels = np.full((64, 80), 1000, np.int16)
    pixels[:16, :20] = 3000
    pixels[-16:, -20:] = 0
    return pixels


def test_an_oblique_single_slice_mr_shows_as_stored_with_its_real_geometry_and_later_opens_work(
    qtbot, main_window, errors, write_slice, tmp_path
):
    oblique = write_slice(
        tmp_path / "oblique.dcm",
        marked_pixels(),
        (10.0, 20.0, 30.0),
        (*OBLIQUE_ROW, *OBLIQUE_COLUMN),
        Modality="MR",
    )
    open_and_wait(qtbot, main_window, oblique)
    assert errors == [] and "done" in main_window.task_bar.message
    layer = main_window.scan_layer
    scan = layer.metadata["medview_scan"]
    assert layer.metadata[GEOMETRY_KEY] is scan.geometry and not scan.geometry.is_axis_aligned
    np.testing.assert_allclose(layer.affine.affine_matrix, np.eye(4))  # shown as stored: no rotation
    np.testing.assert_allclose(layer.scale[1:], (0.8, 0.6))

    picture = image_area(rendered(qtbot, main_window))
    assert picture.std() > 20, "the canvas is black"
    height, width = picture.shape[:2]
    assert height / width == pytest.approx(64 * 0.8 / (80 * 0.6), rel=0.05)  # physical aspect
    top_left = picture[: height // 5, : width // 5].mean()
    bottom_right = picture[-height // 5 :, -width // 5 :].mean()
    assert top_left > 200 and bottom_right < 30  # rows down, columns right

    index = (0, 40, 10)
    main_window.viewer.cursor.position = tuple(layer.data_to_world(index))
    x, y, z = scan.geometry.index_to_world(index)[::-1]
    assert main_window.cursor_label.text() == f"x {x:.1f} y {y:.1f} z {z:.1f} mm | 1000"

    axial = write_slice(tmp_path / "axial.dcm", marked_pixels().T.copy(), (0.0, 0.0, 0.0))
    open_and_wait(qtbot, main_window, axial)
    assert errors == [] and [lr.name for lr in main_window.viewer.layers] == ["test series"]
    assert main_window.scan_layer.data.shape[-2:] == (80, 64)
    assert image_area(rendered(qtbot, main_window)).std() > 20


@pytest.mark.parametrize("kind", ["truncated", "random bytes"])
def test_a_bad_dicom_names_the_file_in_a_dialog_keeps_the_scan_and_a_good_one_opens_next(
    qtbot, main_window, errors, write_slice, tmp_path, kind
):
    first = write_slice(tmp_path / "first.dcm", marked_pixels(), (0.0, 0.0, 0.0))
    open_and_wait(qtbot, main_window, first)
    shown = main_window.scan_layer
    bad = tmp_path / "bad.dcm"
    if kind == "truncated":
        bad.write_bytes(first.read_bytes()[: first.stat().st_size // 2])
    else:
        bad.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())

    open_and_wait(qtbot, main_window, bad)
    [(title, text)] = errors
    assert "bad.dcm" in title and text.startswith(str(bad))
    assert list(main_window.viewer.layers) == [shown]

    second = write_slice(tmp_path / "second.dcm", marked_pixels()[::-1].copy(), (0.0, 0.0, 5.0))
    open_and_wait(qtbot, main_window, second)
    assert len(errors) == 1 and main_window.scan_layer is not shown
    assert main_window.scan_layer.data[0, -1, 0] == 3000
    assert image_area(rendered(qtbot, main_window)).std() > 20


def test_a_bug_while_opening_is_an_internal_error_naming_the_file_with_the_traceback_only_logged(
    qtbot, main_window, errors, monkeypatch, tmp_path, caplog
):
    import medview.io

    def broken(path, series_uid=None):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(medview.io, "open_scan", broken)
    main_window.show_case(make_ct(0, shape=(10, 32, 32)))
    with caplog.at_level(logging.ERROR):
        open_and_wait(qtbot, main_window, tmp_path / "scan.nii.gz")
    [(_, text)] = errors
    assert (
        text
        == f"internal error while opening {tmp_path / 'scan.nii.gz'}: ZeroDivisionError: division by zero"
    )
    assert any(record.exc_info for record in caplog.records)
    assert [layer.name for layer in main_window.viewer.layers] == ["demo-ct-0", "ground truth"]


@pytest.mark.parametrize("where", ["layer construction", "layer visual", "canvas insertion", "reset_view"])
def test_a_failure_inside_napari_keeps_the_previous_scan_and_a_working_viewer(
    qtbot, main_window, errors, monkeypatch, where
):
    import napari._qt.qt_viewer

    main_window.show_case(make_ct(0, shape=(10, 32, 32)))
    before = list(main_window.viewer.layers)
    target = {
        "layer construction": (Layer, "create"),
        "layer visual": (opening, "create_vispy_layer"),
        "canvas insertion": (napari._qt.qt_viewer, "create_vispy_layer"),
        "reset_view": (type(main_window.viewer), "reset_view"),
    }[where]
    original = getattr(*target)
    calls = []

    def fails_for_the_new_scan(*args, **kwargs):
        calls.append(args)
        if where == "reset_view":  # the first reset fails, the restore's own reset works
            if len(calls) == 1:
                raise np.linalg.LinAlgError("Singular matrix")
        elif any(_is_the_new_scan(arg) for arg in args):
            raise np.linalg.LinAlgError("Singular matrix")
        return original(*args, **kwargs)

    monkeypatch.setattr(*target, fails_for_the_new_scan)
    new = Scan(np.ones((4, 16, 16), np.int16), Geometry.from_spacing((1, 1, 1)), name="new")
    with pytest.raises(np.linalg.LinAlgError, match="Singular matrix"):
        main_window.show_scan(new)
    assert list(main_window.viewer.layers) == before
    assert rendered(qtbot, main_window).std() > 20
    monkeypatch.undo()

    main_window.show_case(make_ct(1, shape=(10, 32, 32)))
    assert [layer.name for layer in main_window.viewer.layers] == ["demo-ct-1", "ground truth"]
    assert rendered(qtbot, main_window).std() > 20


def _is_the_new_scan(arg) -> bool:
    """The layer of the scan named "new", or the keyword arguments it is built from."""
    return getattr(arg, "name", None) == "new" or (isinstance(arg, dict) and arg.get("name") == "new")


@pytest.mark.real_dialogs
def test_a_bad_drop_shows_the_real_error_dialog_and_keeps_the_layers(qtbot, main_window, tmp_path):
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication, QMessageBox

    main_window.show_case(make_ct(0, shape=(10, 32, 32)))
    bad = tmp_path / "broken.dcm"
    bad.write_bytes(b"not a dicom file at all")
    seen = []

    def close_the_dialog():
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            seen.append((box.icon(), box.windowTitle(), box.text()))
            box.close()
        else:
            QTimer.singleShot(50, close_the_dialog)

    QTimer.singleShot(50, close_the_dialog)
    drop_on_canvas(main_window, bad)
    qtbot.waitUntil(lambda: bool(seen), timeout=30_000)
    [(icon, title, text)] = seen
    assert icon == QMessageBox.Icon.Critical and "broken.dcm" in title and str(bad) in text
    assert [layer.name for layer in main_window.viewer.layers] == ["demo-ct-0", "ground truth"]


def test_label_maps_that_came_with_the_file_are_toggleable_overlays(qtbot, main_window):
    geometry = Geometry.from_spacing((2.0, 1.0, 1.0))
    overlay = np.zeros((4, 16, 16), np.uint8)
    overlay[:, 4:8, 4:8] = 1
    scan = Scan(
        np.ones((4, 16, 16), np.int16),
        geometry,
        name="mr",
        attached=[AttachedLabels("overlay 6000", LabelMap(overlay, geometry))],
    )
    main_window.show_scan(scan)
    attached = main_window.viewer.layers["overlay 6000"]
    assert isinstance(attached, Labels) and attached.visible and attached.data is overlay
    main_window.toggle_overlays()
    assert not attached.visible
    assert main_window.scan_layer.name == "mr"


def test_a_lossy_scan_says_so_on_the_canvas_until_the_next_scan(qtbot, main_window):
    geometry = Geometry.from_spacing((1.0, 1.0))
    lossy = Scan(np.ones((32, 32), np.uint8), geometry, metadata={"lossy_compression": "JPEG baseline 10:1"})
    notice = main_window.viewer.canvas.overlays.text
    main_window.show_scan(lossy)
    assert notice.visible and notice.text == "LOSSY: JPEG baseline 10:1"
    main_window.show_scan(Scan(np.ones((32, 32), np.uint8), geometry))
    assert not notice.visible and notice.text == ""


@pytest.mark.parametrize(
    ("units", "value_unit", "expected"),
    [
        ("pixel", "", "x 7.0 y 5.0 px | 42"),
        ("mm", "%", "x 1.4 y 1.0 mm | 42 %"),
        ("um", "", "x 1.4 y 1.0 µm | 42"),
    ],
)
def test_the_status_line_speaks_the_scans_units(qtbot, main_window, units, value_unit, expected):
    pixels = np.zeros((20, 30), np.uint16)
    pixels[5, 7] = 42
    spacing = (1.0, 1.0) if units == "pixel" else (0.2, 0.2)
    scan = Scan(pixels, Geometry.from_spacing(spacing), modality="DX", units=units, value_unit=value_unit)
    main_window.show_scan(scan)
    main_window.viewer.cursor.position = tuple(main_window.scan_layer.data_to_world((5, 7)))
    assert main_window.cursor_label.text() == expected


def test_a_result_that_cannot_be_shown_fails_the_task_instead_of_reporting_done(qtbot):
    from medview.qt.widgets.task_bar import TaskBar

    bar = TaskBar()
    qtbot.addWidget(bar)
    failures = []

    def show(result):
        raise ValueError("cannot show this")

    with qtbot.waitSignal(bar.finished, timeout=5000) as outcome:
        bar.start(lambda progress, cancel: 1, show, on_error=failures.append, description="Opening x")
    assert outcome.args == ["failed"] and not bar.busy
    assert "done" not in bar.message and "cannot show this" in bar.message
    assert isinstance(failures[0], ValueError)
