"""``medview predict -o OUT`` writes what was asked for or nothing: an output that cannot hold the
result, or does not fit the model's task, is refused in one line before the model runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from medview.cli.main import main
from medview.demo import make_ct, make_radiograph, make_tile
from medview.io import open_scan, write_scan


def error_line(capsys) -> str:
    """stderr, which must be exactly one line."""
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    return err.rstrip("\n")


@pytest.fixture
def no_model_run(monkeypatch):
    """Fails the test if a model is run."""

    def run(*args, **kwargs):
        pytest.fail("the model ran although its output was going to be refused")

    monkeypatch.setattr("medview.models.registry.predict_safely", run)


@pytest.fixture(scope="module")
def small_ct_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("ct") / "ct.nii.gz"
    return write_scan(make_ct(0, shape=(12, 24, 24)).scan, path)


def test_a_3d_segmentation_to_png_is_refused_before_the_model_runs(
    tmp_path, small_ct_file, capsys, no_model_run
):
    output = tmp_path / "out.png"
    assert main(["predict", str(small_ct_file), "--model", "ct-unet3d", "-o", str(output)]) == 2
    assert error_line(capsys) == (
        f"medview: error: {output}: PNG holds one 2D image (greyscale or RGB); this label map is 3D "
        "(24 x 24 x 12, x y z); write .nii.gz, .nrrd or .mha instead"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_detection_to_nifti_is_refused_before_the_scan_is_read(tmp_path, monkeypatch, capsys, no_model_run):
    chest = write_scan(make_radiograph(5, (64, 64)).scan, tmp_path / "chest.nii.gz")
    monkeypatch.setattr("medview.io.open_scan", lambda *a, **k: pytest.fail("the scan was read"))
    output = tmp_path / "boxes.nii.gz"
    assert main(["predict", str(chest), "--model", "nodule-detector", "-o", str(output)]) == 2
    assert error_line(capsys) == (
        f"medview: error: {output}: NIfTI holds scans and label maps, not boxes; write boxes as .json"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chest.nii.gz"]


def test_a_classification_to_png_is_refused(tmp_path, small_ct_file, capsys, no_model_run):
    output = tmp_path / "p.png"
    assert main(["predict", str(small_ct_file), "--model", "patch-classifier", "-o", str(output)]) == 2
    assert error_line(capsys).endswith(
        "PNG holds scans and label maps, not class probabilities; write class probabilities as .json"
    )
    assert not output.exists()


def test_an_unknown_suffix_lists_every_output_a_prediction_can_take(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(
        "medview.models.registry.Registry.discover", lambda *a, **k: pytest.fail("models were looked up")
    )
    output = tmp_path / "result.txt"
    assert main(["predict", str(tmp_path / "any.nii.gz"), "--model", "ct-unet3d", "-o", str(output)]) == 2
    assert error_line(capsys) == (
        f"medview: error: {output}: cannot tell the format from the name; write a label map as .nii.gz, "
        ".nii, .nrrd, .mha, .png, .tif or .tiff, boxes as .json, class probabilities as .json"
    )


def test_a_2d_segmentation_goes_to_png_with_its_labels(tmp_path, capsys):
    tile = write_scan(make_tile(0, shape=(128, 128)).scan, tmp_path / "tile.tif")
    output = tmp_path / "nuclei.png"
    assert main(["predict", str(tile), "--model", "nuclei-unet2d", "--device", "cpu", "-o", str(output)]) == 0
    assert f"wrote label map {output}" in capsys.readouterr().out
    with Image.open(output) as image:
        labels = np.asarray(image)
    assert labels.shape == open_scan(tile).spatial_shape
    assert set(np.unique(labels)) <= {0, 1} and labels.any()
    sidecar = json.loads((tmp_path / "nuclei.labels.json").read_text())
    assert sidecar["provenance"]["author"] == "nuclei-unet2d"
