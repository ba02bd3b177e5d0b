"""Base classes for plugins backed by a PyTorch network with weights in a file beside them."""

from __future__ import annotations

import copy
import dataclasses
from abc import abstractmethod
from pathlib import Path

import torch

from medview.core.progress import CancelToken, ProgressCallback, no_progress
from medview.core.scan import LabelMap, Scan
from medview.models.api import ModelPlugin, Prediction, check_fits
from medview.models.engine import Engine
from medview.models.weights import load_into


class NetworkPlugin(ModelPlugin):
    """A plugin whose network is built by :meth:`build_network` and loaded lazily from ``weights_path``.

    ``engine`` decides the device; leave it ``None`` for the default (CUDA, then MPS, then CPU).
    """

    weights_path: Path | None = None

    def __init__(self, engine: Engine | None = None) -> None:
        self.engine = engine
        self._network: torch.nn.Module | None = None

    @abstractmethod
    def build_network(self) -> torch.nn.Module:
        """A freshly initialised network of this plugin's architecture."""

    @property
    def network(self) -> torch.nn.Module:
        """The network with its weights, loaded on first use."""
        if self._network is None:
            network = self.build_network()
            if self.weights_path is not None:
                load_into(network, self.weights_path)
            self._network = network.eval()
        return self._network

    def training_objective(self) -> object | None:
        """What fine-tuning optimises and measures: a ``medview.training.objectives.Objective``.

        Override it to make a plugin fine-tunable. ``None`` (the default) lets medview decide:
        segmentation networks train with Dice-CE and are validated by Dice; other tasks cannot be
        fine-tuned. (Typed ``object`` because ``medview.models`` never imports ``medview.training``.)
        """
        return None

    def with_weights(self, weights_path: Path, version: str) -> NetworkPlugin:
        """A copy of this plugin running the weights at ``weights_path`` and declaring ``version``:
        how a fine-tuned version runs. The copy shares the engine and loads its weights lazily."""
        fine_tuned = copy.copy(self)
        fine_tuned.info = dataclasses.replace(self.info, version=version)
        fine_tuned.weights_path = Path(weights_path)
        fine_tuned._network = None
        return fine_tuned

    def with_network(self, network: torch.nn.Module, engine: Engine | None = None) -> NetworkPlugin:
        """A copy of this plugin predicting with ``network`` as it is now, on ``engine`` (default: this
        plugin's): how training scores the network it is training, through the plugin's own
        preprocessing, inference and postprocessing."""
        running = copy.copy(self)
        running._network = network.eval()
        running.engine = engine or self.engine
        return running

    def running_engine(self) -> Engine:
        """The engine to run on: the one given, or the default device's."""
        if self.engine is None:
            self.engine = Engine.create()
        return self.engine


class SegmentationPlugin(NetworkPlugin):
    """A network that outputs one logit channel per class (0 = background) for every voxel.

    ``level`` picks the pyramid level whole-slide images are segmented at (0 = full resolution).
    """

    level: int = 0

    def predict(
        self, scan: Scan, progress: ProgressCallback = no_progress, cancel: CancelToken | None = None
    ) -> Prediction:
        check_fits(self.info, scan)
        labels, geometry = self.running_engine().segment(
            self.network, scan, self.info.input, progress, cancel, level=self.level
        )
        prediction = self._prediction(scan)
        # on the scan's grid, or on the chosen pyramid level's grid for whole-slide images
        prediction.label_map = LabelMap(labels, geometry, self.info.labels, prediction.provenance)
        return prediction
