"""``medview info``: what a scan holds, as text or one JSON document; bad input exits 2 with one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

from medview.cli.main import main
from medview.core.geometry import Geometry
from medview.core.scan import Scan
from medview.io import write_scan

MEDVIEW = Path(sys.executable).parent / "medview"


@pytest.fixture
def volume(tmp_path) -> Path:
    direction = np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])  # y and x swapped, one flipped
    geometry = Geometry.from_spacing((2.5, 0.5, 0.75), (10.0, -20.0, 30.0), direction)
    return write_scan(Scan(np.zeros((3, 4, 5), np.int16), geometry, modality="CT"), tmp_path / "ct.nii.gz")


def test_json_gives_geometry_in_array_order(volume, capsys):
    assert main(["info", str(volume), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["shape"] == [3, 4, 5] and info["dtype"] == "int16"
    assert info["spacing"] == pytest.approx([2.5, 0.5, 0.75])
    assert info["origin"] == pytest.approx([10.0, -20.0, 30.0])
    assert np.allclose(info["direction"], [[1, 0, 0], [0, 0, 1], [0, -1, 0]])
    assert info["modality"] == "OT" and info["series"] == []


def test_dicom_folder_lists_its_series_and_takes_series(tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(Path(__file__).parents[1] / "io")
    from io_scan_files import phantom, write_series

    write_series(tmp_path / "a", phantom((3, 6, 5)), series_uid="1.2.3.1")
    write_series(tmp_path / "b", phantom((2, 4, 4)), series_uid="1.2.3.2")

    assert main(["info", str(tmp_path), "--series", "1.2.3.2", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["shape"] == [2, 4, 4] and info["modality"] == "CT"
    assert [(s["uid"], s["shape"]) for s in info["series"]] == [
        ("1.2.3.1", [3, 6, 5]),
        ("1.2.3.2", [2, 4, 4]),
    ]

    assert main(["info", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "shape      (3, 6, 5)  int16" in text and "series     1.2.3.2  CT  2x4x4  test series" in text


def test_slide_reports_full_resolution_and_levels(tmp_path, capsys):
    base = np.zeros((600, 800, 3), np.uint8)
    with tifffile.TiffWriter(tmp_path / "slide.tif") as tiff:
        tiff.write(
            base, tile=(128, 128), photometric="rgb", resolution=(40000, 40000), resolutionunit="CENTIMETER"
        )
        tiff.write(base[::2, ::2], tile=(128, 128), photometric="rgb", subfiletype=1)
    assert main(["info", str(tmp_path / "slide.tif"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["shape"] == [600, 800, 3] and info["units"] == "um"
    assert info["spacing"] == pytest.approx([0.25, 0.25])
    assert info["levels"] == [[600, 800, 3], [300, 400, 3]]


def test_bad_input_exits_2_with_one_line_naming_the_file(tmp_path):
    empty = tmp_path / "empty.dcm"
    empty.write_bytes(b"")
    result = subprocess.run([str(MEDVIEW), "info", str(empty)], capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"medview: error: {empty}: the file is empty (0 bytes)"]
    assert result.stdout == ""
