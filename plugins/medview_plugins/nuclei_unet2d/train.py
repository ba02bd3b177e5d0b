"""Train the nuclei U-Net on demo H&E tiles; writes ``weights.safetensors`` and ``MODEL_CARD.md``.

Run: ``nice python -m medview_plugins.nuclei_unet2d.train`` (deterministic; a few minutes on 1 thread).
Training is ``medview.training``'s, from scratch, with the segmentation objective fine-tuning uses.
"""

from __future__ import annotations

import time

from medview.models.engine import Engine
from medview_plugins.nuclei_unet2d import data
from medview_plugins.nuclei_unet2d.plugin import FOLDER, INFO, PATCH, NucleiUNet2D
from medview_plugins.training import (
    held_out_metrics,
    make_reproducible,
    run_facts,
    scratch_config,
    train_from_scratch,
    write_card,
)

CONFIG = scratch_config(INFO, epochs=50, batch_size=1, samples_per_case=8, augment=False)

CARD = """# nuclei-unet2d {version}

2-D MONAI `UNet` (channels 8-16-32, strides 2, one residual unit; {parameters:,} parameters) that
labels nuclei on H&E (label table `nucleus`; semantic, not instances).

- **Input**: RGB 0..255 scaled to 0..1 at 0.5 µm/pixel; sliding windows of {patch} pixels. Images over
  2048 x 2048 pixels and whole-slide pyramids run tile by tile (1024-pixel tiles) at a chosen level.
- **Training data**: `medview.demo.make_tile(seed, shape={shape})` for seeds {train_seeds}, trained
  from scratch by `medview.training` with its segmentation objective: {patch} crops, {positive:.0%} of
  them centred on a nucleus pixel (MONAI `RandCropByPosNegLabeld`), no augmentation; Dice +
  cross-entropy loss; AdamW, peak learning rate {learning_rate:g} with a cosine schedule over {epochs}
  epochs; an epoch is {steps_per_epoch} steps of {batch} tile x {samples} crops.
- **Train**: `nice python -m medview_plugins.nuclei_unet2d.train` (seed fixed, deterministic
  algorithms, torch threads: {threads}; took {minutes:.1f} min on a {host_cpus}-CPU machine, torch {torch}).
- **Validation** (held out: seeds {validation_seeds}, same shape, each predicted whole through the
  plugin on CPU after every epoch; the weights are those of the best validation epoch, {best_epoch} of
  {epochs}), `medview.metrics` Dice, the mean over tiles:

{metrics}

- **Limits**: the demo tiles' stain and nucleus shapes only; touching nuclei are not separated.
  Trained {date}.
"""


def validate(plugin: NucleiUNet2D) -> dict[str, float]:
    """The held-out tiles' Dice, as training validation scored the best epoch."""
    return held_out_metrics(plugin, data.training_cases(data.VALIDATION_SEEDS))


def main() -> None:
    make_reproducible()
    started = time.perf_counter()
    plugin = NucleiUNet2D(Engine.create("cpu"))
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
        patch=PATCH,
        positive=CONFIG.positive_fraction,
        validation_seeds=", ".join(map(str, data.VALIDATION_SEEDS)),
    )


if __name__ == "__main__":
    main()
