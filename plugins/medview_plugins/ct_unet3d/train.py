"""Train the CT U-Net on demo phantoms and write ``weights.safetensors`` and ``MODEL_CARD.md``.

Run: ``nice python -m medview_plugins.ct_unet3d.train`` (deterministic; a few minutes on 1 thread).
Training is ``medview.training``'s, from scratch, with the segmentation objective fine-tuning uses.
"""

from __future__ import annotations

import time

from medview.models.engine import Engine
from medview_plugins.ct_unet3d import data
from medview_plugins.ct_unet3d.plugin import FOLDER, INFO, PATCH, CTUNet3D
from medview_plugins.training import (
    held_out_metrics,
    make_reproducible,
    run_facts,
    scratch_config,
    train_from_scratch,
    write_card,
)

CONFIG = scratch_config(INFO, epochs=50, batch_size=1, samples_per_case=2, augment=False)

CARD = """# ct-unet3d {version}

3-D MONAI `UNet` (channels 8-16-32-64, strides 2, one residual unit; {parameters:,} parameters) that
labels body, lungs, liver, bone and lesions on CT (label table `ct-abdomen`).

- **Input**: CT in HU, clipped to -1000..500 and scaled to 0..1, resampled to {spacing} mm (z, y, x);
  sliding windows of {patch} voxels with Gaussian blending.
- **Training data**: `medview.demo.make_ct(seed, shape={shape})` for seeds {train_seeds}
  (standard domain), trained from scratch by `medview.training` with its segmentation objective:
  {patch} crops, {positive:.0%} of them centred on a labelled voxel (MONAI `RandCropByPosNegLabeld`),
  no augmentation; Dice + cross-entropy loss; AdamW, peak learning rate {learning_rate:g} with a
  cosine schedule over {epochs} epochs; an epoch is {steps_per_epoch} steps of {batch} case x {samples} crops.
- **Train**: `nice python -m medview_plugins.ct_unet3d.train` (seed fixed, deterministic algorithms,
  torch threads: {threads}; took {minutes:.1f} min on a {host_cpus}-CPU machine, torch {torch}).
- **Validation** (held out: seeds {validation_seeds}, same shape, each predicted whole through the
  plugin with `medview.models` sliding-window inference on CPU after every epoch; the weights are
  those of the best validation epoch, {best_epoch} of {epochs}), `medview.metrics` Dice per class and
  `dice`, the mean over cases of each case's mean over its classes:

{metrics}

- **Limits**: a phantom model. It has never seen real CT; on the demo's `shifted` domain
  (contrast-enhanced, noisier) it degrades — that is the fine-tuning demo. Trained {date}.
"""


def validate(plugin: CTUNet3D) -> dict[str, float]:
    """The held-out cases' Dice, as training validation scored the best epoch."""
    return held_out_metrics(plugin, data.training_cases(data.VALIDATION_SEEDS))


def main() -> None:
    make_reproducible()
    started = time.perf_counter()
    plugin = CTUNet3D(Engine.create("cpu"))
    result = train_from_scratch(
        plugin,
        CONFIG,
        data.training_cases(data.TRAIN_SEEDS),
        data.training_cases(data.VALIDATION_SEEDS),
    )
    print(result.metrics_after)
    write_card(
        FOLDER,
        CARD,
        result.metrics_after,
        **run_facts(plugin, CONFIG, result, data, started),
        version=INFO.version,
        spacing=tuple(round(s, 3) for s in INFO.input.target_spacing),
        patch=PATCH,
        positive=CONFIG.positive_fraction,
        validation_seeds=", ".join(map(str, data.VALIDATION_SEEDS)),
    )


if __name__ == "__main__":
    main()
