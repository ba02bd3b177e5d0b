"""Train the nuclei U-Net on demo H&E tiles; writes ``weights.safetensors`` and ``MODEL_CARD.md``.

Run: ``nice python -m medview_plugins.nuclei_unet2d.train`` (deterministic; about a minute on 1 thread).
"""

from __future__ import annotations

import time

import numpy as np
from monai.losses import DiceCELoss

from medview.models.engine import Engine
from medview.models.weights import save_weights
from medview_plugins.nuclei_unet2d import data
from medview_plugins.nuclei_unet2d.plugin import FOLDER, INFO, PATCH, NucleiUNet2D, build_network
from medview_plugins.scoring import dice_by_class
from medview_plugins.training import fit, make_reproducible, random_crops, run_facts, write_card

STEPS = 400
BATCH = 8

CARD = """# nuclei-unet2d {version}

2-D MONAI `UNet` (channels 8-16-32, strides 2, one residual unit; {parameters:,} parameters) that
labels nuclei on H&E (label table `nucleus`; semantic, not instances).

- **Input**: RGB 0..255 scaled to 0..1 at 0.5 µm/pixel; sliding windows of {patch} pixels. Images over
  2048 x 2048 pixels and whole-slide pyramids run tile by tile (1024-pixel tiles) at a chosen level.
- **Training data**: `medview.demo.make_tile(seed, shape={shape})` for seeds {train_seeds}, random
  {patch} crops, batch {batch}, {steps} Adam steps (cosine schedule), Dice + cross-entropy loss.
- **Train**: `nice python -m medview_plugins.nuclei_unet2d.train` (seed fixed, deterministic
  algorithms, torch threads: {threads}; took {minutes:.1f} min on a {host_cpus}-CPU machine, torch {torch}).
- **Validation** (held out: seeds {validation_seeds}, same shape, predicted through the plugin on CPU):

{metrics}

- **Limits**: the demo tiles' stain and nucleus shapes only; touching nuclei are not separated.
  Trained {date}.
"""


def validate(plugin: NucleiUNet2D) -> dict[str, float]:
    """Dice of the nucleus class on the held-out tiles, averaged over tiles."""
    scores = [
        dice_by_class(plugin.predict(case.scan).label_map.array, case.truth.array, INFO.labels)
        for case in data.cases(data.VALIDATION_SEEDS)
    ]
    return {name: float(np.mean([s[name] for s in scores])) for name in scores[0]}


def main() -> None:
    rng = make_reproducible()
    started = time.perf_counter()
    cases = data.cases(data.TRAIN_SEEDS)
    images = [INFO.input.normalisation.apply(np.moveaxis(case.scan.array, -1, 0)) for case in cases]
    targets = [case.truth.array.astype(np.int64) for case in cases]
    network = build_network()
    loss = DiceCELoss(to_onehot_y=True, softmax=True)
    fit(network, loss, lambda: random_crops(rng, images, targets, PATCH, BATCH), STEPS)
    save_weights(network, FOLDER / "weights.safetensors")
    metrics = validate(NucleiUNet2D(Engine.create("cpu")))
    print(metrics)
    write_card(
        FOLDER,
        CARD,
        metrics,
        **run_facts(network, data, started),
        version=INFO.version,
        patch=PATCH,
        validation_seeds=", ".join(map(str, data.VALIDATION_SEEDS)),
        batch=BATCH,
        steps=STEPS,
    )


if __name__ == "__main__":
    main()
