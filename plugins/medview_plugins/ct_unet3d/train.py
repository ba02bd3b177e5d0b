"""Train the CT U-Net on demo phantoms and write ``weights.safetensors`` and ``MODEL_CARD.md``.

Run: ``nice python -m medview_plugins.ct_unet3d.train`` (deterministic; a few minutes on 1 thread).
"""

from __future__ import annotations

import time

import numpy as np
from monai.losses import DiceCELoss

from medview.models.engine import Engine
from medview.models.weights import save_weights
from medview_plugins.ct_unet3d import data
from medview_plugins.ct_unet3d.plugin import FOLDER, INFO, PATCH, CTUNet3D, build_network
from medview_plugins.scoring import dice_by_class
from medview_plugins.training import fit, make_reproducible, random_crops, run_facts, write_card

STEPS = 600
BATCH = 2

CARD = """# ct-unet3d {version}

3-D MONAI `UNet` (channels 8-16-32-64, strides 2, one residual unit; {parameters:,} parameters) that
labels body, lungs, liver, bone and lesions on CT (label table `ct-abdomen`).

- **Input**: CT in HU, clipped to -1000..500 and scaled to 0..1, resampled to {spacing} mm (z, y, x);
  sliding windows of {patch} voxels with Gaussian blending.
- **Training data**: `medview.demo.make_ct(seed, shape={shape})` for seeds {train_seeds}
  (standard domain), random {patch} crops, batch {batch}, {steps} Adam steps (cosine schedule),
  Dice + cross-entropy loss.
- **Train**: `nice python -m medview_plugins.ct_unet3d.train` (seed fixed, deterministic algorithms,
  torch threads: {threads}; took {minutes:.1f} min on a {host_cpus}-CPU machine, torch {torch}).
- **Validation** (held out: seeds {validation_seeds}, same shape, predicted through the plugin
  with `medview.models` sliding-window inference on CPU), Dice per class and mean:

{metrics}

- **Limits**: a phantom model. It has never seen real CT; on the demo's `shifted` domain
  (contrast-enhanced, noisier) it degrades — that is the fine-tuning demo. Trained {date}.
"""


def validate(plugin: CTUNet3D) -> dict[str, float]:
    """Dice per class on the held-out cases, averaged over cases."""
    scores = []
    for case in data.cases(data.VALIDATION_SEEDS):
        predicted = plugin.predict(case.scan).label_map.array
        scores.append(dice_by_class(predicted, case.truth.array, INFO.labels))
    metrics = {name: float(np.mean([s[name] for s in scores])) for name in scores[0]}
    metrics["dice_mean"] = float(np.mean(list(metrics.values())))
    return metrics


def main() -> None:
    rng = make_reproducible()
    started = time.perf_counter()
    cases = data.cases(data.TRAIN_SEEDS)
    images = [INFO.input.normalisation.apply(case.scan.array)[None] for case in cases]
    targets = [case.truth.array.astype(np.int64) for case in cases]
    network = build_network()
    loss = DiceCELoss(to_onehot_y=True, softmax=True)
    fit(network, loss, lambda: random_crops(rng, images, targets, PATCH, BATCH), STEPS)
    save_weights(network, FOLDER / "weights.safetensors")
    plugin = CTUNet3D(Engine.create("cpu"))
    metrics = validate(plugin)
    print(metrics)
    write_card(
        FOLDER,
        CARD,
        metrics,
        **run_facts(network, data, started),
        version=INFO.version,
        spacing=tuple(round(s, 3) for s in INFO.input.target_spacing),
        patch=PATCH,
        validation_seeds=", ".join(map(str, data.VALIDATION_SEEDS)),
        batch=BATCH,
        steps=STEPS,
    )


if __name__ == "__main__":
    main()
