"""``medview models`` lists plugins (a third party's included, broken ones reported) and
``medview predict`` writes label maps, boxes and probabilities."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from medview.cli.main import main
from medview.core.geometry import Geometry
from medview.core.scan import Scan
from medview.demo import make_radiograph
from medview.io import open_label_map, open_scan, read_boxes, write_scan

sys.path.insert(0, str(Path(__file__).parents[1] / "models"))
from torchscript_files import Bright, bone_sidecar, save_model  # noqa: E402

MEDVIEW = Path(sys.executable).with_name("medview")

ACME_PLUGIN = """
from medview_plugins.threshold.plugin import ThresholdPlugin


class AcmeBone(ThresholdPlugin):
    def __init__(self):
        super().__init__(threshold=700.0)
        self.info = type(self.info)(**{**self.info.__dict__, "name": "acme-bone", "version": "0.1"})
"""


@pytest.fixture
def third_party(tmp_path):
    """A throwaway installed distribution with one working and one broken ``medview.models`` plugin."""
    site = tmp_path / "site"
    info = site / "acme_plugins-0.1.dist-info"
    info.mkdir(parents=True)
    (site / "acme_plugin.py").write_text(ACME_PLUGIN)
    (site / "acme_broken.py").write_text("raise ImportError('acme_broken needs libfoo')\n")
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-plugins\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[medview.models]\nacme-bone = acme_plugin:AcmeBone\nacme-broken = acme_broken:Plugin\n"
    )
    return site


def test_models_json_lists_bundled_and_third_party_plugins(third_party):
    environment = {**os.environ, "PYTHONPATH": str(third_party)}
    result = subprocess.run(
        [str(MEDVIEW), "models", "--json"], capture_output=True, text=True, env=environment, check=True
    )
    document = json.loads(result.stdout)
    models = {m["name"]: m for m in document["models"]}
    assert {
        "threshold",
        "ct-unet3d",
        "nuclei-unet2d",
        "nodule-detector",
        "patch-classifier",
        "acme-bone",
    } <= set(models)
    assert {key: models["acme-bone"][key] for key in ("version", "task", "modalities")} == {
        "version": "0.1",
        "task": "segmentation",
        "modalities": ["CT"],
    }
    assert models["ct-unet3d"]["task"] == "segmentation"
    assert models["nodule-detector"]["task"] == "detection"
    assert models["patch-classifier"]["task"] == "classification"
    broken = {b["name"]: b["error"] for b in document["broken"]}
    assert broken["acme-broken"].startswith("ImportError: acme_broken needs libfoo")


def test_models_table_reports_broken_plugins(third_party, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(third_party))
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "TASK", "MODALITIES"]
    assert any(line.split()[:3] == ["acme-bone", "0.1", "segmentation"] for line in lines)
    assert any(line.startswith("broken: acme-broken (entry point acme_broken:Plugin)") for line in lines)


def test_predict_writes_a_label_map_with_the_scan_geometry(tmp_path, capsys):
    array = np.full((6, 9, 11), -50, np.int16)
    array[2:4, 3:7, 1:5] = 900
    direction = np.array([[1, 0, 0], [0, 0.8, -0.6], [0, 0.6, 0.8]])
    scan = Scan(array, Geometry.from_spacing((2.5, 0.9, 0.7), (3.0, -4.0, 7.0), direction), "CT", "oblique")
    write_scan(scan, tmp_path / "ct.nii.gz")
    output = tmp_path / "bone.nii.gz"
    assert (
        main(
            [
                "predict",
                str(tmp_path / "ct.nii.gz"),
                "--model",
                "threshold",
                "--device",
                "cpu",
                "-o",
                str(output),
            ]
        )
        == 0
    )
    assert "threshold 1.0.0: wrote label map" in capsys.readouterr().out
    reopened = open_scan(tmp_path / "ct.nii.gz")
    label_map = open_label_map(output, like=reopened)
    assert label_map.geometry.matches(scan.geometry)
    assert np.array_equal(label_map.array, (array >= 300).astype(np.uint8))
    assert label_map.provenance.author == "threshold"


def test_predict_writes_boxes_and_probabilities(tmp_path):
    write_scan(make_radiograph(5, (256, 256)).scan, tmp_path / "chest.nii.gz")
    assert (
        main(
            [
                "predict",
                str(tmp_path / "chest.nii.gz"),
                "--model",
                "nodule-detector",
                "-o",
                str(tmp_path / "b.json"),
            ]
        )
        == 0
    )
    box_set = read_boxes(tmp_path / "b.json")
    assert box_set.boxes and all(0 < box.score <= 1 for box in box_set.boxes)
    assert (
        main(
            [
                "predict",
                str(tmp_path / "chest.nii.gz"),
                "--model",
                "patch-classifier",
                "-o",
                str(tmp_path / "p.json"),
            ]
        )
        == 0
    )
    document = json.loads((tmp_path / "p.json").read_text())
    assert set(document["probabilities"]) == {"no nodule", "nodule"}
    assert sum(document["probabilities"].values()) == pytest.approx(1.0)
    assert document["provenance"]["model_version"] == "1.0.0"


def test_predict_errors_are_messages(tmp_path, capsys):
    write_scan(make_radiograph(5, (64, 64)).scan, tmp_path / "chest.nii.gz")
    assert (
        main(["predict", str(tmp_path / "chest.nii.gz"), "--model", "nope", "-o", str(tmp_path / "x.json")])
        == 2
    )
    assert "no model called 'nope'" in capsys.readouterr().err
    assert (
        main(
            [
                "predict",
                str(tmp_path / "chest.nii.gz"),
                "--model",
                "ct-unet3d",
                "-o",
                str(tmp_path / "x.nii.gz"),
            ]
        )
        == 2
    )
    assert "model ct-unet3d 1.0.0 takes 3-D grey CT images" in capsys.readouterr().err


# --- input checks: modality and pixel size -------------------------------------------------------


@pytest.fixture
def scan_on_disk(tmp_path, monkeypatch):
    """Calling it with a scan returns a path that ``medview predict`` opens as that scan, as a reader
    that finds no pixel size (or a modality) in the file would give it."""

    def place(scan: Scan) -> str:
        path = tmp_path / f"{scan.name}.png"
        path.write_bytes(b"")
        monkeypatch.setattr("medview.io.open_scan", lambda p, series_uid=None: scan)
        return str(path)

    return place


def error_line(capsys) -> str:
    """stderr, which must be exactly one line."""
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    return err.rstrip("\n")


def uncalibrated_radiograph(modality: str = "OT") -> Scan:
    """The demo radiograph as a PNG gives it: the pixels, no pixel size."""
    demo = make_radiograph(5, (256, 256)).scan
    return Scan(demo.array, Geometry.identity(2), modality, "chest", units="pixel", source="chest.png")


def test_predict_refuses_a_scan_without_a_pixel_size_in_one_line(tmp_path, scan_on_disk, capsys):
    path = scan_on_disk(uncalibrated_radiograph())
    output = tmp_path / "b.json"
    assert main(["predict", path, "--model", "nodule-detector", "-o", str(output)]) == 2
    assert error_line(capsys) == (
        "medview: error: chest.png: nodule-detector was trained on DX/CR at 1.6 x 1.6 mm; this scan's "
        "pixel size is unknown (pixel units). To proceed, give --assume-spacing MM to run it at an "
        "assumed pixel size"
    )
    assert not output.exists()


def test_an_assumed_pixel_size_runs_the_model_and_is_noted(tmp_path, scan_on_disk, capsys):
    path = scan_on_disk(uncalibrated_radiograph())
    output = tmp_path / "p.json"
    assert (
        main(["predict", path, "--model", "patch-classifier", "--assume-spacing", "0.4", "-o", str(output)])
        == 0
    )
    note = "assumed pixel size 0.4 x 0.4 mm (the file gives none)"
    assert capsys.readouterr().out.rstrip().endswith(f"wrote {output}; {note}")
    document = json.loads(output.read_text())
    assert document["notes"] == [note]
    assert document["provenance"]["derived_from"] == f"chest.png; {note}"


def test_assumed_pixel_size_per_axis_goes_into_the_label_map_provenance(tmp_path, scan_on_disk, capsys):
    array = np.full((6, 9, 11), -50, np.int16)
    array[2:4, 3:7, 1:5] = 900
    path = scan_on_disk(Scan(array, Geometry.identity(3), "CT", "stack", units="pixel", source="stack.tif"))
    output = tmp_path / "bone.nii.gz"
    assert (
        main(["predict", path, "--model", "threshold", "--assume-spacing", "2,0.5,0.5", "-o", str(output)])
        == 0
    )
    assert "assumed pixel size 2 x 0.5 x 0.5 mm" in capsys.readouterr().out
    sidecar = json.loads(output.with_name("bone.labels.json").read_text())
    assert sidecar["provenance"]["derived_from"].endswith(
        "; assumed pixel size 2 x 0.5 x 0.5 mm (the file gives none)"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "abc",
            "a pixel size is one number, or 2 comma-separated numbers in array order, each above zero; "
            "got 'abc'",
        ),
        ("1,2,3", "got '1,2,3'"),
        ("0", "got '0'"),
    ],
)
def test_a_bad_assumed_pixel_size_is_one_line(tmp_path, scan_on_disk, capsys, value, message):
    path = scan_on_disk(uncalibrated_radiograph())
    args = [
        "predict",
        path,
        "--model",
        "nodule-detector",
        "--assume-spacing",
        value,
        "-o",
        str(tmp_path / "b.json"),
    ]
    assert main(args) == 2
    assert message in error_line(capsys)


def test_a_known_pixel_size_is_not_overridden(tmp_path, capsys):
    write_scan(make_radiograph(5, (64, 64)).scan, tmp_path / "chest.nii.gz")
    args = ["predict", str(tmp_path / "chest.nii.gz"), "--model", "nodule-detector", "--assume-spacing", "1"]
    assert main([*args, "-o", str(tmp_path / "b.json")]) == 2
    assert "--assume-spacing is only for scans without a pixel size; this one gives it" in error_line(capsys)


def test_another_modality_needs_any_modality(tmp_path, scan_on_disk, capsys):
    array = np.full((6, 9, 11), -50, np.int16)
    array[2:4, 3:7, 1:5] = 900
    path = scan_on_disk(
        Scan(array, Geometry.from_spacing((2.0, 0.9, 0.9)), "MR", "brain", source="brain.dcm")
    )
    output = tmp_path / "x.nii.gz"
    assert main(["predict", path, "--model", "threshold", "-o", str(output)]) == 2
    assert error_line(capsys) == (
        "medview: error: brain.dcm: threshold was trained on CT images; this scan is MR. To proceed, add "
        "--any-modality to run it anyway"
    )
    assert not output.exists()
    assert main(["predict", path, "--model", "threshold", "--any-modality", "-o", str(output)]) == 0
    assert "threshold 1.0.0: wrote label map" in capsys.readouterr().out


def test_both_concerns_are_named_with_both_ways_out(tmp_path, scan_on_disk, capsys):
    path = scan_on_disk(uncalibrated_radiograph("MR"))
    assert main(["predict", path, "--model", "nodule-detector", "-o", str(tmp_path / "b.json")]) == 2
    line = error_line(capsys)
    assert "nodule-detector was trained on DX/CR images; this scan is MR; nodule-detector was trained" in line
    assert line.endswith(
        "give --assume-spacing MM to run it at an assumed pixel size and add --any-modality to run it anyway"
    )
    args = ["predict", path, "--model", "nodule-detector", "--any-modality", "--assume-spacing", "1.6"]
    assert main([*args, "-o", str(tmp_path / "b.json")]) == 0
    assert read_boxes(tmp_path / "b.json").boxes is not None


# --- trust: TorchScript files ------------------------------------------------------------------


SIDECAR = bone_sidecar(-100, 500)


@pytest.fixture
def torchscript_folder(tmp_path, monkeypatch):
    """A plugin folder with one TorchScript model; ``torch.jit.load`` fails the test unless allowed."""
    folder = tmp_path / "models"
    folder.mkdir()
    save_model(folder, Bright(), SIDECAR, name="bone.pt")
    real, allowed = torch.jit.load, []

    def load(*args, **kwargs):
        if not allowed:
            pytest.fail("torch.jit.load ran on a TorchScript file nobody trusted")
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.jit, "load", load)
    monkeypatch.setenv("MEDVIEW_PLUGIN_PATH", str(folder))
    return folder, allowed


def test_models_lists_an_untrusted_torchscript_model_without_loading_it(torchscript_folder, capsys):
    folder, _ = torchscript_folder
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.split()[:3] == ["my-bone", "3", "segmentation"] for line in lines)
    assert (
        f"needs trust: my-bone ({folder / 'bone.pt'}): a TorchScript file runs code stored in it; run it "
        "with `medview predict --model my-bone --trust` only if you trust its source" in lines
    )
    assert main(["models", "--json"]) == 0
    models = {m["name"]: m for m in json.loads(capsys.readouterr().out)["models"]}
    assert models["my-bone"]["needs_trust"] is True and models["threshold"]["needs_trust"] is False


@pytest.mark.parametrize("by", ["name", "file"])
def test_predict_runs_torchscript_only_with_trust(tmp_path, torchscript_folder, capsys, by):
    folder, allowed = torchscript_folder
    array = np.full((6, 9, 11), -50, np.int16)
    array[2:4, 3:7, 1:5] = 900
    write_scan(Scan(array, Geometry.from_spacing((2.5, 0.9, 0.7)), "CT", "ct"), tmp_path / "ct.nii.gz")
    model = "my-bone" if by == "name" else str(folder / "bone.pt")
    output = tmp_path / "bone.nii.gz"
    args = ["predict", str(tmp_path / "ct.nii.gz"), "--model", model, "-o", str(output)]
    assert main(args) == 2
    assert error_line(capsys) == (
        f"medview: error: {folder / 'bone.pt'}: model my-bone is a TorchScript file, which runs code "
        "stored in it, and it is not trusted. If you trust its source, add --trust to `medview predict`, "
        "or confirm it in the Models panel"
    )
    assert not output.exists()
    allowed.append(True)
    assert main([*args, "--trust"]) == 0
    reopened = open_scan(tmp_path / "ct.nii.gz")
    assert np.array_equal(open_label_map(output, like=reopened).array, (array > 200).astype(np.uint8))
