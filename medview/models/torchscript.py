"""The user's own model as a plugin, without a Python plugin: a TorchScript file (or a MONAI bundle's
``models/model.ts``) plus a JSON sidecar that declares what :class:`ModelInfo` would.

Sidecar (``model.json`` beside ``model.pt``, or ``medview.json`` in a bundle's folder)::

    {"name": "my-liver", "version": "2", "task": "segmentation", "modalities": ["CT"],
     "input": {"ndim": 3, "channels": 1, "target_spacing": [2, 1, 1], "patch_size": [64, 96, 96],
               "normalisation": {"kind": "range", "low": -200, "high": 300}},
     "labels": {"classes": [{"value": 1, "name": "liver", "colour": [200, 80, 60]}]}}

Optional ``input`` keys: ``needs_spacing`` (default: true when ``target_spacing`` is given) and
``spacing_units`` (``mm``, the default, or ``um``); see :class:`~medview.models.api.InputSpec`.

Segmentation networks output one channel per class (background first); classification networks
output one logit per class. A bundle's ``configs/metadata.json`` supplies name and version when the
sidecar leaves them out.

Trust: a TorchScript archive holds code (TorchScript programs, which can call any operator
registered in the process) that runs when it is loaded and run, so PyTorch's security notes say to
treat it as executable. Reading the sidecar is safe and is all that listing a model does; the
archive is deserialised only after :meth:`TorchScriptPlugin.trust` with the hash of its content
(``medview predict --trust``, or the user's confirmation in the Models panel). The bytes that were
hashed are the bytes loaded, so a file swapped after it was trusted is refused.
"""

from __future__ import annotations

import hashlib
import io
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


class UntrustedModelError(InputError):
    """A TorchScript model was about to be loaded without the user's trust; the message names the file
    and how to trust it."""


class TorchScriptPlugin(SegmentationPlugin):
    """A TorchScript network described by a sidecar; segmentation or classification."""

    def __init__(self, model_path: Path, info: ModelInfo) -> None:
        super().__init__()
        self.model_path = model_path
        self.info = info
        self.trusted_sha256: str | None = None

    @property
    def requires_trust(self) -> bool:
        """True until the user has trusted this file (see :meth:`trust`) and it is not loaded yet."""
        return self.trusted_sha256 is None and self._network is None

    def file_sha256(self) -> str:
        """SHA-256 of the TorchScript file as it is on disk now (reads it; never deserialises it)."""
        return _sha256(self._read())

    def trust(self, sha256: str | None = None) -> None:
        """Allow loading the TorchScript file while its content hashes to ``sha256`` (default: what
        it holds now). Call it only on the user's explicit word."""
        self.trusted_sha256 = self.file_sha256() if sha256 is None else sha256

    def check_trusted(self) -> None:
        """Raise :class:`UntrustedModelError` unless the user has trusted this file."""
        if self.requires_trust:
            raise UntrustedModelError(
                f"model {self.info.name} is a TorchScript file, which runs code stored in it, and it is "
                "not trusted. If you trust its source, add --trust to `medview predict`, or confirm it "
                "in the Models panel",
                self.model_path,
            )

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
        self.check_trusted()
        content = self._read()
        if _sha256(content) != self.trusted_sha256:
            raise UntrustedModelError(
                "the TorchScript file changed after it was trusted; trust it again if you trust its "
                "new content",
                self.model_path,
            )
        try:
            return torch.jit.load(io.BytesIO(content), map_location="cpu")
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

    def _read(self) -> bytes:
        try:
            return self.model_path.read_bytes()
        except OSError as error:
            message = f"cannot read the TorchScript file ({error.strerror})"
            raise InputError(message, self.model_path) from error


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


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
