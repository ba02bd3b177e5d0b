"""Train the patch classifier on demo radiograph patches; writes ``weights.safetensors`` and the card.

Run: ``nice python -m medview_plugins.patch_classifier.train`` (deterministic; a few minutes on 1 thread).
Training is ``medview.training``'s, from scratch, with the classifier's own objective (cross-entropy).
"""

from __future__ import annotations

import time

from medview.models.engine import Engine
from medview_plugins.patch_classifier import data
from medview_plugins.patch_classifier.plugin import CAM_LAYER, FOLDER, INFO, PatchClassifier
from medview_plugins.training import (
    held_out_metrics,
    make_reproducible,
    run_facts,
    scratch_config,
    train_from_scratch,
    write_card,
)

PER_IMAGE = 8
CONFIG = scratch_config(INFO, epochs=20, batch_size=8, augment=True)

CARD = """# patch-classifier {version}

MONAI `DenseNet` (16 initial features, growth 8, blocks 2-4-4; {parameters:,} parameters) that says
whether a radiograph patch holds a nodule (`no nodule`, `nodule`), with a MONAI Grad-CAM saliency map
(layer `{cam_layer}`) of the winning class.

- **Input**: DX/CR image, 0..4095 scaled to 0..1, resampled to 1.6 mm; the whole image at once
  (global pooling). Trained on 64 x 64-pixel (10 cm) patches: use it on patches of about that size.
- **Training data**: patches cut from `medview.demo.make_radiograph(seed, shape={shape})` for seeds
  {train_seeds}, {per_image} per image, balanced; `nodule` = a nodule centre at least 12 pixels
  inside, `no nodule` = no nodule box touches the patch ({count} patches). Trained from scratch by
  `medview.training` with the classifier's objective: each patch whole once per epoch, random flips,
  cross-entropy (batch-norm statistics learnt); AdamW, peak learning rate {learning_rate:g} with a
  cosine schedule over {epochs} epochs; an epoch is {steps_per_epoch} steps of {batch} patches.
- **Train**: `nice python -m medview_plugins.patch_classifier.train` (seed fixed, deterministic
  algorithms, torch threads: {threads}; took {minutes:.1f} min on a {host_cpus}-CPU machine, torch {torch}).
- **Validation** (held out: patches of seeds {validation_seeds}, each predicted through the plugin on
  CPU after every epoch; the weights are those of the best validation epoch, {best_epoch} of
  {epochs}): `medview.metrics` accuracy of the most probable class, and ROC AUC of the nodule
  probability:

{metrics}

- **Limits**: synthetic nodules only. Trained {date}.
"""


def validate(plugin: PatchClassifier) -> dict[str, float]:
    """Accuracy and ROC AUC on held-out patches, as training validation scored the best epoch."""
    return held_out_metrics(plugin, data.training_cases(data.VALIDATION_SEEDS, PER_IMAGE))


def main() -> None:
    make_reproducible()
    started = time.perf_counter()
    plugin = PatchClassifier(Engine.create("cpu"))
    training = data.training_cases(data.TRAIN_SEEDS, PER_IMAGE)
    result = train_from_scratch(
        plugin, CONFIG, training, data.training_cases(data.VALIDATION_SEEDS, PER_IMAGE)
    )
    print(result.metrics_after)
    write_card(
        FOLDER,
        CARD,
        result.metrics_after,
        **run_facts(plugin, CONFIG, result, data, started),
        version=INFO.version,
        cam_layer=CAM_LAYER,
        validation_seeds=f"{data.VALIDATION_SEEDS[0]}-{data.VALIDATION_SEEDS[-1]}",
        per_image=PER_IMAGE,
        count=len(training),
    )


if __name__ == "__main__":
    main()
