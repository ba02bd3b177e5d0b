"""``torchrun --nproc_per_node=2 -m medview.training``: DDP on gloo, one version written by rank 0."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from training_fixtures import TINY_MODEL

from medview.models.registry import PLUGIN_PATH_ENV
from medview.training import versions
from medview.workspace import Workspace

TORCHRUN = Path(sys.executable).with_name("torchrun")


def test_two_processes_train_one_version(plugin_folder: Path, workspace_dir: Path):
    # One host: rendezvous and gloo on loopback, so the test needs no resolvable host name.
    command = [str(TORCHRUN), "--nproc_per_node=2", "--rdzv-backend=c10d", "--rdzv-endpoint=127.0.0.1:0"]
    command += ["--nnodes=1", "--local-addr=127.0.0.1", "-m", "medview.training"]
    command += ["--workspace", str(workspace_dir), "--model", TINY_MODEL, "--epochs", "2"]
    command += ["--device", "cpu", "--batch-size", "1", "--learning-rate", "0.01", "--progress-json"]
    environment = os.environ | {
        PLUGIN_PATH_ENV: str(plugin_folder),
        "OMP_NUM_THREADS": "1",
        "GLOO_SOCKET_IFNAME": "lo",
    }
    finished = subprocess.run(command, capture_output=True, text=True, timeout=120, env=environment)

    assert finished.returncode == 0, finished.stderr[-3000:]
    events = [json.loads(line) for line in finished.stdout.splitlines() if line.startswith("{")]
    epochs = [event for event in events if event["event"] == "epoch"]
    (done,) = [event for event in events if event["event"] == "done"]  # rank 0 alone reports
    assert [event["epoch"] for event in epochs] == [1, 2]
    assert done["version"] == "0.1.0+ft1" and done["epochs"] == 2
    assert [v.version for v in versions.list_versions(workspace_dir, TINY_MODEL)] == ["0.1.0+ft1"]
    with Workspace.open(workspace_dir) as workspace:
        assert [run["status"] for run in workspace.runs()] == ["done"]
