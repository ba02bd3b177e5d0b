"""Each bundled plugin reaches, on held-out demo data, the validation metric its model card states
(recomputed here exactly as its training script measured it), and keeps the scan's geometry."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from medview_plugins.ct_unet3d import train as ct_train
from medview_plugins.ct_unet3d.plugin import CTUNet3D
from medview_plugins.nodule_detector import train as detector_train
from medview_plugins.nodule_detector.plugin import NoduleDetector
from medview_plugins.nuclei_unet2d import train as nuclei_train
from medview_plugins.nuclei_unet2d.plugin import NucleiUNet2D
from medview_plugins.patch_classifier import data as patch_data
from medview_plugins.patch_classifier import train as classifier_train
from medview_plugins.patch_classifier.plugin import PatchClassifier
from medview_plugins.threshold.plugin import ThresholdPlugin
from medview_plugins.training import read_card_metrics

from medview.core.geometry import Geometry
from medview.core.progress import Cancelled, CancelToken
from medview.core.scan import Scan
from medview.demo import make_ct, make_tile
from medview.models.engine import Engine, level_geometry
from medview.models.registry import Registry

TOLERANCE = 0.01  # CPU thread counts may flip a few borderline voxels
CPU = Engine.create("cpu")

CASES = [
    pytest.param(CTUNet3D, ct_train.validate, {"dice_liver": 0.8, "dice": 0.7}, id="ct-unet3d"),
    pytest.param(NucleiUNet2D, nuclei_train.validate, {"dice_nucleus": 0.8}, id="nuclei-unet2d"),
    pytest.param(NoduleDetector, detector_train.validate, {"recall": 0.9, "f1": 0.5}, id="nodule-detector"),
    pytest.param(PatchClassifier, classifier_train.validate, {"roc_auc": 0.85}, id="patch-classifier"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("plugin_class", "validate", "floors"), CASES)
def test_held_out_metrics_match_the_model_card(plugin_class, validate, floors):
    card = read_card_metrics(plugin_class.weights_path.parent)
    measured = validate(plugin_class(CPU))
    assert set(measured) == set(card)
    for name, value in card.items():
        assert measured[name] >= value - TOLERANCE, name
    for name, floor in floors.items():  # the card itself must describe a useful model
        assert card[name] >= floor, name


def test_ct_prediction_keeps_an_oblique_scan_geometry():
    case = make_ct(7, (40, 72, 60))
    direction = np.array([[1.0, 0, 0], [0, 0.96, -0.28], [0, 0.28, 0.96]])
    geometry = Geometry.from_spacing(case.scan.spacing, (5.0, -3.0, 12.0), direction)
    scan = Scan(case.scan.array, geometry, "CT", "oblique")
    prediction = CTUNet3D(CPU).predict(scan)
    assert prediction.label_map.fits(scan)
    assert prediction.label_map.provenance.model_version == "1.0.0"
    liver = prediction.label_map.array == 3
    truth = case.truth.array == 3
    assert 2 * (liver & truth).sum() / (liver.sum() + truth.sum()) > 0.7


def test_nuclei_on_a_slide_pyramid_at_a_coarser_level():
    tile = make_tile(3, (512, 512))
    full = tile.scan.array
    half = full.reshape(256, 2, 256, 2, 3).mean(axis=(1, 3)).astype(np.uint8)
    scan = Scan(
        da.from_array(full, chunks=(256, 256, 3)),
        tile.scan.geometry,
        "SM",
        "slide",
        rgb=True,
        levels=(da.from_array(full, chunks=(256, 256, 3)), da.from_array(half, chunks=(256, 256, 3))),
        units="um",
    )
    plugin = NucleiUNet2D(CPU)
    plugin.level = 1
    label_map = plugin.predict(scan).label_map
    assert label_map.array.shape == (256, 256)
    assert label_map.geometry.matches(level_geometry(scan.geometry, (512, 512), (256, 256)))
    truth = tile.truth.array[::2, ::2] == 1
    found = label_map.array == 1
    assert 2 * (found & truth).sum() / (found.sum() + truth.sum()) > 0.7


def test_classifier_gives_probabilities_and_a_grad_cam_map_on_the_scan_grid():
    scans, classes = patch_data.patches((120,), per_image=8)
    scan = scans[int(np.flatnonzero(classes == 1)[0])]
    prediction = PatchClassifier(CPU).predict(scan)
    assert prediction.probabilities_by_class()["nodule"] > 0.5
    assert sum(prediction.probabilities) == pytest.approx(1.0)
    saliency = prediction.saliency
    assert saliency.shape == scan.spatial_shape and saliency.dtype == np.float32
    assert saliency.min() >= 0.0 and saliency.max() <= 1.0 and saliency.std() > 0.01


def test_threshold_cancel_mid_run(small_ct):
    cancel = CancelToken()
    fractions = []

    def progress(fraction: float, message: str) -> None:
        fractions.append(fraction)
        if len(fractions) == 3:
            cancel.cancel()

    with pytest.raises(Cancelled):
        ThresholdPlugin().predict(small_ct.scan, progress, cancel)
    assert len(fractions) == 3 and fractions[-1] < 1.0


def test_every_bundled_plugin_is_registered_with_weights_and_a_card():
    registry = Registry.discover(folders=[])
    for plugin_class in (CTUNet3D, NucleiUNet2D, NoduleDetector, PatchClassifier):
        plugin = registry.get(plugin_class.info.name)
        assert isinstance(plugin, plugin_class)
        folder = plugin.weights_path.parent
        assert plugin.weights_path.stat().st_size < 5 * 2**20
        assert "nice python -m medview_plugins." in (folder / "MODEL_CARD.md").read_text()
