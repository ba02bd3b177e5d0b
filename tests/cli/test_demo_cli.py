"""``medview demo`` writes reproducible cases that open like any user file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from medview.cli.main import main
from medview.io import open_label_map, open_scan

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out), "--cases", "2", "--seed", "7"]) == 0
    return out


def test_writes_each_kind_for_each_case(written):
    assert sorted(p.name for p in (written / "ct").glob("*_image.nii.gz")) == [
        "demo-ct-7000_image.nii.gz",
        "demo-ct-7001_image.nii.gz",
    ]
    assert len(list((written / "radiograph").glob("*_boxes.json"))) == 2
    assert len(list((written / "tile").glob("*_truth.png"))) == 2


def test_written_ct_keeps_geometry_and_labels_with_their_names(written):
    scan = open_scan(written / "ct" / "demo-ct-7000_image.nii.gz")
    truth = open_label_map(written / "ct" / "demo-ct-7000_truth.nii.gz", like=scan)
    assert scan.spatial_shape == (160, 256, 256)
    assert scan.spacing == pytest.approx((2.0, 0.8, 0.8))
    assert truth.labels.name_of(3) == "liver"
    assert truth.present_values() == [1, 2, 3, 4, 5]


def test_cases_differ_from_each_other_and_repeat_with_the_seed(written, tmp_path):
    first = open_scan(written / "radiograph" / "demo-radiograph-7000_image.dcm")
    second = open_scan(written / "radiograph" / "demo-radiograph-7001_image.dcm")
    assert not np.array_equal(np.asarray(first.array), np.asarray(second.array))
    assert main(["demo", "--out", str(tmp_path), "--cases", "1", "--seed", "7"]) == 0
    again = open_scan(tmp_path / "radiograph" / "demo-radiograph-7000_image.dcm")
    np.testing.assert_array_equal(np.asarray(again.array), np.asarray(first.array))
    boxes = json.loads((written / "radiograph" / "demo-radiograph-7000_boxes.json").read_text())
    assert boxes["boxes"] and boxes["labels"]["classes"][0]["name"] == "nodule"


def test_bad_case_count_is_refused(capsys, tmp_path):
    assert main(["demo", "--out", str(tmp_path), "--cases", "0"]) == 2
    assert capsys.readouterr().err.strip() == "medview: error: --cases must be at least 1, got 0"


def test_demo_workspace_holds_annotated_new_site_cases(tmp_path, capsys):
    from medview.workspace import Workspace

    command = ["demo", "--workspace", str(tmp_path / "ws"), "--cases", "2", "--radiographs", "2"]
    assert main(command) == 0
    assert "demo workspace:" in capsys.readouterr().out
    with Workspace.open(tmp_path / "ws") as workspace:
        cases = workspace.cases()
        labelled = workspace.list_annotated_cases()
        boxed = workspace.list_annotated_cases(kind="boxes")
        ct, radiograph = open_scan(cases[0].path), open_scan(cases[2].path)
    assert [case.name for case in cases] == ["site-b-ct01", "site-b-ct02", "chest-xr01", "chest-xr02"]
    assert all(case.status == "done" for case in cases)
    assert [case.name for case, _ in labelled] == ["site-b-ct01", "site-b-ct02"]
    assert [case.name for case, _ in boxed] == ["chest-xr01", "chest-xr02"]
    assert ct.spatial_shape == (64, 96, 96)
    assert radiograph.spatial_shape == (256, 256) and radiograph.spacing == pytest.approx((1.6, 1.6))
    assert main(["demo", "--workspace", str(tmp_path / "ws")]) == 2
    assert "is not empty" in capsys.readouterr().err
    (tmp_path / "a-file").write_text("x")
    assert main(["demo", "--workspace", str(tmp_path / "a-file")]) == 2
    assert (
        capsys.readouterr().err.strip()
        == f"medview: error: {tmp_path / 'a-file'}: exists and is not a folder"
    )
