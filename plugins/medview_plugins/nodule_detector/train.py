"""Train the nodule detector on demo radiographs; writes ``weights.safetensors`` and ``MODEL_CARD.md``.

Run: ``nice python -m medview_plugins.nodule_detector.train`` (deterministic; a few minutes on 1 thread).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from medview.models.engine import Engine
from medview.models.weights import save_weights
from medview_plugins.nodule_detector import data
from medview_plugins.nodule_detector.objective import centre_loss, targets
from medview_plugins.nodule_detector.plugin import FOLDER, INFO, PATCH, NoduleDetector, build_network
from medview_plugins.scoring import detection_scores
from medview_plugins.training import fit, make_reproducible, run_facts, write_card

STEPS = 1200
BATCH = 8

CARD = """# nodule-detector {version}

CenterNet-style anchor-free detector: a MONAI `UNet` (channels 8-16-32-64, one residual unit;
{parameters:,} parameters) predicting a centre heatmap and log box height/width per pixel; peaks
(3x3 maxima, score >= 0.3) become boxes, pruned by MONAI `non_max_suppression` (IoU 0.3).

- **Input**: DX/CR radiograph, 0..4095 scaled to 0..1, resampled to 1.6 mm; windows of {patch}.
- **Training data**: `medview.demo.make_radiograph(seed, shape={shape})` for seeds {train_seeds},
  random {patch} crops, batch {batch}, {steps} Adam steps; binary cross-entropy towards Gaussian
  centre heatmaps (weighted up to 101x at centres; half the crops near a nodule) plus L1 on log
  sizes at the centres.
- **Train**: `nice python -m medview_plugins.nodule_detector.train` (seed fixed, deterministic
  algorithms, torch threads: {threads}; took {minutes:.1f} min on a {host_cpus}-CPU machine, torch {torch}).
- **Validation** (held out: seeds {validation_seeds}, predicted through the plugin on CPU): a box
  with score >= 0.5 is a hit when it overlaps an unmatched true box with IoU >= 0.3:

{metrics}

- **Limits**: synthetic nodules on synthetic radiographs only. Trained {date}.
"""


def main() -> None:
    rng = make_reproducible()
    started = time.perf_counter()
    cases = data.cases(data.TRAIN_SEEDS)
    images = [INFO.input.normalisation.apply(case.scan.array)[None] for case in cases]
    maps = [targets(case.boxes, data.SHAPE) for case in cases]

    def batch() -> tuple[torch.Tensor, torch.Tensor]:
        xs, ys = [], []
        for _ in range(BATCH):
            index = int(rng.integers(len(images)))
            y, x = (int(rng.integers(0, s - p + 1)) for s, p in zip(data.SHAPE, PATCH, strict=True))
            if rng.random() < 0.5:  # centre the crop near a nodule: they cover under 1% of the image
                box = cases[index].boxes[int(rng.integers(len(cases[index].boxes)))]
                centre = np.asarray(box.start) + np.asarray(box.size) / 2 + rng.uniform(-40, 40, 2)
                y, x = (
                    int(np.clip(c - p / 2, 0, s - p))
                    for c, s, p in zip(centre, data.SHAPE, PATCH, strict=True)
                )
            window = (slice(None), slice(y, y + PATCH[0]), slice(x, x + PATCH[1]))
            xs.append(images[index][window])
            ys.append(maps[index][window])
        return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))

    network = build_network()
    _start_heatmap_low(network)
    fit(network, centre_loss, batch, STEPS)
    save_weights(network, FOLDER / "weights.safetensors")
    metrics = validate(NoduleDetector(Engine.create("cpu")))
    print(metrics)
    write_card(
        FOLDER,
        CARD,
        metrics,
        **run_facts(network, data, started),
        version=INFO.version,
        patch=PATCH,
        validation_seeds=f"{data.VALIDATION_SEEDS[0]}-{data.VALIDATION_SEEDS[-1]}",
        batch=BATCH,
        steps=STEPS,
    )


def _start_heatmap_low(network: torch.nn.Module) -> None:
    """CenterNet's initialisation: a heatmap prior of about 0.1 keeps the first focal losses sane."""
    last = [m for m in network.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))][-1]
    with torch.no_grad():
        last.bias[0] = -2.19


def validate(plugin: NoduleDetector) -> dict[str, float]:
    """Precision, recall and F1 on the held-out radiographs."""
    cases = data.cases(data.VALIDATION_SEEDS)
    return detection_scores([plugin.predict(c.scan).boxes for c in cases], [c.boxes for c in cases])


if __name__ == "__main__":
    main()
