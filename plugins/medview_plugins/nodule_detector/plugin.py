"""Nodule boxes on radiographs: a MONAI U-Net with a CenterNet-style anchor-free head.

The network outputs three maps at the input resolution: a centre heatmap (logit) and the log of
the box height and width in pixels. Peaks of the heatmap become boxes, pruned by MONAI's
non-maximum suppression.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from monai.data.box_utils import non_max_suppression
from monai.networks.nets import UNet

from medview.core.boxes import Box
from medview.core.labels import preset
from medview.core.progress import CancelToken, ProgressCallback, no_progress
from medview.core.scan import Scan
from medview.models.api import InputSpec, ModelInfo, Normalisation, Prediction, check_fits
from medview.models.engine import model_shape, physical_spacing
from medview.models.network_plugin import NetworkPlugin

FOLDER = Path(__file__).parent
SPACING_MM = (1.6, 1.6)
PATCH = (128, 128)
MIN_SCORE = 0.3
NMS_IOU = 0.3
MAX_BOXES = 20

INFO = ModelInfo(
    name="nodule-detector",
    version="1.0.0",
    task="detection",
    modalities=("DX", "CR"),
    # trained at 1.6 mm: nodule sizes mean nothing on a radiograph of unknown pixel size
    input=InputSpec(2, 1, SPACING_MM, PATCH, Normalisation("range", 0.0, 4095.0), needs_spacing=True),
    labels=preset("lung-nodule"),
    description="CenterNet-style nodule boxes on chest radiographs (trained on the demo radiographs)",
)


def build_network() -> torch.nn.Module:
    """MONAI U-Net, 4 levels of 8..64 channels; 3 outputs: centre logit, log height, log width."""
    return UNet(2, 1, 3, channels=(8, 16, 32, 64), strides=(2, 2, 2), num_res_units=1)


def decode(output: torch.Tensor, min_score: float = MIN_SCORE) -> tuple[np.ndarray, np.ndarray]:
    """Boxes ``(N, 4)`` as ``(y0, x0, y1, x1)`` edges in pixels of the output grid, and their scores,
    from a ``(1, 3, H, W)`` network output: heatmap peaks (3x3 maxima), then NMS."""
    heat = torch.sigmoid(output[0, 0])
    peaks = (heat == torch.nn.functional.max_pool2d(heat[None, None], 3, 1, 1)[0, 0]) & (heat >= min_score)
    ys, xs = torch.nonzero(peaks, as_tuple=True)
    if len(ys) == 0:
        return np.zeros((0, 4)), np.zeros(0)
    scores = heat[ys, xs]
    sizes = torch.exp(output[0, 1:, ys, xs]).T
    centres = torch.stack([ys, xs], dim=1).float() + 0.5
    boxes = torch.cat([centres - sizes / 2, centres + sizes / 2], dim=1)
    keep = non_max_suppression(boxes, scores, NMS_IOU, max_proposals=MAX_BOXES)
    return boxes[keep].numpy(), scores[keep].numpy()


class NoduleDetector(NetworkPlugin):
    """Finds lung nodules; see ``MODEL_CARD.md`` for data and validation precision and recall."""

    info = INFO
    weights_path = FOLDER / "weights.safetensors"

    def build_network(self) -> torch.nn.Module:
        return build_network()

    def training_objective(self) -> object:
        """Fine-tuning with this detector's own targets, loss and decoding (see ``objective.py``)."""
        from medview_plugins.nodule_detector.objective import training_objective  # training code, on demand

        return training_objective()

    def predict(
        self, scan: Scan, progress: ProgressCallback = no_progress, cancel: CancelToken | None = None
    ) -> Prediction:
        check_fits(self.info, scan)
        engine = self.running_engine()
        image = engine.network_input(scan, self.info.input)
        output = engine.logits(self.network, image, PATCH, progress, cancel)
        boxes, scores = decode(output)
        factors = np.asarray(scan.spatial_shape, float) / model_shape(
            scan.spatial_shape, physical_spacing(scan, INFO.input), INFO.input
        )
        found = [
            Box(1, float(score), tuple(map(float, box[:2] * factors)), tuple(map(float, box[2:] * factors)))
            for box, score in zip(boxes, scores, strict=True)
        ]
        return self._prediction(scan, boxes=sorted(found, key=lambda b: -b.score))
