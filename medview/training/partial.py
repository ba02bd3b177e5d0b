"""Training on partly annotated scans: only the slices the annotator drew on count.

An annotator rarely labels every slice of a CT before wanting a better model. A case still in
progress contributes its *annotated slices*, the slices (first array axis) holding any label; the
others are marked :data:`IGNORE`, so the loss neither rewards nor punishes the network there and no
training patch is centred on them. A slice deliberately left all background cannot be told from one
not yet looked at, so it is ignored too: the cost is some lost background, never a wrong label.
Partly annotated cases only ever train; validation uses whole, finished cases.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
import torch
from monai.losses import DiceCELoss, DiceLoss
from monai.transforms import MapTransform

IGNORE = 255
"""Label value of voxels whose class is unknown (on slices nobody annotated)."""


def annotated_slices(label: np.ndarray) -> np.ndarray:
    """One flag per slice (first axis): does the slice hold any label?"""
    return np.asarray(label).reshape(len(label), -1).any(axis=1)


def mask_unannotated(label: np.ndarray, drawn: np.ndarray | None = None) -> np.ndarray:
    """A copy of ``label`` with every voxel of the unannotated slices set to :data:`IGNORE`.

    ``drawn`` is the annotation as drawn (default: ``label``): a slice where the annotator drew only
    classes the model does not know is still an annotated slice, all background for the model.
    """
    masked = np.array(label, dtype=np.uint8)
    masked[~annotated_slices(label if drawn is None else drawn)] = IGNORE
    return masked


class KnownIndicesd(MapTransform):
    """Foreground and background voxel indices for ``RandCropByPosNegLabeld``, leaving ignored voxels out.

    Like MONAI's ``FgBgToIndicesd`` (keys ``<label>_fg_indices``, ``<label>_bg_indices``), except that
    :data:`IGNORE` voxels are neither, so no patch is centred on a slice nobody annotated.
    """

    def __init__(self, key: str = "label") -> None:
        super().__init__(key)
        self.key = key

    def __call__(self, data: Mapping[Hashable, object]) -> dict:
        item = dict(data)
        label = np.asarray(item[self.key]).ravel()
        item[f"{self.key}_fg_indices"] = np.flatnonzero((label > 0) & (label != IGNORE))
        item[f"{self.key}_bg_indices"] = np.flatnonzero(label == 0)
        return item


class SegmentationLoss(torch.nn.Module):
    """Dice plus cross-entropy (MONAI's DiceCE, equally weighted) that skips :data:`IGNORE` voxels.

    A batch without ignored voxels goes to MONAI's ``DiceCELoss(to_onehot_y=True, softmax=True)``;
    one with them to MONAI's ``DiceLoss`` and torch's cross-entropy with an ignore index (which
    ``DiceCELoss`` lacks), the same loss over the known voxels.
    """

    def __init__(self) -> None:
        super().__init__()
        self.dice_ce = DiceCELoss(to_onehot_y=True, softmax=True)
        self.dice = DiceLoss(to_onehot_y=True, softmax=True, ignore_index=IGNORE)
        self.cross_entropy = torch.nn.CrossEntropyLoss(ignore_index=IGNORE)

    def forward(self, logits: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """``logits`` ``(N, C, *spatial)``, ``label`` ``(N, 1, *spatial)`` integer class values."""
        ignored = label == IGNORE
        if not torch.any(ignored):  # the usual batch: MONAI's DiceCE, without the masking passes
            return self.dice_ce(logits, label)
        if torch.all(ignored):
            return logits.sum() * 0.0  # a batch with no known voxel teaches nothing
        label = label.long()
        return self.dice(logits, label) + self.cross_entropy(logits, label[:, 0])
