"""The H&E nuclei U-Net plugin; whole-slide images run tile by tile at a chosen pyramid level."""

from __future__ import annotations

from pathlib import Path

import torch
from monai.networks.nets import UNet

from medview.core.labels import preset
from medview.models.api import InputSpec, ModelInfo, Normalisation
from medview.models.network_plugin import SegmentationPlugin

FOLDER = Path(__file__).parent
PATCH = (128, 128)

INFO = ModelInfo(
    name="nuclei-unet2d",
    version="1.0.0",
    task="segmentation",
    modalities=("SM", "OT"),
    # 0.5 µm per pixel: a photograph of unknown magnification needs an assumed pixel size
    input=InputSpec(
        2, 3, (0.5, 0.5), PATCH, Normalisation("range", 0.0, 255.0), needs_spacing=True, spacing_units="um"
    ),
    labels=preset("nucleus"),
    description="2-D U-Net: nuclei on H&E at 0.5 µm/pixel (trained on the demo tiles)",
)


def build_network() -> torch.nn.Module:
    """MONAI U-Net, 3 levels of 8..32 channels, one residual unit each."""
    return UNet(2, 3, 2, channels=(8, 16, 32), strides=(2, 2), num_res_units=1)


class NucleiUNet2D(SegmentationPlugin):
    """Segments nuclei (semantic, 1 = nucleus); see ``MODEL_CARD.md``."""

    info = INFO
    weights_path = FOLDER / "weights.safetensors"

    def build_network(self) -> torch.nn.Module:
        return build_network()
