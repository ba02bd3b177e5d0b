"""Train the patch classifier on demo radiograph patches; writes ``weights.safetensors`` and the card.

Run: ``nice python -m medview_plugins.patch_classifier.train`` (deterministic; a few minutes on 1 thread).
"""

from __future__ import annotations

import time

import numpy as np
import torch
from monai.metrics import compute_roc_auc

from medview.models.engine import Engine
from medview.models.weights import save_weights
from medview_plugins.patch_classifier import data
from medview_plugins.patch_classifier.plugin import FOLDER, INFO, PatchClassifier, build_network
from medview_plugins.training import fit, make_reproducible, run_facts, write_card

STEPS = 300
BATCH = 32

CARD = """# patch-classifier {version}

MONAI `DenseNet` (16 initial features, growth 8, blocks 2-4-4; {parameters:,} parameters) that says
whether a radiograph patch holds a nodule (`no nodule`, `nodule`), with a MONAI Grad-CAM saliency map
(layer `{cam_layer}`) of the winning class.

- **Input**: DX/CR image, 0..4095 scaled to 0..1, resampled to 1.6 mm; the whole image at once
  (global pooling). Trained on 64 x 64-pixel (10 cm) patches: use it on patches of about that size.
- **Training data**: patches cut from `medview.demo.make_radiograph(seed, shape={shape})` for seeds
  {train_seeds}, {per_image} per image, balanced; `nodule` = a nodule centre at least 12 pixels
  inside, `no nodule` = no nodule box touches the patch ({count} patches). {steps} Adam steps,
  batch {batch}, random flips, cross-entropy.
- **Train**: `nice python -m medview_plugins.patch_classifier.train` (seed fixed, deterministic
  algorithms, torch threads: {threads}; took {minutes:.1f} min on a {host_cpus}-CPU machine, torch {torch}).
- **Validation** (held out: patches of seeds {validation_seeds}, predicted through the plugin on CPU):

{metrics}

- **Limits**: synthetic nodules only. Trained {date}.
"""


def validate(plugin: PatchClassifier) -> dict[str, float]:
    """Accuracy and ROC AUC on held-out patches."""
    scans, classes = data.patches(data.VALIDATION_SEEDS)
    scores = np.array([plugin.predict(scan).probabilities[1] for scan in scans])
    auc = float(compute_roc_auc(torch.from_numpy(scores), torch.from_numpy(classes)))
    return {"accuracy": float(np.mean((scores >= 0.5) == (classes == 1))), "roc_auc": auc}


def main() -> None:
    rng = make_reproducible()
    started = time.perf_counter()
    scans, classes = data.patches(data.TRAIN_SEEDS)
    images = np.stack([INFO.input.normalisation.apply(scan.array)[None] for scan in scans])

    def batch() -> tuple[torch.Tensor, torch.Tensor]:
        chosen = rng.integers(len(images), size=BATCH)
        x = images[chosen]
        flips = rng.random((BATCH, 2)) < 0.5
        x = np.stack(
            [np.flip(p, axis=tuple(1 + a for a in (0, 1) if f[a])) for p, f in zip(x, flips, strict=True)]
        )
        return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(classes[chosen])

    network = build_network()
    fit(network, torch.nn.functional.cross_entropy, batch, STEPS)
    save_weights(network, FOLDER / "weights.safetensors")
    metrics = validate(PatchClassifier(Engine.create("cpu")))
    print(metrics)
    write_card(
        FOLDER,
        CARD,
        metrics,
        **run_facts(network, data, started),
        version=INFO.version,
        cam_layer="class_layers.relu",
        validation_seeds=f"{data.VALIDATION_SEEDS[0]}-{data.VALIDATION_SEEDS[-1]}",
        per_image=8,
        count=len(scans),
        batch=BATCH,
        steps=STEPS,
    )


if __name__ == "__main__":
    main()
