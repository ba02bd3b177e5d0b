"""The model panel lists fitting plugins, their fine-tuned versions (and broken ones), runs one in a worker,
shows results as layers."""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from medview_plugins.threshold.plugin import ThresholdPlugin
from napari.components import ViewerModel
from napari.layers import Image, Labels, Shapes

from medview.core.boxes import Box
from medview.core.progress import no_progress
from medview.models.registry import BrokenPlugin, Registry
from medview.qt.bridge import add_scan
from medview.qt.widgets.model_panel import ModelPanel

sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
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
