"""The CT organ and lesion U-Net plugin."""

from __future__ import annotations

from pathlib import Path

import torch
from monai.networks.nets import UNet

from medview.core.labels import preset
from medview.models.api import InputSpec, ModelInfo, Normalisation
from medview.models.network_plugin import SegmentationPlugin

FOLDER = Path(__file__).parent
# The demo CT's field of view sampled at (64, 96, 96): the grid the network was trained on.
SPACING_MM = (5.0, 204.8 / 96, 204.8 / 96)
PATCH = (32, 64, 64)

INFO = ModelInfo(
    name="ct-unet3d",
    version="1.0.0",
    task="segmentation",
    modalities=("CT",),
    input=InputSpec(3, 1, SPACING_MM, PATCH, Normalisation("range", -1000.0, 500.0), needs_spacing=True),
    labels=preset("ct-abdomen"),
    description="3-D U-Net: body, lungs, liver, bone and lesions on CT (trained on the demo phantom)",
)


def build_network() -> torch.nn.Module:
    """MONAI U-Net, 4 levels of 8..64 channels, one residual unit each: about 0.2 M parameters."""
    return UNet(3, 1, len(INFO.labels) + 1, channels=(8, 16, 32, 64), strides=(2, 2, 2), num_res_units=1)


class CTUNet3D(SegmentationPlugin):
    """Segments the demo CT anatomy; see ``MODEL_CARD.md`` for data and validation Dice."""

    info = INFO
    weights_path = FOLDER / "weights.safetensors"

    def build_network(self) -> torch.nn.Module:
        return build_network()
