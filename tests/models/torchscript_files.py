"""TorchScript model files the model, CLI and GUI tests write themselves: a thresholding segmenter and
its JSON sidecar. ``tests/cli`` and ``tests/qt`` import this module by path."""

from __future__ import annotations

import json
from pathlib import Path

import torch


class Bright(torch.nn.Module):
    """Logits (0, x - 0.5): class 1 where the normalised input exceeds 0.5."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.zeros_like(x), x - 0.5], dim=1)


def bone_sidecar(low: float, high: float, **input_fields) -> dict:
    """The sidecar of ``my-bone`` 3, a CT segmenter of one class, normalising ``low..high`` to 0..1."""
    return {
        "name": "my-bone",
        "version": "3",
        "task": "segmentation",
        "modalities": ["CT"],
        "input": {"ndim": 3, **input_fields, "normalisation": {"kind": "range", "low": low, "high": high}},
        "labels": {"classes": [{"value": 1, "name": "bone", "colour": [240, 240, 210]}]},
    }


def save_model(folder: Path, module: torch.nn.Module, sidecar: dict | None, name: str = "model.pt") -> Path:
    """Script ``module`` into ``folder/name`` with ``sidecar`` beside it as JSON (none when ``None``)."""
    path = folder / name
    torch.jit.script(module).save(str(path))
    if sidecar is not None:
        path.with_suffix(".json").write_text(json.dumps(sidecar))
    return path
