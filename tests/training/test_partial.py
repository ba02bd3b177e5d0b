"""Partly annotated scans: unannotated slices are ignored by the loss and by patch sampling."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.losses import DiceCELoss
from training_fixtures import TINY_MODEL, TINY_SHAPE

from medview.core.errors import InputError
from medview.core.provenance import Provenance
from medview.core.scan import LabelMap
from medview.demo import make_ct
from medview.io import write_scan
from medview.models.registry import Registry
from medview.training.config import TrainingConfig
from medview.training.dataset import TrainingCase, split_by_case
from medview.training.partial import (
    IGNORE,
    KnownIndicesd,
    SegmentationLoss,
    annotated_slices,
    mask_unannotated,
)
from medview.training.runner import annotated_cases, train_in_workspace
from medview.workspace import Workspace


def _label() -> np.ndarray:
    label = np.zeros((6, 8, 8), np.uint8)
    label[1, 2:5, 2:5] = 1
    label[4, 3:6, 3:6] = 2
    return label


def test_only_slices_with_a_label_count_as_annotated():
    label = _label()

    assert annotated_slices(label).tolist() == [False, True, False, False, True, False]
    masked = mask_unannotated(label)
    assert np.all(masked[[0, 2, 3, 5]] == IGNORE)
    assert np.array_equal(masked[[1, 4]], label[[1, 4]])
    drawn = label.copy()
    drawn[2, 0, 0] = 7  # a class the model does not know still marks the slice as annotated
    assert np.all(mask_unannotated(label, drawn)[2] == 0)


def test_the_masked_path_equals_monai_dice_ce_where_nothing_is_ignored():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 6, 8, 8)
    label = torch.from_numpy(np.stack([_label(), _label()[::-1].copy()]))[:, None].long()
    loss = SegmentationLoss()

    masked = loss.dice(logits, label) + loss.cross_entropy(logits, label[:, 0])

    assert float(masked) == pytest.approx(
        float(DiceCELoss(to_onehot_y=True, softmax=True)(logits, label)), rel=1e-5
    )


def test_the_loss_equals_monai_dice_ce_on_full_annotation():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 6, 8, 8)
    label = torch.from_numpy(np.stack([_label(), _label()[::-1].copy()]))[:, None].long()

    expected = DiceCELoss(to_onehot_y=True, softmax=True)(logits, label)

    assert float(SegmentationLoss()(logits, label)) == pytest.approx(float(expected), rel=1e-5)


def test_ignored_voxels_neither_change_the_loss_nor_get_gradient():
    torch.manual_seed(0)
    label = torch.from_numpy(mask_unannotated(_label()))[None, None].long()
    logits = torch.randn(1, 3, 6, 8, 8, requires_grad=True)
    loss = SegmentationLoss()(logits, label)
    loss.backward()

    assert torch.all(logits.grad[:, :, [0, 2, 3, 5]] == 0)
    assert torch.any(logits.grad[:, :, [1, 4]] != 0)
    changed = logits.detach().clone()
    changed[:, :, [0, 2, 3, 5]] = torch.randn(1, 3, 4, 8, 8) * 10
    assert float(SegmentationLoss()(changed, label)) == pytest.approx(loss.item(), rel=1e-6)


def test_a_patch_with_nothing_known_gives_zero_loss():
    label = torch.full((1, 1, 4, 4, 4), IGNORE)
    assert float(SegmentationLoss()(torch.randn(1, 3, 4, 4, 4), label)) == 0.0


def test_patch_centres_avoid_ignored_voxels():
    label = mask_unannotated(_label())
    item = KnownIndicesd("label")({"label": label[None]})

    fg, bg = item["label_fg_indices"], item["label_bg_indices"]
    flat = label.ravel()
    assert set(np.unique(flat[fg])) == {1, 2} and set(np.unique(flat[bg])) == {0}
    assert len(fg) + len(bg) == np.count_nonzero(flat != IGNORE)


def _case(name: str, partial: bool = False) -> TrainingCase:
    return TrainingCase(name, np.zeros((4, 4, 4)), np.ones((4, 4, 4), np.uint8), partial=partial)


def test_partial_cases_always_train_and_done_cases_validate():
    cases = [_case("done1"), _case("open", partial=True), _case("done2"), _case("open2", partial=True)]

    for seed in range(5):
        training, validation = split_by_case(cases, 0.5, seed)
        assert {"open", "open2"} <= {case.name for case in training}
        assert validation and not any(case.partial for case in validation)
    training, validation = split_by_case([_case("done"), _case("open", partial=True)], 0.2, 0)
    assert [c.name for c in training] == ["open"] and [c.name for c in validation] == ["done"]
    with pytest.raises(InputError, match="validation needs a finished"):
        split_by_case([_case("a", partial=True), _case("b", partial=True)], 0.2, 0)


def test_the_open_scans_annotated_slices_train_with_the_done_cases(plugin_folder: Path, workspace_dir: Path):
    """A case still being annotated (5 of 24 slices drawn) joins training by those slices only."""
    demo = make_ct(9, TINY_SHAPE, domain="shifted")
    drawn = np.zeros_like(demo.truth.array)
    drawn[10:15] = demo.truth.array[10:15]
    predicted = make_ct(10, TINY_SHAPE, domain="shifted")
    sources = workspace_dir.parent / "open-sources"
    with Workspace.open(workspace_dir) as workspace:
        open_case = workspace.add_case(write_scan(demo.scan, sources / "open.nii.gz"))
        workspace.save_labels(open_case.id, LabelMap(drawn, demo.truth.geometry, demo.truth.labels))
        guessed = workspace.add_case(write_scan(predicted.scan, sources / "guessed.nii.gz"))
        workspace.save_labels(
            guessed.id,
            LabelMap(
                predicted.truth.array,
                predicted.truth.geometry,
                predicted.truth.labels,
                Provenance.predicted(TINY_MODEL, "0.1.0"),
            ),
        )
        assert workspace.case(open_case.id).status == "in_progress"

    plugin = Registry.discover([plugin_folder]).get(TINY_MODEL)
    cases = {case.name: case for case in annotated_cases(workspace_dir, plugin)}
    assert guessed.id not in cases  # an uncorrected prediction never trains its own model
    partial = cases[open_case.id]
    assert partial.partial and np.flatnonzero((partial.label != IGNORE).any(axis=(1, 2))).tolist() == [
        10,
        11,
        12,
        13,
        14,
    ]
    assert np.all(partial.label[:10] == IGNORE) and np.all(partial.label[15:] == IGNORE)

    config = TrainingConfig(TINY_MODEL, epochs=1, device="cpu", validation_fraction=0.3, seed=1)
    outcome = train_in_workspace(workspace_dir, config, registry=Registry.discover([plugin_folder]))

    assert open_case.id in outcome.result.training_cases
    assert open_case.id not in outcome.result.validation_cases
    assert np.isfinite(outcome.result.history[0].loss)
    data = json.loads((outcome.run_dir / "data.json").read_text())
    assert data["annotated_slices_only"] == [open_case.id]
