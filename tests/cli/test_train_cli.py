"""``medview train``: fine-tunes in a workspace and prints the new version with Dice before and after."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
from training_fixtures import (  # noqa: E402
    TINY_MODEL,
    TINY_SHAPE,
    make_box_workspace,
    make_fine_tuned_version,
    make_plugin_folder,
    make_workspace,
)

from medview.cli.main import main  # noqa: E402
from medview.demo import make_ct  # noqa: E402
from medview.io import write_scan  # noqa: E402
from medview.models.registry import PLUGIN_PATH_ENV  # noqa: E402
from medview.training.command import NO_TEST  # noqa: E402
from medview.workspace import Workspace  # noqa: E402

MEDVIEW = Path(sys.executable).with_name("medview")


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(PLUGIN_PATH_ENV, str(make_plugin_folder(tmp_path / "plugins")))
    return make_workspace(tmp_path / "workspace")


def test_train_prints_the_new_version_and_its_metrics(workspace: Path, capsys: pytest.CaptureFixture):
    status = main(
        ["train", "--workspace", str(workspace), "--model", TINY_MODEL, "--epochs", "1"] + ["--json"]
    )

    assert status == 0
    result = json.loads(capsys.readouterr().out)
    assert result["version"] == "0.1.0+ft1" and result["epochs"] == 1 and result["seconds"] > 0
    assert result["metric"] == "dice"
    assert (
        set(result["metrics_before"]) == set(result["metrics_after"]) == {"dice", "dice_liver", "dice_lesion"}
    )
    assert (workspace / "models" / TINY_MODEL / "0.1.0+ft1" / "weights.safetensors").is_file()


def test_train_and_compare_report_the_same_test_cases_and_scores(
    workspace: Path, capsys: pytest.CaptureFixture
):
    """3 done cases: 1 test case set aside first (and recorded), then 1 validation and 1 training case;
    ``medview compare`` scores the test case by default and gives the same numbers."""
    assert (
        main(["train", "--workspace", str(workspace), "--model", TINY_MODEL, "--epochs", "1", "--json"]) == 0
    )
    trained = json.loads(capsys.readouterr().out)
    with Workspace.open(workspace) as opened:
        recorded = opened.test_cases("labels")
        every_case = {case.id for case in opened.cases()}

    assert trained["test_cases"] == recorded and len(recorded) == 1
    parts = [trained["training_cases"], trained["validation_cases"], trained["test_cases"]]
    assert sorted(sum(parts, [])) == sorted(every_case) and all(len(part) == 1 for part in parts)
    assert set(trained["test_before"]) == set(trained["test_after"]) >= {"dice"}
    assert (
        "on 1 test cases" in trained["test_verdict"]
        and "too few test cases for a verdict" in trained["test_verdict"]
    )

    assert main(["compare", "--workspace", str(workspace), "--model", TINY_MODEL, "--json"]) == 0
    compared = json.loads(capsys.readouterr().out)
    assert compared["case_set"] == "test" and compared["scored_cases"] == recorded
    assert compared["old"]["value"] == trained["test_before"]["dice"]
    assert compared["new"]["value"] == trained["test_after"]["dice"]
    assert compared["verdict"] == "too few cases" and compared["difference"]["low"] is None

    assert main(["workspace", "test-cases", str(workspace)]) == 0
    assert capsys.readouterr().out.strip() == f"test cases for labels (1): {recorded[0]}"


def test_train_tells_each_epoch_on_stderr_and_keeps_stdout_for_the_result(
    workspace: Path, capsys: pytest.CaptureFixture
):
    status = main(["train", "--workspace", str(workspace), "--model", TINY_MODEL, "--epochs", "2", "--json"])

    assert status == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)  # stdout is the result document alone
    lines = captured.err.splitlines()
    assert lines[0].startswith("run folder ") and lines[1].startswith("before training: validation Dice ")
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in epochs] == ["epoch 1", "epoch 2"]
    assert re.fullmatch(r"epoch 2: loss \d+\.\d{3}, validation Dice \d\.\d{3}, \d+ s elapsed.*", epochs[1])
    assert float(lines[1].rsplit(" ", 1)[1]) == pytest.approx(result["metrics_before"]["dice"], abs=5e-4)


def test_train_refuses_an_unknown_model(workspace: Path, capsys: pytest.CaptureFixture):
    assert main(["train", "--workspace", str(workspace), "--model", "no-such-model"]) == 2
    assert "no model called 'no-such-model'" in capsys.readouterr().err
    assert main(["train", "--workspace", str(workspace), "--model", "threshold"]) == 2
    assert "model 'threshold' cannot be fine-tuned" in capsys.readouterr().err


def test_train_prints_the_detector_metric_by_name(tmp_path: Path, capsys: pytest.CaptureFixture):
    workspace = make_box_workspace(tmp_path / "workspace", seeds=(1, 2))
    train = ["train", "--workspace", str(workspace), "--model", "nodule-detector", "--epochs", "1"]

    assert main(train + ["--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    first, second = printed.splitlines()
    assert re.fullmatch(
        r"new version 1\.0\.0\+ft1 after 1 epochs in \d+ s \(completed\); validation F1 \d\.\d{3} -> "
        r"\d\.\d{3} \(these cases chose the checkpoint\)",
        first,
    )
    assert second == NO_TEST  # 2 cases: too few to set a test case aside


def test_the_medview_command_trains_for_a_time_budget(workspace: Path):
    command = [str(MEDVIEW), "train", "--workspace", str(workspace), "--model", TINY_MODEL]
    command += ["--minutes", "0.01", "--device", "cpu", "--json"]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=120, env=os.environ.copy())

    assert finished.returncode == 0, finished.stderr
    result = json.loads(finished.stdout)
    assert result["stop_reason"] == "time budget" and result["version"] == "0.1.0+ft1"


def test_predict_runs_a_fine_tuned_version(tmp_path: Path, capsys: pytest.CaptureFixture):
    plugins = make_plugin_folder(tmp_path / "plugins")
    workspace = make_workspace(tmp_path / "workspace", seeds=(1,))
    make_fine_tuned_version(workspace, plugins)
    write_scan(make_ct(7, TINY_SHAPE).scan, tmp_path / "ct.nii.gz")
    predict = ["predict", str(tmp_path / "ct.nii.gz"), "--model", TINY_MODEL, "--plugins", str(plugins)]
    predict += ["--device", "cpu", "-o", str(tmp_path / "out.nii.gz"), "--workspace", str(workspace)]

    assert main(predict + ["--version", "0.1.0+ft1"]) == 0
    assert "tiny-ct 0.1.0+ft1: wrote label map" in capsys.readouterr().out
    assert main(predict + ["--version", "0.1.0+ft7"]) == 2
    assert "no fine-tuned version '0.1.0+ft7' here (versions: 0.1.0+ft1)" in capsys.readouterr().err
    assert main(predict[:-2] + ["--version", "0.1.0+ft1"]) == 2
    assert "--version and --workspace go together" in capsys.readouterr().err
