"""Train the nodule detector on demo radiographs; writes ``weights.safetensors`` and ``MODEL_CARD.md``.

Run: ``nice python -m medview_plugins.nodule_detector.train`` (deterministic; a few minutes on 1 thread).
Training is ``medview.training``'s, from scratch, with the detector's own objective (``objective.py``).
"""

from __future__ import annotations

import time

import torch

from medview.models.engine import Engine
from medview_plugins.nodule_detector import data
from medview_plugins.nodule_detector.objective import VALIDATION_IOU, VALIDATION_SCORE
from medview_plugins.nodule_detector.plugin import FOLDER, INFO, PATCH, NoduleDetector
from medview_plugins.training import (
    held_out_metrics,
    make_reproducible,
    run_facts,
    scratch_config,
    train_from_scratch,
    write_card,
)

CONFIG = scratch_config(
    INFO, epochs=80, batch_size=2, samples_per_case=4, positive_fraction=0.5, augment=True
)

CARD = """# nodule-detector {version}

CenterNet-style anchor-free detector: a MONAI `UNet` (channels 8-16-32-64, one residual unit;
{parameters:,} parameters) predicting a centre heatmap and log box height/width per pixel; peaks
(3x3 maxima, score >= 0.3) become boxes, pruned by MONAI `non_max_suppression` (IoU 0.3).

- **Input**: DX/CR radiograph, 0..4095 scaled to 0..1, resampled to 1.6 mm; windows of {patch}.
- **Training data**: `medview.demo.make_radiograph(seed, shape={shape})` for seeds {train_seeds},
  trained from scratch by `medview.training` with the detector's objective (`objective.py`): {patch}
  crops (MONAI `RandWeightedCropd`), {positive:.0%} of them holding a nodule centre, random flips;
  binary cross-entropy towards Gaussian centre heatmaps (weighted up to 101x at centres) plus L1 on
  log sizes at the centres; the heatmap bias starts at a prior of 0.1 (CenterNet). AdamW, peak
  learning rate {learning_rate:g} with a cosine schedule over {epochs} epochs; an epoch is
  {steps_per_epoch} steps of {batch} radiographs x {samples} crops.
- **Train**: `nice python -m medview_plugins.nodule_detector.train` (seed fixed, deterministic
  algorithms, torch threads: {threads}; took {minutes:.1f} min on a {host_cpus}-CPU machine, torch {torch}).
- **Validation** (held out: seeds {validation_seeds}, each predicted whole through the plugin on CPU
  after every epoch; the weights are those of the best validation epoch, {best_epoch} of {epochs}):
  `medview.metrics` box matching, a box with score >= {score} is a hit when it overlaps an unmatched
  true box with IoU >= {iou}; F1, precision and recall per radiograph, averaged over radiographs:

{metrics}

- **Limits**: synthetic nodules on synthetic radiographs only. Trained {date}.
"""


def validate(plugin: NoduleDetector) -> dict[str, float]:
    """F1, precision and recall on the held-out radiographs, as training validation scored the best epoch."""
    return held_out_metrics(plugin, data.training_cases(data.VALIDATION_SEEDS))


def main() -> None:
    make_reproducible()
    started = time.perf_counter()
    plugin = NoduleDetector(Engine.create("cpu"))
    result = train_from_scratch(
        plugin,
        CONFIG,
        data.training_cases(data.TRAIN_SEEDS),
        data.training_cases(data.VALIDATION_SEEDS),
        prepare=_start_heatmap_low,
    )
    print(result.metrics_after)
    write_card(
        FOLDER,
        CARD,
        result.metrics_after,
        **run_facts(plugin, CONFIG, result, data, started),
        version=INFO.version,
        patch=PATCH,
        positive=CONFIG.positive_fraction,
        score=VALIDATION_SCORE,
        iou=VALIDATION_IOU,
        validation_seeds=f"{data.VALIDATION_SEEDS[0]}-{data.VALIDATION_SEEDS[-1]}",
    )


def _start_heatmap_low(network: torch.nn.Module) -> None:
    """CenterNet's initialisation: a heatmap prior of about 0.1 keeps the first focal losses sane."""
    last = [m for m in network.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))][-1]
    with torch.no_grad():
        last.bias[0] = -2.19


if __name__ == "__main__":
    main()
