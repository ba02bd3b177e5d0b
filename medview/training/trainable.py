"""A network together with what training must know about it: its input spec, its label table, and the
plugin that runs it the way users do."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from medview.models.api import InputSpec, ModelInfo, ModelPlugin
from medview.models.engine import Engine
from medview.models.network_plugin import NetworkPlugin, SegmentationPlugin

DEFAULT_PATCH = {2: (256, 256), 3: (64, 96, 96)}


@dataclass
class TrainableModel:
    """The network of a model version, ready to be trained.

    Attributes:
        info: the plugin's declaration (name, version, task, input spec, labels).
        network: the network taking ``(N, channels, *patch)``; what it returns is its objective's
            business (for segmentation, logits ``(N, num_classes, *patch)``, channel ``v`` the class of
            label value ``v``, channel 0 background).
        plugin: the plugin the network belongs to; validation predicts through it. ``None`` for a
            bare segmentation network, which predicts through :class:`SegmentationPlugin`.
    """

    info: ModelInfo
    network: torch.nn.Module
    plugin: NetworkPlugin | None = None

    def predictor(self, network: torch.nn.Module, engine: Engine) -> ModelPlugin:
        """The plugin predicting with a snapshot of ``network`` (a copy, so predicting never changes the
        network being trained: its mode, hooks or buffers)."""
        plugin = self.plugin if self.plugin is not None else _BareSegmentation(self.info)
        return plugin.with_network(copy.deepcopy(network), engine)

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


class _BareSegmentation(SegmentationPlugin):
    """A segmentation network known only by its declaration (tests, benchmarks)."""

    def __init__(self, info: ModelInfo) -> None:
        super().__init__()
        self.info = info

    def build_network(self) -> torch.nn.Module:
        raise NotImplementedError("a bare network predicts only through with_network")
