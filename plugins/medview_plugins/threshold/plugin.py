"""Label every voxel at or above a threshold: bone on CT at 300 HU by default.

A complete plugin in a screenful: declare :class:`ModelInfo`, implement ``predict`` reporting
progress and checking ``cancel`` between steps, return a prediction on the scan's grid.
"""

from __future__ import annotations

import numpy as np

from medview.core.labels import LabelClass, LabelTable
from medview.core.progress import CancelToken, ProgressCallback, no_progress
from medview.core.scan import Scan
from medview.models.api import InputSpec, ModelInfo, ModelPlugin, Prediction, check_fits, label_prediction


class ThresholdPlugin(ModelPlugin):
    """Segments ``value >= threshold`` slab by slab (along the first axis)."""

    def __init__(
        self, threshold: float = 300.0, ndim: int = 3, modalities: tuple[str, ...] = ("CT",)
    ) -> None:
        self.threshold = threshold
        self.info = ModelInfo(
            name="threshold" if ndim == 3 else f"threshold-{ndim}d",
            version="1.0.0",
            task="segmentation",
            modalities=modalities,
            input=InputSpec(ndim, needs_spacing=False),  # a threshold on values: any pixel size will do
            labels=LabelTable([LabelClass(1, "bone", (240, 240, 210))]),
            description=f"voxels >= {threshold:g} (no weights; the plugin template)",
        )

    def predict(
        self, scan: Scan, progress: ProgressCallback = no_progress, cancel: CancelToken | None = None
    ) -> Prediction:
        check_fits(self.info, scan)
        labels = np.zeros(scan.spatial_shape, np.uint8)
        slabs = labels.shape[0]
        for index in range(slabs):
            if cancel is not None:
                cancel.raise_if_cancelled()
            labels[index] = np.asarray(scan.array[index]) >= self.threshold
            progress((index + 1) / slabs, f"slab {index + 1} of {slabs}")
        return label_prediction(self, scan, labels)
