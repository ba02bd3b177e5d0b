"""How the nodule detector learns: Gaussian centre heatmaps and log box sizes as targets, and their loss.

Shared by the training script (``train.py``, which made the bundled weights) and by fine-tuning in a
workspace (``medview train --model nodule-detector``), which wraps them in a
:class:`~medview.training.objectives.DetectionObjective`.
"""

from __future__ import annotations

import numpy as np
import torch

from medview.core.boxes import Box
from medview.training.objectives import DetectionObjective

VALIDATION_SCORE = 0.5
"""Boxes scoring below this are not counted in validation F1, as in the model card."""
VALIDATION_IOU = 0.3


def training_objective() -> DetectionObjective:
    """Fine-tuning with the detector's own targets and loss; validation F1 of its predictions at IoU 0.3."""
    return DetectionObjective(targets, centre_loss, VALIDATION_SCORE, VALIDATION_IOU)


def targets(boxes: list[Box], shape: tuple[int, int]) -> np.ndarray:
    """``(3, H, W)`` training target: Gaussian centre heatmap (peak exactly 1), log height, log width."""
    target = np.zeros((3, *shape), np.float32)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    for box in boxes:
        size = np.asarray(box.size)
        centre = np.asarray(box.start) + size / 2 - 0.5
        sigma = max(float(size.max()) / 4, 1.0)
        heat = np.exp(-((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) / (2 * sigma**2))
        peak = tuple(np.clip(np.round(centre).astype(int), 0, np.asarray(shape) - 1))
        heat[peak] = 1.0
        target[0] = np.maximum(target[0], heat)
        target[1:, peak[0], peak[1]] = np.log(size)
    return target


def centre_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy towards the Gaussian centre heatmap, weighted up near centres, plus L1 on
    log sizes at the true centres."""
    truth = target[:, 0]
    weight = 1.0 + 100.0 * truth
    heat = torch.nn.functional.binary_cross_entropy_with_logits(
        output[:, 0], truth, weight=weight, reduction="sum"
    )
    heat = heat / weight.sum()
    centres = truth == 1.0
    size = torch.abs(output[:, 1:] - target[:, 1:]).permute(0, 2, 3, 1)[centres]
    return heat + (size.mean() if len(size) else output.sum() * 0.0)
