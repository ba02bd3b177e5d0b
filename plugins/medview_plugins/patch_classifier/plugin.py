"""Nodule / no nodule on radiograph patches: a small MONAI DenseNet, explained by MONAI's Grad-CAM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from monai.networks.nets import DenseNet
from monai.transforms import Resize
from monai.visualize import GradCAM

from medview.core.labels import LabelClass, LabelTable
from medview.core.progress import CancelToken, ProgressCallback, no_progress
from medview.core.scan import Scan
from medview.models.api import InputSpec, ModelInfo, Normalisation, Prediction, check_fits
from medview.models.network_plugin import NetworkPlugin

FOLDER = Path(__file__).parent
SPACING_MM = (1.6, 1.6)
CAM_LAYER = "class_layers.relu"

INFO = ModelInfo(
    name="patch-classifier",
    version="1.0.0",
    task="classification",
    modalities=("DX", "CR"),
    # patches of about 10 cm at 1.6 mm: a radiograph of unknown pixel size cannot be brought to that scale
    input=InputSpec(2, 1, SPACING_MM, None, Normalisation("range", 0.0, 4095.0), needs_spacing=True),
    labels=LabelTable([LabelClass(1, "no nodule", (90, 160, 255)), LabelClass(2, "nodule", (255, 120, 0))]),
    description="nodule / no nodule on ~10 cm radiograph patches, with Grad-CAM (trained on demo patches)",
)


def build_network() -> torch.nn.Module:
    """MONAI DenseNet: 16 initial features, growth 8, blocks (2, 4, 4); global pooling, so any size."""
    return DenseNet(2, 1, 2, init_features=16, growth_rate=8, block_config=(2, 4, 4), bn_size=2)


class PatchClassifier(NetworkPlugin):
    """Class probabilities for the whole image plus a Grad-CAM map of the winning class."""

    info = INFO
    weights_path = FOLDER / "weights.safetensors"

    def build_network(self) -> torch.nn.Module:
        return build_network()

    def training_objective(self) -> object:
        """Fine-tuning with this classifier's own cross-entropy on images of the patch size it was
        trained on (64 x 64 pixels at 1.6 mm)."""
        from medview.training.objectives import ClassificationObjective  # training code, on demand
        from medview_plugins.patch_classifier.data import PATCH

        return ClassificationObjective(torch.nn.functional.cross_entropy, (PATCH, PATCH))

    def predict(
        self, scan: Scan, progress: ProgressCallback = no_progress, cancel: CancelToken | None = None
    ) -> Prediction:
        check_fits(self.info, scan)
        engine = self.running_engine()
        image = engine.network_input(scan, self.info.input)
        logits = engine.logits(self.network, image, None, progress, cancel)
        probabilities = torch.softmax(logits[0], dim=0).numpy()
        if cancel is not None:
            cancel.raise_if_cancelled()
        saliency = self.saliency(image, int(np.argmax(probabilities)), scan.spatial_shape)
        return self._prediction(scan, probabilities=probabilities, saliency=saliency)

    def saliency(self, image: torch.Tensor, class_index: int, shape: tuple[int, ...]) -> np.ndarray:
        """Grad-CAM of ``class_index`` in ``[0, 1]``, resampled onto the scan's grid."""
        network = self.network.to(self.running_engine().device)
        cam = GradCAM(network, target_layers=CAM_LAYER)
        with torch.enable_grad():
            heat = cam(image.to(network_device(network)), class_idx=class_index)[0].detach().cpu()
        heat = torch.as_tensor(Resize(shape, mode="bilinear", align_corners=False)(heat))
        return np.clip(heat[0].numpy(), 0.0, 1.0).astype(np.float32)


def network_device(network: torch.nn.Module) -> torch.device:
    return next(network.parameters()).device
