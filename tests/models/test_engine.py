"""The inference engine: device choice, resampling both ways, sliding windows, progress, cancel, tiles."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import torch

from medview.core.errors import InputError
from medview.core.geometry import Geometry
from medview.core.progress import Cancelled, CancelToken
from medview.core.scan import Scan
from medview.models.api import InputSpec, Normalisation, assume_spacing
from medview.models.engine import Engine, choose_device, level_geometry, model_shape, physical_spacing


def threshold_network(ndim: int, channels: int = 1) -> torch.nn.Module:
    """Logits (0, mean(x) - 0.5): argmax is 1 exactly where the normalised input exceeds 0.5."""
    conv = (torch.nn.Conv2d if ndim == 2 else torch.nn.Conv3d)(channels, 2, 1)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[1] = 1.0 / channels
        conv.bias.copy_(torch.tensor([0.0, -0.5]))
    return conv


def test_device_choice_falls_back_to_cpu_and_honours_overrides():
    assert choose_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert choose_device("cpu") == torch.device("cpu")
    with pytest.raises(InputError, match="unknown device 'tpu'"):
        choose_device("tpu")


def test_asking_for_missing_cuda_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(InputError, match="device 'cuda' is not available"):
        choose_device("cuda")


def test_mixed_precision_only_on_cuda():
    assert not Engine(torch.device("cpu"), amp=True).uses_amp
    assert Engine(torch.device("cuda"), amp=True).uses_amp
    assert not Engine(torch.device("cuda"), amp=False).uses_amp


@pytest.mark.parametrize(
    ("shape", "spacing", "target", "expected"),
    [
        ((40, 64, 64), (8.0, 3.2, 3.2), (4.0, 3.2, 6.4), (80, 64, 32)),
        ((10, 10), (1.0, 1.0), None, (10, 10)),
        ((3, 3), (0.1, 0.1), (1.0, 1.0), (1, 1)),
    ],
)
def test_model_shape_keeps_the_field_of_view(shape, spacing, target, expected):
    spec = InputSpec(len(shape), target_spacing=target)
    assert model_shape(shape, spacing, spec) == expected


def test_segment_resamples_to_the_model_and_back(ct_scan):
    spec = InputSpec(3, 1, (1.5, 1.6, 1.4), (8, 8, 8), Normalisation("range", -100, 500))
    labels, geometry = Engine.create("cpu").segment(threshold_network(3), ct_scan, spec)
    assert labels.shape == ct_scan.spatial_shape
    assert geometry.matches(ct_scan.geometry)
    truth = ct_scan.array >= 300
    assert (labels.astype(bool) == truth).mean() > 0.97


def test_sliding_window_reports_progress_to_the_end(ct_scan):
    spec = InputSpec(3, 1, None, (4, 8, 8), Normalisation("range", -100, 500))
    reports = []
    labels, _ = Engine.create("cpu", sw_batch_size=2).segment(
        threshold_network(3), ct_scan, spec, progress=lambda f, m: reports.append(f)
    )
    assert np.array_equal(labels, (ct_scan.array > 200).astype(np.uint8))
    # windows per axis at overlap 0.25: z 4, y 3, x 4 -> 48 windows in batches of 2
    assert len(reports) == 24
    assert reports == sorted(reports) and reports[-2] < 1.0 and reports[-1] == 1.0


def test_cancel_stops_between_window_batches(ct_scan):
    spec = InputSpec(3, 1, None, (4, 8, 8))
    cancel = CancelToken()
    seen = []

    def progress(fraction: float, message: str) -> None:
        seen.append(fraction)
        if len(seen) == 2:
            cancel.cancel()

    with pytest.raises(Cancelled):
        Engine.create("cpu", sw_batch_size=1).segment(threshold_network(3), ct_scan, spec, progress, cancel)
    assert len(seen) == 2


def test_time_series_are_refused():
    scan = Scan(np.zeros((2, 4, 4, 4)), Geometry.identity(3), has_time_axis=True, source="cine.nii")
    with pytest.raises(InputError, match="time axis"):
        Engine.create("cpu").segment(threshold_network(3), scan, InputSpec(3))


def test_level_geometry_keeps_the_field_of_view():
    full = Geometry.from_spacing((0.5, 0.5), (10.0, 20.0))
    level = level_geometry(full, (1000, 800), (250, 200))
    assert level.spacing == (2.0, 2.0)
    # the image's outer edge (index -0.5 at full resolution) is the same point in both grids
    assert np.allclose(level.index_to_world((-0.5, -0.5)), full.index_to_world((-0.5, -0.5)))


def test_slides_run_tile_by_tile_at_a_chosen_level():
    rng = np.random.default_rng(0)
    full = (rng.random((600, 500, 3)) * 255).astype(np.uint8)
    half = full[::2, ::2]
    scan = Scan(
        da.from_array(full, chunks=(128, 128, 3)),
        Geometry.from_spacing((0.5, 0.5)),
        modality="SM",
        rgb=True,
        levels=(da.from_array(full, chunks=(128, 128, 3)), da.from_array(half, chunks=(128, 128, 3))),
        units="um",
    )
    spec = InputSpec(2, 3, None, (64, 64), Normalisation("range", 0, 255))
    reports = []
    labels, geometry = Engine.create("cpu").segment_tiles(
        threshold_network(2, 3), scan, spec, level=1, tile=128, progress=lambda f, m: reports.append(m)
    )
    assert labels.shape == (300, 250)
    assert geometry.spacing == (1.0, 1.0)
    assert np.array_equal(labels, (half.mean(axis=-1) / 255 > 0.5).astype(np.uint8))
    assert reports[-1] == "tile 6 of 6"
    with pytest.raises(InputError, match="level 2 does not exist"):
        Engine.create("cpu").segment_tiles(threshold_network(2, 3), scan, spec, level=2)


@pytest.mark.parametrize(
    ("units", "spacing", "model_units", "expected"),
    [
        ("mm", (0.2, 0.2), "mm", (0.2, 0.2)),
        ("um", (160.0, 160.0), "mm", (0.16, 0.16)),  # a calibrated TIFF radiograph, for a model in mm
        ("mm", (0.0005, 0.0005), "um", (0.5, 0.5)),  # a slide stored in mm, for a model in µm
        ("um", (0.25, 0.25), "um", (0.25, 0.25)),
    ],
)
def test_physical_spacing_converts_between_mm_and_um(units, spacing, model_units, expected):
    scan = Scan(np.zeros((4, 4)), Geometry.from_spacing(spacing), units=units)
    spec = InputSpec(2, target_spacing=(1.0, 1.0), spacing_units=model_units)
    assert physical_spacing(scan, spec) == pytest.approx(expected)


def test_unknown_pixel_size_is_never_resampled_as_if_it_were_mm(ct_scan):
    pixels = Scan(ct_scan.array, Geometry.identity(3), "CT", "block", units="pixel", source="block.png")
    spec = InputSpec(3, 1, (6.0, 1.6, 1.4), None, Normalisation("range", -100, 500))
    engine = Engine.create("cpu")
    with pytest.raises(
        InputError,
        match=r"block.png: this scan's pixel size is unknown \(pixel units\) and "
        r"the model was trained at 6 x 1.6 x 1.4 mm; .* Give an assumed pixel size",
    ):
        engine.network_input(pixels, spec)
    with pytest.raises(InputError, match="pixel size is unknown"):
        engine.segment(threshold_network(3), pixels, spec)
    # once a size is assumed, the field of view of the assumed grid goes to the model's spacing
    assumed = assume_spacing(pixels, (3.0, 0.8, 0.7))
    assert tuple(engine.network_input(assumed, spec).shape) == (1, 1, 6, 10, 12)


def test_a_model_that_needs_no_pixel_size_runs_on_the_pixel_grid(ct_scan):
    pixels = Scan(ct_scan.array, Geometry.identity(3), "CT", "block", units="pixel")
    spec = InputSpec(3, 1, (6.0, 1.6, 1.4), None, Normalisation("range", -100, 500), needs_spacing=False)
    assert tuple(Engine.create("cpu").network_input(pixels, spec).shape) == (1, 1, 12, 20, 24)


def test_slide_tiles_of_unknown_pixel_size_are_refused():
    full = np.zeros((64, 64, 3), np.uint8)
    scan = Scan(full, Geometry.identity(2), "OT", rgb=True, levels=(full, full[::2, ::2]), units="pixel")
    spec = InputSpec(2, 3, (0.5, 0.5), (32, 32), spacing_units="um")
    with pytest.raises(InputError, match="trained at 0.5 x 0.5 µm"):
        Engine.create("cpu").segment_tiles(threshold_network(2, 3), scan, spec, level=1)
