"""The loop's schedule, configuration and early stopping, on in-memory cases (no workspace)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from monai.networks.nets import UNet

from medview.core.errors import InputError
from medview.core.labels import preset
from medview.demo import make_ct
from medview.models.api import InputSpec, ModelInfo, Normalisation
from medview.training.config import TrainingConfig
from medview.training.loop import BEST_WEIGHTS, CHECKPOINT, cosine_factor, fine_tune
from medview.training.objectives.segmentation import case_from_annotation
from medview.training.trainable import TrainableModel


@pytest.mark.parametrize(("fraction", "factor"), [(0.0, 1.0), (0.5, 0.5), (1.0, 0.0), (1.5, 0.0), (-1, 1.0)])
def test_the_learning_rate_follows_a_cosine_over_the_budget(fraction: float, factor: float):
    assert math.isclose(cosine_factor(fraction), factor, abs_tol=1e-12)


def test_the_configuration_round_trips_through_json_and_refuses_no_budget():
    config = TrainingConfig("ct-unet3d", epochs=None, minutes=2.5, patch_size=[8, 16, 16], cases=["a", "b"])
    assert TrainingConfig.from_json(config.to_json()) == config
    with pytest.raises(InputError, match="training budget"):
        TrainingConfig("ct-unet3d", epochs=None)
    with pytest.raises(InputError, match="epochs"):
        TrainingConfig("ct-unet3d", epochs=0)


def test_early_stopping_ends_the_run_when_the_dice_stops_improving(tmp_path: Path):
    labels = preset("liver-lesion")
    info = ModelInfo(
        "tiny", "1", "segmentation", ("CT",), InputSpec(3, 1, None, (8, 16, 16), Normalisation()), labels
    )
    cases = [
        case_from_annotation(c.scan, c.truth, labels) for c in (make_ct(s, (16, 24, 24)) for s in range(3))
    ]
    network = UNet(3, 1, 3, channels=(4, 8), strides=(2,))
    config = TrainingConfig(
        "tiny", epochs=10, patience=2, learning_rate=0.0, samples_per_case=1, device="cpu"
    )

    result = fine_tune(config, TrainableModel(info, network), cases, tmp_path)

    assert result.stop_reason == "early stopping" and result.epochs == 3 and result.best_epoch == 1
    assert result.metrics_after["dice"] == pytest.approx(result.metrics_before["dice"])
    assert (tmp_path / BEST_WEIGHTS).is_file() and (tmp_path / CHECKPOINT).is_file()
