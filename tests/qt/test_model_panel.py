"""The model panel lists fitting plugins, their fine-tuned versions (and broken ones), runs one in a worker,
shows results as layers; it asks before running on the wrong input or loading untrusted TorchScript."""

from __future__ import annotations

import dataclasses
import hashlib
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from medview_plugins.threshold.plugin import ThresholdPlugin
from napari.components import ViewerModel
from napari.layers import Image, Labels, Shapes
from qtpy.QtWidgets import QInputDialog, QMessageBox

from medview.core.boxes import Box
from medview.core.geometry import Geometry
from medview.core.progress import no_progress
from medview.core.scan import Scan
from medview.models.registry import BrokenPlugin, Registry
from medview.qt.bridge import add_scan
from medview.qt.widgets.model_panel import ModelPanel

sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
sys.path.insert(0, str(Path(__file__).parents[1] / "models"))
from torchscript_files import Bright, bone_sidecar, save_model  # noqa: E402
from training_fixtures import TINY_MODEL, make_fine_tuned_version, make_plugin_folder  # noqa: E402

pytestmark = pytest.mark.gui


class SlowThreshold(ThresholdPlugin):
    """The threshold plugin, slowly: long enough to press Cancel."""

    def __init__(self) -> None:
        super().__init__()
        self.info = dataclasses.replace(self.info, name="slow")

    def predict(self, scan, progress=no_progress, cancel=None):
        def slowly(fraction, message):
            time.sleep(0.05)
            progress(fraction, message)

        return super().predict(scan, slowly, cancel)


class FakeClassifier(ThresholdPlugin):
    """Answers 'bone' with 0.8 and explains it with a ramp: exercises probabilities, boxes and saliency."""

    def __init__(self) -> None:
        super().__init__()
        labels = type(self.info.labels)(
            [*self.info.labels, type(next(iter(self.info.labels)))(2, "air", (0, 0, 0))]
        )
        self.info = dataclasses.replace(self.info, name="fake", task="classification", labels=labels)

    def predict(self, scan, progress=no_progress, cancel=None):
        saliency = np.linspace(0, 1, int(np.prod(scan.spatial_shape)), dtype=np.float32).reshape(
            scan.spatial_shape
        )
        boxes = [Box(1, 0.9, (1.0, 2.0, 3.0), (4.0, 6.0, 8.0))]
        return self._prediction(scan, probabilities=np.array([0.8, 0.2]), saliency=saliency, boxes=boxes)


@pytest.fixture
def viewer_and_panel(qtbot, small_ct):
    viewer = ViewerModel()
    registry = Registry(
        [ThresholdPlugin(), ThresholdPlugin(ndim=2, modalities=("DX",)), SlowThreshold(), FakeClassifier()],
        [BrokenPlugin("acme", "entry point acme:Plugin", "ImportError: needs libfoo")],
    )
    panel = ModelPanel(viewer, registry=registry)
    qtbot.addWidget(panel)
    add_scan(viewer, small_ct.scan)
    return viewer, panel


def run_and_wait(qtbot, panel, name):
    panel.select(name)
    with qtbot.waitSignal(panel.task_bar.finished, timeout=20000) as blocker:
        panel._run_button.click()
    return blocker.args[0]


def test_lists_fitting_plugins_and_broken_ones(viewer_and_panel):
    viewer, panel = viewer_and_panel
    assert panel.listed == [
        "threshold 1.0.0 — segmentation",
        "slow 1.0.0 — segmentation",
        "fake 1.0.0 — classification",
        "acme — broken: ImportError: needs libfoo",
    ]
    assert panel._scan_label.text() == "Scan: demo-ct-0 (CT)"


def test_run_twice_keeps_both_label_layers(qtbot, viewer_and_panel, small_ct):
    viewer, panel = viewer_and_panel
    assert run_and_wait(qtbot, panel, "threshold") == "done"
    assert run_and_wait(qtbot, panel, "threshold") == "done"
    layers = [layer for layer in viewer.layers if isinstance(layer, Labels)]
    assert [layer.name for layer in layers] == ["threshold 1.0.0", "threshold 1.0.0 [1]"]
    expected = (small_ct.scan.array >= 300).astype(np.uint8)
    assert all(np.array_equal(layer.data, expected) for layer in layers)
    assert np.allclose(layers[0].scale, small_ct.scan.spacing)
    assert layers[0].metadata["medview_label_map"].provenance.author == "threshold"


def test_cancel_keeps_the_viewer_as_it_was(qtbot, viewer_and_panel):
    viewer, panel = viewer_and_panel
    panel.select("slow")
    with qtbot.waitSignal(panel.task_bar.finished, timeout=20000) as blocker:
        panel._run_button.click()
        qtbot.waitUntil(lambda: panel.task_bar.fraction > 0, timeout=10000)
        panel.task_bar._cancel_button.click()
    assert blocker.args == ["cancelled"]
    assert panel.task_bar.message.endswith("cancelled")
    assert len(viewer.layers) == 1
    assert panel._run_button.isEnabled()


def test_probabilities_boxes_and_saliency(qtbot, viewer_and_panel):
    viewer, panel = viewer_and_panel
    assert run_and_wait(qtbot, panel, "fake") == "done"
    assert panel.result_text == "fake 1.0.0:\nbone: 0.80\nair: 0.20"
    shapes = next(layer for layer in viewer.layers if isinstance(layer, Shapes))
    assert shapes.name == "fake 1.0.0" and list(shapes.features["score"])[0] == pytest.approx(0.9)
    saliency = viewer.layers["fake 1.0.0 saliency"]
    assert isinstance(saliency, Image) and saliency.opacity < 1 and saliency.data.shape == (40, 64, 64)


def test_only_fitting_plugins_follow_the_active_scan(viewer_and_panel, small_radiograph):
    viewer, panel = viewer_and_panel
    add_scan(viewer, small_radiograph.scan)
    assert panel.listed[0] == "threshold-2d 1.0.0 — segmentation"
    viewer.layers.selection.active = viewer.layers[0]
    assert panel.listed[0] == "threshold 1.0.0 — segmentation"


@pytest.fixture
def fine_tuned_workspace(tmp_path):
    """A registry with the tiny CT network only, and a workspace with its version ``0.1.0+ft1``."""
    from medview.workspace import Workspace

    plugins = make_plugin_folder(tmp_path / "plugins")
    workspace = tmp_path / "workspace"
    Workspace.create(workspace).close()
    make_fine_tuned_version(workspace, plugins)
    return Registry([Registry.discover([plugins]).get(TINY_MODEL)]), workspace


def test_fine_tuned_versions_are_listed_and_run_side_by_side(qtbot, small_ct, fine_tuned_workspace):
    registry, workspace = fine_tuned_workspace
    viewer = ViewerModel()
    panel = ModelPanel(viewer, registry=registry)
    qtbot.addWidget(panel)
    add_scan(viewer, small_ct.scan)
    assert panel.listed == ["tiny-ct 0.1.0 — segmentation"]

    panel.set_workspace(workspace)
    assert panel.listed == ["tiny-ct 0.1.0 — segmentation", "tiny-ct 0.1.0+ft1 — segmentation (fine-tuned)"]
    assert run_and_wait(qtbot, panel, "tiny-ct 0.1.0+ft1") == "done"
    assert panel._selected_plugin().weights_path.parent == workspace / "models" / TINY_MODEL / "0.1.0+ft1"
    assert run_and_wait(qtbot, panel, "tiny-ct") == "done"
    labels = [layer for layer in viewer.layers if isinstance(layer, Labels)]
    assert [layer.name for layer in labels] == ["tiny-ct 0.1.0+ft1", "tiny-ct 0.1.0"]
    assert labels[0].data.shape == labels[1].data.shape == small_ct.scan.spatial_shape


def test_the_workspace_of_an_opened_case_shows_its_versions(qtbot, small_ct, fine_tuned_workspace):
    from medview.qt.widgets.annotation_panel import CASE_KEY

    registry, workspace = fine_tuned_workspace
    viewer = ViewerModel()
    panel = ModelPanel(viewer, registry=registry)
    qtbot.addWidget(panel)
    add_scan(viewer, small_ct.scan)
    viewer.add_labels(
        np.zeros(small_ct.scan.spatial_shape, np.uint8),
        metadata={CASE_KEY: {"workspace": str(workspace), "case_id": "case1"}},
    )
    assert panel.workspace == workspace
    assert "tiny-ct 0.1.0+ft1 — segmentation (fine-tuned)" in panel.listed


def test_a_version_the_training_panel_publishes_is_listed_at_once(
    main_window, small_ct, fine_tuned_workspace
):
    registry, workspace = fine_tuned_workspace
    models, training = main_window.panels["Models"], main_window.panels["Train"]
    models.registry = registry
    add_scan(main_window.viewer, small_ct.scan)
    assert models.listed == ["tiny-ct 0.1.0 — segmentation"]

    training.set_workspace(workspace)
    training.version_published.emit(TINY_MODEL, "0.1.0+ft1")
    assert models.listed == ["tiny-ct 0.1.0 — segmentation", "tiny-ct 0.1.0+ft1 — segmentation (fine-tuned)"]


def test_a_fine_tuned_detector_version_is_listed_and_finds_boxes(qtbot, small_radiograph, tmp_path):
    from medview.training import versions
    from medview.workspace import Workspace

    detector = Registry.discover().get("nodule-detector")
    workspace = tmp_path / "workspace"
    Workspace.create(workspace).close()
    folder = workspace / versions.MODELS / "nodule-detector" / "1.0.0+ft1"
    folder.mkdir(parents=True)
    (folder / versions.WEIGHTS).write_bytes(detector.weights_path.read_bytes())
    (folder / versions.MODEL_CARD).write_text('{"base_version": "1.0.0", "metric": "f1"}')
    viewer = ViewerModel()
    panel = ModelPanel(viewer, registry=Registry([detector]))
    qtbot.addWidget(panel)
    add_scan(viewer, small_radiograph.scan)

    panel.set_workspace(workspace)
    assert panel.listed == [
        "nodule-detector 1.0.0 — detection",
        "nodule-detector 1.0.0+ft1 — detection (fine-tuned)",
    ]
    assert run_and_wait(qtbot, panel, "nodule-detector 1.0.0+ft1") == "done"
    (shapes,) = [layer for layer in viewer.layers if isinstance(layer, Shapes)]
    assert shapes.name == "nodule-detector 1.0.0+ft1" and len(shapes.data) > 0


# --- input concerns: asked before running -------------------------------------------------------


class NeedsSpacing(ThresholdPlugin):
    """A 2-D DX model trained at 0.2 mm (the threshold template underneath) that records what it sees."""

    def __init__(self) -> None:
        super().__init__(threshold=5.0, ndim=2, modalities=("DX",))
        spec = dataclasses.replace(self.info.input, target_spacing=(0.2, 0.2), needs_spacing=True)
        self.info = dataclasses.replace(self.info, name="sized", input=spec)
        self.seen = []

    def predict(self, scan, progress=no_progress, cancel=None):
        self.seen.append(scan)
        return super().predict(scan, progress, cancel)


def picture(modality: str, units: str) -> Scan:
    array = np.zeros((30, 40), np.uint16)
    array[10:20, 5:25] = 9
    return Scan(array, Geometry.identity(2), modality, "photo", units=units, source="photo.png")


@pytest.fixture
def answers(monkeypatch):
    """Plays the user at the concern dialog: clicks the button named in ``answers["button"]`` (the
    real QMessageBox, never shown) and types ``answers["spacing"]`` into the pixel-size dialog."""
    seen = {"boxes": [], "asked_spacing": 0, "button": "Cancel", "spacing": None}

    def exec_(box):
        seen["boxes"].append((box.text(), box.informativeText(), [b.text() for b in box.buttons()]))
        next(b for b in box.buttons() if b.text().replace("&", "") == seen["button"]).click()
        return 0

    def get_text(parent, title, label, *args, **kwargs):
        seen["asked_spacing"] += 1
        seen["label"] = label
        return ("", False) if seen["spacing"] is None else (seen["spacing"], True)

    monkeypatch.setattr(QMessageBox, "exec", exec_)
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(get_text))
    return seen


@pytest.fixture
def sized_panel(qtbot):
    viewer = ViewerModel()
    plugin = NeedsSpacing()
    panel = ModelPanel(viewer, registry=Registry([plugin]))
    qtbot.addWidget(panel)
    return viewer, panel, plugin


def test_a_model_from_another_modality_is_listed_as_such(sized_panel):
    viewer, panel, _ = sized_panel
    add_scan(viewer, picture("MR", "mm"))
    assert panel.listed == ["sized 1.0.0 — segmentation (trained on DX)"]


def test_cancel_at_the_concern_runs_nothing(qtbot, sized_panel, answers):
    viewer, panel, plugin = sized_panel
    add_scan(viewer, picture("MR", "mm"))
    panel.select("sized")
    panel._run_button.click()
    ((text, _, buttons),) = answers["boxes"]
    assert (
        text
        == "sized 1.0.0 may give wrong answers on photo:\n\n• sized was trained on DX images; this scan is MR"
    )
    assert buttons == ["Run anyway", "Cancel"]
    assert not panel.task_bar.busy and plugin.seen == [] and len(viewer.layers) == 1
    assert panel._run_button.isEnabled()


def test_run_anyway_runs_on_another_modality_and_shows_the_result(qtbot, sized_panel, answers):
    viewer, panel, plugin = sized_panel
    scan = picture("MR", "mm")
    add_scan(viewer, scan)
    answers["button"] = "Run anyway"
    assert run_and_wait(qtbot, panel, "sized") == "done"
    (labels,) = [layer for layer in viewer.layers if isinstance(layer, Labels)]
    assert labels.name == "sized 1.0.0" and int(labels.data.sum()) == 200
    assert plugin.seen == [scan]


def test_unknown_pixel_size_offers_to_assume_one_or_cancel(qtbot, sized_panel, answers):
    viewer, panel, plugin = sized_panel
    add_scan(viewer, picture("OT", "pixel"))
    panel.select("sized")
    panel._run_button.click()  # Cancel at the concern
    ((text, informative, buttons),) = answers["boxes"]
    assert (
        "• sized was trained on DX at 0.2 x 0.2 mm; this scan's pixel size is unknown (pixel units)" in text
    )
    assert buttons == ["Enter pixel size…", "Cancel"] and "Enter the size to assume" in informative
    answers["button"] = "Enter pixel size…"
    panel._run_button.click()  # the user closes the pixel-size dialog
    assert answers["asked_spacing"] == 1 and "Pixel size of photo in mm" in answers["label"]
    assert plugin.seen == [] and len(viewer.layers) == 1


def test_an_assumed_pixel_size_runs_and_the_result_lies_on_the_scan(qtbot, sized_panel, answers):
    viewer, panel, plugin = sized_panel
    scan = picture("OT", "pixel")
    image = add_scan(viewer, scan)
    answers.update(button="Enter pixel size…", spacing="0.25")
    assert run_and_wait(qtbot, panel, "sized") == "done"
    (seen,) = plugin.seen
    assert seen.spacing == pytest.approx((0.25, 0.25)) and seen.units == "mm"
    (labels,) = [layer for layer in viewer.layers if isinstance(layer, Labels)]
    assert np.allclose(labels.scale, image.scale) and int(labels.data.sum()) == 200
    assert panel.result_text == "sized 1.0.0:\nassumed pixel size 0.25 x 0.25 mm (the file gives none)"
    assert labels.metadata["medview_label_map"].provenance.derived_from.endswith(
        "assumed pixel size 0.25 x 0.25 mm (the file gives none)"
    )


def test_a_typo_in_the_pixel_size_runs_nothing(qtbot, sized_panel, answers, monkeypatch):
    viewer, panel, plugin = sized_panel
    add_scan(viewer, picture("OT", "pixel"))
    warnings = []
    monkeypatch.setattr(
        QMessageBox, "warning", staticmethod(lambda parent, title, text: warnings.append(text))
    )
    answers.update(button="Enter pixel size…", spacing="0,25")
    panel.select("sized")
    panel._run_button.click()
    assert plugin.seen == [] and len(viewer.layers) == 1
    assert warnings == [
        "a pixel size is one number, or 2 comma-separated numbers in array order, each above zero; got '0,25'"
    ]


# --- trust: TorchScript files ---------------------------------------------------------------------


SIDECAR = bone_sidecar(-1000, 1000)


@pytest.fixture
def torchscript(tmp_path, monkeypatch):
    """A TorchScript model file with its sidecar; loading it fails the test while ``state["refuse"]``,
    and every question about trusting it is answered ``state["answer"]``."""
    path = save_model(tmp_path, Bright(), SIDECAR, name="bone.pt")
    real = torch.jit.load
    state = {"refuse": True, "loads": 0, "questions": [], "answer": QMessageBox.StandardButton.No}

    def load(*args, **kwargs):
        if state["refuse"]:
            pytest.fail("torch.jit.load ran on a TorchScript file nobody trusted")
        state["loads"] += 1
        return real(*args, **kwargs)

    def question(parent, title, text, buttons, default):
        state["questions"].append(text)
        return state["answer"]

    monkeypatch.setattr(torch.jit, "load", load)
    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    return path, state


def test_torchscript_runs_only_once_the_user_trusts_the_file(qtbot, small_ct, torchscript):
    path, state = torchscript
    viewer = ViewerModel()
    panel = ModelPanel(viewer, registry=Registry.discover([path.parent], group="no.such.group"))
    qtbot.addWidget(panel)
    add_scan(viewer, small_ct.scan)
    assert panel.listed == ["my-bone 3 — segmentation (TorchScript, asks before loading)"]

    panel.select("my-bone")
    panel._run_button.click()  # "No"
    (text,) = state["questions"]
    assert str(path) in text and hashlib.sha256(path.read_bytes()).hexdigest()[:16] in text
    assert "runs code stored in it" in text
    assert not panel.task_bar.busy and len(viewer.layers) == 1

    state.update(refuse=False, answer=QMessageBox.StandardButton.Yes)
    assert run_and_wait(qtbot, panel, "my-bone") == "done"
    assert run_and_wait(qtbot, panel, "my-bone") == "done"
    assert len(state["questions"]) == 2 and state["loads"] == 1
    labels = [layer for layer in viewer.layers if isinstance(layer, Labels)]
    assert [layer.name for layer in labels] == ["my-bone 3", "my-bone 3 [1]"]
    assert np.array_equal(labels[0].data, (small_ct.scan.array > 0).astype(np.uint8))
    assert panel.listed == ["my-bone 3 — segmentation"]

    # the same file, found again: trusted for the rest of the session without asking
    panel.registry = Registry.discover([path.parent], group="no.such.group")
    panel.refresh()
    assert run_and_wait(qtbot, panel, "my-bone") == "done"
    assert len(state["questions"]) == 2

    # new content at the same path is a new file: asked again
    path.write_bytes(path.read_bytes() + b"\0")
    panel.registry = Registry.discover([path.parent], group="no.such.group")
    panel.refresh()
    state["answer"] = QMessageBox.StandardButton.No
    panel.select("my-bone")
    panel._run_button.click()
    assert len(state["questions"]) == 3
