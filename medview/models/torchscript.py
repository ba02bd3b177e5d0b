"""The user's own model as a plugin, without code: a TorchScript file (or a MONAI bundle's
``models/model.ts``) plus a JSON sidecar that declares what :class:`ModelInfo` would.

Sidecar (``model.json`` beside ``model.pt``, or ``medview.json`` in a bundle's folder)::

    {"name": "my-liver", "version": "2", "task": "segmentation", "modalities": ["CT"],
     "input": {"ndim": 3, "channels": 1, "target_spacing": [2, 1, 1], "patch_size": [64, 96, 96],
               "normalisation": {"kind": "range", "low": -200, "high": 300}},
     "labels": {"classes": [{"value": 1, "name": "liver", "colour": [200, 80, 60]}]}}

Segmentation networks output one channel per class (background first); classification networks
output one logit per class. A bundle's ``configs/metadata.json`` supplies name and version when the
sidecar leaves them out. TorchScript archives hold TorchScript code and tensors, not pickled Python
objects, so loading one does not run arbitrary Python.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from medview.core.errors import InputError
from medview.core.labels import LabelTable
from medview.core.progress import CancelToken, ProgressCallback, no_progress
from medview.core.scan import Scan
from medview.models.api import InputSpec, ModelInfo, Prediction, check_fits
from medview.models.network_plugin import SegmentationPlugin

BUNDLE_MODEL = Path("models") / "model.ts"
BUNDLE_SIDECAR = "medview.json"
SUPPORTED_TASKS = ("segmentation", "classification")


class TorchScriptPlugin(SegmentationPlugin):
    """A TorchScript network described by a sidecar; segmentation or classification."""

    def __init__(self, model_path: Path, info: ModelInfo) -> None:
        super().__init__()
        self.model_path = model_path
        self.info = info

    @classmethod
    def from_file(cls, path: str | Path) -> TorchScriptPlugin:
        """A plugin from a TorchScript file with its sidecar, or from a MONAI bundle folder."""
        path = Path(path)
        if path.is_dir():
            model, sidecar, metadata = (
                path / BUNDLE_MODEL,
                path / BUNDLE_SIDECAR,
                path / "configs" / "metadata.json",
            )
        else:
            model, sidecar, metadata = path, path.with_suffix(".json"), None
        if not model.is_file():
            raise InputError("no TorchScript model here (a bundle keeps it in models/model.ts)", model)
        if not sidecar.is_file():
            raise InputError(f"a TorchScript model needs a JSON sidecar describing it: {sidecar.name}", model)
        defaults = _read_json(metadata) if metadata is not None and metadata.is_file() else {}
        return cls(model, _info_from_sidecar(sidecar, defaults, fallback_name=model.stem))

    def build_network(self) -> torch.nn.Module:
        try:
            return torch.jit.load(str(self.model_path), map_location="cpu")
        except (RuntimeError, ValueError) as error:
            raise InputError(
                f"not a TorchScript model ({str(error).splitlines()[0]})", self.model_path
            ) from error

    def predict(
        self, scan: Scan, progress: ProgressCallback = no_progress, cancel: CancelToken | None = None
    ) -> Prediction:
        if self.info.task == "segmentation":
            return super().predict(scan, progress, cancel)
        check_fits(self.info, scan)
        engine = self.running_engine()
        image = engine.network_input(scan, self.info.input)
        logits = engine.logits(self.network, image, None, progress, cancel)
        return self._prediction(scan, probabilities=torch.softmax(logits[0].flatten(), dim=0).numpy())


def _info_from_sidecar(path: Path, defaults: dict, fallback_name: str) -> ModelInfo:
    data = _read_json(path)
    try:
        task = data.get("task", "segmentation")
        if task not in SUPPORTED_TASKS:
            raise ValueError(f"task {task!r}: TorchScript models may do {' or '.join(SUPPORTED_TASKS)}")
        return ModelInfo(
            name=str(data.get("name", defaults.get("name", fallback_name))),
            version=str(data.get("version", defaults.get("version", "0"))),
            task=task,
            modalities=tuple(data.get("modalities", ["*"])),
            input=InputSpec.from_dict(data["input"]),
            labels=LabelTable.from_dict(data.get("labels", {"classes": []})),
            description=str(data.get("description", f"TorchScript model {fallback_name}")),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(f"sidecar does not describe a model: {error}", path) from error


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise InputError(f"not readable JSON ({error})", path) from error
    if not isinstance(data, dict):
        raise InputError("expected a JSON object", path)
    return data
