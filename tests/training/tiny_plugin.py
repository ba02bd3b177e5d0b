"""A tiny 3-D segmentation plugin for the training tests, loaded from a plugin folder exactly as a
third party's would be (``$MEDVIEW_PLUGIN_PATH``); its weights file sits beside it."""

from __future__ import annotations

from pathlib import Path

import torch
from monai.networks.nets import UNet

from medview.core.labels import preset
from medview.models.api import InputSpec, ModelInfo, Normalisation
from medview.models.network_plugin import SegmentationPlugin

NAME = "tiny-ct"


def build_network() -> torch.nn.Module:
    torch.manual_seed(0)
    return UNet(3, 1, 3, channels=(8, 16), strides=(2,), num_res_units=1)


class TinyCT(SegmentationPlugin):
    info = ModelInfo(
        NAME,
        "0.1.0",
        "segmentation",
        ("CT",),
        InputSpec(3, 1, None, (16, 32, 32), Normalisation("range", -200.0, 300.0)),
        preset("liver-lesion"),
    )
    weights_path = Path(__file__).with_suffix(".safetensors")

    def build_network(self) -> torch.nn.Module:
        return build_network()


def create_plugin() -> TinyCT:
    return TinyCT()
