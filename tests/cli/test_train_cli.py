"""``medview train``: fine-tunes in a workspace and prints the new version with Dice before and after."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
from training_fixtures import TINY_MODEL, make_plugin_folder, make_workspace  # noqa: E402

from medview.cli.main import main  # noqa: E402
from medview.models.registry import PLUGIN_PATH_ENV  # noqa: E402

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
    assert (
        set(result["metrics_before"]) == set(result["metrics_after"]) == {"dice", "dice_liver", "dice_lesion"}
    )
    assert (workspace / "models" / TINY_MODEL / "0.1.0+ft1" / "weights.safetensors").is_file()


def test_train_refuses_an_unknown_model(workspace: Path, capsys: pytest.CaptureFixture):
    assert main(["train", "--workspace", str(workspace), "--model", "no-such-model"]) == 2
    assert "no model called 'no-such-model'" in capsys.readouterr().err


def test_the_medview_command_trains_for_a_time_budget(workspace: Path):
    command = [str(MEDVIEW), "train", "--workspace", str(workspace), "--model", TINY_MODEL]
    command += ["--minutes", "0.01", "--device", "cpu", "--json"]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=120, env=os.environ.copy())

    assert finished.returncode == 0, finished.stderr
    result = json.loads(finished.stdout)
    assert result["stop_reason"] == "time budget" and result["version"] == "0.1.0+ft1"
