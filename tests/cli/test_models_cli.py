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

from medview.cli.main import main
from medview.core.geometry import Geometry
from medview.core.scan import Scan
from medview.demo import make_radiograph
from medview.io import open_label_map, open_scan, read_boxes, write_scan

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
