"""Detection and classification fine-tune like segmentation: a new version, its metric, and it predicts.

Also what the objectives compute on small hand-made inputs, and the refusal of plugins without one.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from training_fixtures import make_box_workspace, make_class_workspace

from medview.core.boxes import Box
from medview.core.errors import InputError
from medview.core.labels import LabelClass, LabelTable
from medview.core.progress import CancelToken, ProgressCallback, no_progress
from medview.core.provenance import Provenance
from medview.core.scan import Scan
from medview.io import open_scan
from medview.models.api import InputSpec, ModelInfo, Prediction
from medview.models.network_plugin import NetworkPlugin
from medview.models.registry import Registry
from medview.training import versions
from medview.training.config import TrainingConfig
from medview.training.objectives import (
    ClassificationObjective,
    DetectionObjective,
    SegmentationObjective,
    objective_for,
)
from medview.training.objectives.detection import crop_weights
from medview.training.runner import annotated_cases, train_in_workspace, trainable_model
from medview.training.versions import version_plugin
from medview.workspace import Workspace


def test_the_nodule_detector_fine_tunes_on_boxes_and_its_version_finds_nodules(tmp_path: Path):
    workspace = make_box_workspace(tmp_path / "workspace")
    config = TrainingConfig("nodule-detector", epochs=2, samples_per_case=2, device="cpu")

    outcome = train_in_workspace(workspace, config)

    result = outcome.result
    assert outcome.version == "1.0.0+ft1" and result.metric == "f1"
    assert [record.epoch for record in result.history] == [1, 2]
    assert all(math.isfinite(record.loss) for record in result.history)
    assert set(result.metrics_before) == set(result.metrics_after) == {"f1", "precision", "recall"}
    assert result.history[-1].val_score == result.history[-1].metrics["f1"]
    (version,) = versions.list_versions(workspace, "nodule-detector")
    assert version.card["metric"] == "f1" and version.card["metrics_after"] == result.metrics_after
    data = version.card["data"]
    assert (len(data["training"]), len(data["validation"]), len(data["test"])) == (2, 1, 1)
    assert version.card["test_cases"] == list(data["test"]) == outcome.test.case_ids

    detector = version_plugin(Registry.discover().get("nodule-detector"), version)
    with Workspace.open(workspace) as opened:
        scan = open_scan(opened.cases()[0].path)
    prediction = detector.predict(scan)
    assert prediction.info.title == "nodule-detector 1.0.0+ft1"
    assert prediction.boxes and all(box.label == 1 and box.score >= 0.3 for box in prediction.boxes)


def test_the_patch_classifier_fine_tunes_on_case_classes_and_its_version_classifies(tmp_path: Path):
    workspace = make_class_workspace(tmp_path / "workspace")
    config = TrainingConfig("patch-classifier", epochs=2, validation_fraction=0.25, device="cpu")

    outcome = train_in_workspace(workspace, config)

    result = outcome.result
    assert outcome.version == "1.0.0+ft1" and result.metric == "accuracy"
    assert all(math.isfinite(record.loss) for record in result.history) and len(result.history) == 2
    assert "accuracy" in result.metrics_before and "accuracy" in result.metrics_after
    # the bundled classifier is right on these patches; a few small steps must not undo that
    assert result.metrics_after["accuracy"] == result.metrics_before["accuracy"] == 1.0
    (version,) = versions.list_versions(workspace, "patch-classifier")
    assert version.card["metric"] == "accuracy"

    classifier = version_plugin(Registry.discover().get("patch-classifier"), version)
    with Workspace.open(workspace) as opened:
        scan = open_scan(opened.cases()[1].path)  # the second patch holds a nodule
    prediction = classifier.predict(scan)
    assert prediction.info.title == "patch-classifier 1.0.0+ft1"
    assert prediction.probabilities.shape == (2,) and prediction.probabilities.sum() == pytest.approx(1.0)
    assert max(prediction.probabilities_by_class(), key=prediction.probabilities_by_class().get) == "nodule"


def test_class_cases_are_read_in_the_model_classes_and_a_foreign_class_is_refused(tmp_path: Path):
    workspace = make_class_workspace(tmp_path / "workspace")
    classifier = Registry.discover().get("patch-classifier")

    cases = annotated_cases(workspace, classifier)
    assert [int(case.label) for case in cases] == [0, 1, 0, 1, 1, 0, 1, 0]
    with Workspace.open(workspace) as opened:
        first = opened.cases()[0]
        opened.save_class(first.id, "calcified", _table("calcified"), Provenance.drawn())
    with pytest.raises(InputError, match="annotated 'calcified', not a class of 'patch-classifier'"):
        annotated_cases(workspace, classifier)


def test_plugins_without_a_training_objective_are_refused_with_the_reason(tmp_path: Path):
    workspace = make_box_workspace(tmp_path / "workspace", seeds=(1, 2))

    with pytest.raises(
        InputError, match="model 'threshold' cannot be fine-tuned: it is not a PyTorch network"
    ):
        train_in_workspace(workspace, TrainingConfig("threshold", epochs=1))
    with pytest.raises(
        InputError, match="'boxes-only' cannot be fine-tuned: its plugin declares no training"
    ):
        objective_for(_BoxesOnly())
    assert isinstance(objective_for(Registry.discover().get("nodule-detector")), DetectionObjective)
    assert isinstance(objective_for(Registry.discover().get("patch-classifier")), ClassificationObjective)
    assert isinstance(objective_for(Registry.discover().get("ct-unet3d")), SegmentationObjective)


@pytest.mark.parametrize(
    ("centre", "near_centres"),
    [
        # patch 32: a crop starting at s holds the centre 4 px (patch/8) inside when s+4 <= c <= s+28
        ((32.0, 32.0), (slice(20, 45), slice(20, 45))),
        ((2.0, 32.0), (slice(16, 17), slice(20, 45))),  # too near the top edge: the one crop at the top
    ],
)
def test_crop_centres_near_a_box_get_the_positive_fraction(centre, near_centres):
    box = Box(1, 1.0, (centre[0] - 1, centre[1] - 1), (centre[0] + 1, centre[1] + 1))

    weights = crop_weights([box], (64, 64), (32, 32), positive_fraction=0.75)[0]

    near = np.zeros((64, 64), bool)
    near[near_centres] = True
    assert weights[near].sum() == pytest.approx(0.75) and weights[~near].sum() == pytest.approx(0.25)
    assert np.all(weights[near] > 0) and np.ptp(weights[near]) == pytest.approx(0.0)
    assert np.array_equal(crop_weights([], (64, 64), (32, 32), 0.75), np.ones((1, 64, 64), np.float32))


def test_every_detection_patch_holds_a_box_centre_when_all_are_positive(tmp_path: Path):
    workspace = make_box_workspace(tmp_path / "workspace", seeds=(1, 2))
    detector = Registry.discover().get("nodule-detector")
    objective = objective_for(detector)
    config = TrainingConfig("nodule-detector", samples_per_case=6, positive_fraction=1.0)

    dataset = objective.training_dataset(
        annotated_cases(workspace, detector), trainable_model(detector), config
    )
    dataset.transform.set_random_state(seed=3)

    for patch in [sample for index in range(len(dataset)) for sample in dataset[index]]:
        assert tuple(patch["image"].shape) == (1, 128, 128) and tuple(patch["target"].shape) == (3, 128, 128)
        assert float(patch["target"][0].max()) == 1.0  # a centre peak, flipped along with the image


class _BoxesOnly(NetworkPlugin):
    """A detection network that says nothing of how it learns."""

    info = ModelInfo("boxes-only", "1.0", "detection", ("DX",), InputSpec(2))

    def build_network(self) -> torch.nn.Module:
        return torch.nn.Identity()

    def predict(
        self, scan: Scan, progress: ProgressCallback = no_progress, cancel: CancelToken | None = None
    ) -> Prediction:
        raise NotImplementedError


def _table(*names: str) -> LabelTable:
    return LabelTable([LabelClass(i + 1, name, (200, 200, 200)) for i, name in enumerate(names)])


def test_a_case_of_unknown_pixel_size_is_refused_for_a_model_that_needs_one(tmp_path: Path):
    import imageio.v3 as iio

    from medview.demo import make_radiograph

    demo = make_radiograph(1, (192, 192))
    picture = tmp_path / "radiograph.png"  # a PNG holds no pixel size
    iio.imwrite(picture, demo.scan.array)
    with Workspace.create(tmp_path / "workspace") as workspace:
        case = workspace.add_case(picture)
        workspace.save_boxes(case.id, demo.boxes, demo.box_labels, Provenance("demo"))
        workspace.set_status(case.id, "done")
    detector = Registry.discover().get("nodule-detector")

    with pytest.raises(InputError, match="radiograph.png: this scan's pixel size is unknown"):
        objective_for(detector).cases(tmp_path / "workspace", detector)
