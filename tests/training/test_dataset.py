"""Cases, the split by case, foreground oversampling and modality-specific augmentation."""

from __future__ import annotations

import numpy as np
import pytest

from medview.core.errors import InputError
from medview.core.geometry import Geometry
from medview.core.labels import preset
from medview.core.scan import LabelMap
from medview.demo import make_ct
from medview.models.api import Normalisation
from medview.training.dataset import TrainingCase, split_by_case
from medview.training.objectives.segmentation import (
    augmentation,
    case_from_annotation,
    training_dataset,
)

RANGE = Normalisation("range", 0.0, 100.0)


def cube_case(name: str = "cube", shape=(20, 40, 40)) -> TrainingCase:
    """Background 0 with one 3x3x3 foreground cube of value 1 (image 100 inside, 0 outside)."""
    label = np.zeros(shape, np.uint8)
    label[8:11, 18:21, 18:21] = 1
    return TrainingCase(name, label * 100.0, label, "CT", (1.0, 1.0, 1.0))


@pytest.mark.parametrize(
    ("count", "fraction", "held_out"), [(2, 0.2, 1), (3, 0.5, 2), (5, 0.2, 1), (10, 0.3, 3)]
)
def test_the_split_keeps_each_case_on_one_side(count: int, fraction: float, held_out: int):
    cases = [cube_case(f"case{i}") for i in range(count)]
    training, validation = split_by_case(cases, fraction, seed=4)

    assert len(validation) == held_out and len(training) == count - held_out
    assert {c.name for c in training}.isdisjoint({c.name for c in validation})
    assert {c.name for c in training} | {c.name for c in validation} == {c.name for c in cases}
    assert split_by_case(cases, fraction, seed=4) == (training, validation)


def test_the_split_refuses_a_single_case_and_duplicate_names():
    with pytest.raises(InputError, match="2 or more annotated cases"):
        split_by_case([cube_case()], 0.2, 0)
    with pytest.raises(InputError, match="share a name"):
        split_by_case([cube_case("a"), cube_case("a")], 0.2, 0)


def test_annotation_values_are_mapped_to_the_model_classes_by_name():
    demo = make_ct(0, (16, 32, 32))
    case = case_from_annotation(demo.scan, demo.truth, preset("liver-lesion"))

    truth = demo.truth.array  # ct-abdomen: 3 liver, 5 lesion -> liver-lesion: 1 liver, 2 lesion
    assert np.array_equal(case.label == 1, truth == 3) and np.array_equal(case.label == 2, truth == 5)
    assert set(np.unique(case.label)) == {0, 1, 2}
    assert case.spacing == demo.scan.geometry.spacing and case.digest() != cube_case().digest()


def test_an_annotation_off_the_grid_or_without_model_classes_is_refused():
    demo = make_ct(0, (16, 32, 32))
    shifted = LabelMap(demo.truth.array, Geometry.from_spacing((1.0, 1.0, 1.0)), demo.truth.labels)
    with pytest.raises(InputError, match="voxel grid"):
        case_from_annotation(demo.scan, shifted, preset("liver-lesion"))
    with pytest.raises(InputError, match="none of the model's classes"):
        case_from_annotation(demo.scan, demo.truth, preset("nucleus"))


@pytest.mark.parametrize(("positive", "least", "most"), [(1.0, 1.0, 1.0), (0.0, 0.0, 0.5)])
def test_patches_oversample_the_foreground(positive: float, least: float, most: float):
    dataset = training_dataset([cube_case()], (8, 16, 16), RANGE, None, 40, positive, augment=False)
    dataset.transform.set_random_state(seed=0)

    patches = dataset[0]
    with_foreground = np.mean([bool(patch["label"].any()) for patch in patches])
    assert least <= with_foreground <= most
    assert tuple(patches[0]["image"].shape) == (1, 8, 16, 16) and float(patches[0]["image"].max()) <= 1.0


def test_histology_is_augmented_with_elastic_deformation_and_keeps_label_values():
    names = {type(t).__name__ for t in augmentation("SM", 2)}
    assert {"Rand2DElasticd", "RandRotate90d", "RandAdjustContrastd"} <= names
    assert "Rand2DElasticd" not in {type(t).__name__ for t in augmentation("CT", 3)}

    label = np.zeros((64, 64), np.uint8)
    label[20:40, 10:30] = 1
    label[45:60, 40:60] = 2
    tile = TrainingCase("tile", np.repeat(label[..., None] * 80.0, 3, axis=2), label, "SM")
    dataset = training_dataset([tile], (32, 32), Normalisation("range", 0, 255), None, 8, 0.5, augment=True)
    for seed in range(3):
        dataset.transform.set_random_state(seed=seed)
        for patch in dataset[0]:
            assert tuple(patch["image"].shape) == (3, 32, 32)
            assert set(np.unique(patch["label"].numpy())) <= {0, 1, 2}
