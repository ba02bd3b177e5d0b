"""A network together with what training must know about it: its input spec and its label table."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from medview.models.api import InputSpec, ModelInfo

DEFAULT_PATCH = {2: (256, 256), 3: (64, 96, 96)}


@dataclass
class TrainableModel:
    """The network of a model version, ready to be trained.

    Attributes:
        info: the plugin's declaration (name, version, task, input spec, labels).
        network: the network taking ``(N, channels, *patch)``; what it returns is its objective's
            business (for segmentation, logits ``(N, num_classes, *patch)``, channel ``v`` the class of
            label value ``v``, channel 0 background).
    """

    info: ModelInfo
    network: torch.nn.Module

    @property
    def input(self) -> InputSpec:
        return self.info.input

    @property
    def num_classes(self) -> int:
        """Segmentation output channels: background plus one per label value up to the highest."""
        return max(self.info.labels.values, default=0) + 1

    @property
    def patch_size(self) -> tuple[int, ...]:
        """The model's sliding-window patch, or a default for its dimension."""
        return self.input.patch_size or DEFAULT_PATCH[self.input.ndim]
