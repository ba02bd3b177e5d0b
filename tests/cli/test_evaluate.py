"""``medview evaluate`` on label maps, box JSON and class JSON, in-process and as a command."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from medview.cli.main import main
from medview.core.boxes import Box
from medview.core.scan import LabelMap
from medview.demo import make_ct
from medview.io.writers import write_boxes, write_label_map
from medview.metrics.segmentation import evaluate_segmentation

SEGMENTATION_KEYS = {
    "dice", "iou", "sensitivity", "specificity", "precision", "accuracy", "f1",
    "hd", "hd95", "assd", "nsd", "volume_ml_truth", "volume_ml_pred", "volume_ml_diff",
}  # fmt: skip


@pytest.fixture(scope="module")
def label_maps(tmp_path_factory):
    folder = tmp_path_factory.mktemp("maps")
    truth = make_ct(seed=1, shape=(24, 48, 48)).truth
    pred_array = np.roll(truth.array, 2, axis=2)
    pred = LabelMap(pred_array, truth.geometry, truth.labels)
    return (
        write_label_map(truth, folder / "truth.nii.gz"),
        write_label_map(pred, folder / "pred.nii.gz"),
        truth,
        pred,
    )


def evaluate_json(capsys, *args):
    assert main(["evaluate", *map(str, args), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_label_maps_give_per_label_metrics(label_maps, capsys):
    truth_path, pred_path, truth, pred = label_maps
    document = evaluate_json(capsys, "--truth", truth_path, "--pred", pred_path)
    assert document["kind"] == "segmentation"
    expected = evaluate_segmentation(pred.array, truth.array, truth.geometry.spacing)
    assert set(document["metrics"]) == {str(label) for label in expected}
    for label, values in expected.items():
        reported = document["metrics"][str(label)]
        assert set(reported) == SEGMENTATION_KEYS
        assert reported["dice"] == pytest.approx(values["dice"])
        assert reported["hd95"] == pytest.approx(values["hd95"])


def test_missing_label_reports_null_distance(tmp_path, label_maps, capsys):
    truth_path, _, truth, _ = label_maps
    pred = LabelMap(np.where(truth.array == 1, 1, 0).astype(truth.array.dtype), truth.geometry)
    pred_path = write_label_map(pred, tmp_path / "partial.nii.gz")
    metrics = evaluate_json(capsys, "--truth", truth_path, "--pred", pred_path)["metrics"]
    missing = [values for label, values in metrics.items() if label != "1"]
    assert missing and all(v["hd"] is None and v["dice"] == 0.0 for v in missing)


def test_grid_mismatch_is_a_user_error(tmp_path, label_maps, capsys):
    truth_path, _, truth, _ = label_maps
    small = LabelMap(truth.array[:, :10], truth.geometry)
    small_path = write_label_map(small, tmp_path / "small.nii.gz")
    assert main(["evaluate", "--truth", str(truth_path), "--pred", str(small_path)]) == 2
    assert "voxel grid" in capsys.readouterr().err


def test_box_json_single_and_multi_image(tmp_path, capsys):
    truth = [Box(1, 1.0, (0, 0), (10, 10)), Box(1, 1.0, (20, 20), (30, 30))]
    pred = [Box(1, 0.9, (0, 0), (10, 10)), Box(1, 0.8, (50, 50), (60, 60))]
    truth_path = write_boxes(truth, tmp_path / "truth.json", scan_name="a")
    pred_path = write_boxes(pred, tmp_path / "pred.json", scan_name="a-model")
    metrics = evaluate_json(capsys, "--truth", truth_path, "--pred", pred_path)["metrics"]
    assert metrics["ap"] == {"1": pytest.approx(51 / 101)}  # precision 1 up to recall 1/2
    assert metrics["precision"] == 0.5 and metrics["recall"] == 0.5
    assert set(metrics) >= {"map50", "map50_95", "froc"}
    images = {
        "images": [
            {"id": "x", "boxes": [b.to_dict() for b in truth]},
            {"id": "y", "boxes": [Box(2, 1.0, (0, 0), (4, 4)).to_dict()]},
        ]
    }
    predicted = {"images": [{"id": "y", "boxes": []}, {"id": "x", "boxes": [b.to_dict() for b in truth]}]}
    (tmp_path / "t.json").write_text(json.dumps(images))
    (tmp_path / "p.json").write_text(json.dumps(predicted))
    metrics = evaluate_json(capsys, "--truth", tmp_path / "t.json", "--pred", tmp_path / "p.json")["metrics"]
    assert metrics["images"] == 2
    assert metrics["ap"] == {"1": 1.0, "2": 0.0}
    assert metrics["map50"] == 0.5


def write_classes(tmp_path):
    truth = {
        "labels": ["normal", "abnormal"],
        "cases": [{"id": f"c{i}", "truth": t} for i, t in enumerate([0, 0, 1, 1])],
    }
    probabilities = [[0.9, 0.1], [0.4, 0.6], [0.6, 0.4], [0.1, 0.9]]
    pred = {"cases": [{"id": f"c{i}", "probabilities": p} for i, p in enumerate(probabilities)]}
    (tmp_path / "truth.json").write_text(json.dumps(truth))
    (tmp_path / "pred.json").write_text(json.dumps(pred))
    return tmp_path / "truth.json", tmp_path / "pred.json"


def test_class_json(tmp_path, capsys):
    truth_path, pred_path = write_classes(tmp_path)
    metrics = evaluate_json(capsys, "--truth", truth_path, "--pred", pred_path)["metrics"]
    assert metrics["confusion"] == [[1, 1], [1, 1]]
    assert metrics["auc"]["value"] == pytest.approx(0.75)
    assert metrics["auc"]["low"] <= 0.75 <= metrics["auc"]["high"]
    assert metrics["labels"] == ["normal", "abnormal"]


def test_unmatched_case_is_a_user_error(tmp_path, capsys):
    truth_path, pred_path = write_classes(tmp_path)
    document = json.loads(pred_path.read_text())
    document["cases"].pop()
    pred_path.write_text(json.dumps(document))
    assert main(["evaluate", "--truth", str(truth_path), "--pred", str(pred_path)]) == 2
    assert "no prediction for case(s) c3" in capsys.readouterr().err


def test_command_line_prints_text_and_json(label_maps):
    truth_path, pred_path, _, _ = label_maps
    command = Path(sys.executable).with_name("medview")
    text = subprocess.run(
        [command, "evaluate", "--truth", truth_path, "--pred", pred_path],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert text.startswith("segmentation:") and "label 1: dice" in text
    as_json = subprocess.run(
        [command, "evaluate", "--truth", truth_path, "--pred", pred_path, "--json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(as_json)["kind"] == "segmentation"
    failed = subprocess.run(
        [command, "evaluate", "--truth", truth_path, "--pred", truth_path.with_name("absent.nii.gz")],
        capture_output=True,
        text=True,
    )
    assert failed.returncode == 2 and "no such file" in failed.stderr
