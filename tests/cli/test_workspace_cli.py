import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from medview.cli.main import main
from medview.core.geometry import Geometry
from medview.core.scan import LabelMap, Scan
from medview.io import write_label_map, write_scan
from medview.workspace import Workspace, read_class


def _scan(tmp_path, name, shape=(3, 4, 5)):
    scan = Scan(np.zeros(shape, dtype=np.int16), Geometry.from_spacing((2, 1, 1)))
    return write_scan(scan, tmp_path / f"{name}.nii.gz"), scan


def test_init_add_list_json(tmp_path, capsys):
    path, scan = _scan(tmp_path, "one")
    other, _ = _scan(tmp_path, "two")
    labels = write_label_map(
        LabelMap(np.ones((3, 4, 5), dtype=np.uint8), scan.geometry), tmp_path / "l.nii.gz"
    )
    (tmp_path / "l.labels.json").unlink()  # an annotation from elsewhere, without medview's sidecar
    workspace = str(tmp_path / "ws")
    assert main(["workspace", "init", workspace]) == 0
    assert main(["workspace", "add", workspace, str(path), "--labels", str(labels)]) == 0
    assert main(["workspace", "add", workspace, str(other)]) == 0
    capsys.readouterr()
    assert main(["workspace", "list", workspace, "--json"]) == 0
    cases = json.loads(capsys.readouterr().out)
    assert [(c["id"], c["status"], len(c["annotations"])) for c in cases] == [
        ("one", "done", 1),
        ("two", "unlabelled", 0),
    ]
    assert set(cases[0]) == {"id", "path", "status", "annotations"}
    assert Path(cases[0]["path"]).is_file()
    assert cases[0]["annotations"][0]["provenance"]["source"] == "import"


def test_errors_are_messages(tmp_path, capsys):
    path, _ = _scan(tmp_path, "one")
    other, _ = _scan(tmp_path, "two")
    assert main(["workspace", "list", str(tmp_path)]) == 2
    assert "not a medview workspace" in capsys.readouterr().err
    main(["workspace", "init", str(tmp_path / "ws")])
    assert main(["workspace", "add", str(tmp_path / "ws"), str(path), str(other), "--labels", str(path)]) == 2
    assert "exactly one PATH" in capsys.readouterr().err


def test_installed_command_runs(tmp_path):
    path, _ = _scan(tmp_path, "one")
    command = [str(Path(sys.executable).parent / "medview"), "workspace"]
    subprocess.run([*command, "init", str(tmp_path / "ws")], check=True, capture_output=True)
    subprocess.run([*command, "add", str(tmp_path / "ws"), str(path)], check=True, capture_output=True)
    listed = subprocess.run(
        [*command, "list", str(tmp_path / "ws"), "--json"], check=True, capture_output=True, text=True
    )
    assert json.loads(listed.stdout)[0]["id"] == "one"


def test_class_stores_the_case_class_and_marks_it_done(tmp_path, capsys):
    path, _ = _scan(tmp_path, "patch")
    workspace = str(tmp_path / "ws")
    main(["workspace", "init", workspace])
    main(["workspace", "add", workspace, str(path)])
    capsys.readouterr()

    assert main(["workspace", "class", workspace, "patch", "nodule", "--model", "patch-classifier"]) == 0
    assert "patch: class 'nodule' (version 1); case done" in capsys.readouterr().out
    assert main(["workspace", "class", workspace, "patch", "b", "--classes", "a", "b"]) == 0
    with Workspace.open(workspace) as opened:
        versions = opened.annotations("patch", "class")
        assert opened.case("patch").status == "done"
    assert [read_class(version.path) for version in versions] == ["nodule", "b"]


def test_class_refuses_a_bad_case_class_or_model_in_one_line(tmp_path, capsys):
    path, _ = _scan(tmp_path, "patch")
    workspace = str(tmp_path / "ws")
    main(["workspace", "init", workspace])
    main(["workspace", "add", workspace, str(path)])
    capsys.readouterr()
    refusals = [
        (["nope", "nodule", "--model", "patch-classifier"], "no case 'nope' in this workspace"),
        (
            ["patch", "cyst", "--model", "patch-classifier"],
            "'cyst' is not one of the classes (no nodule, nodule)",
        ),
        (["patch", "bone", "--model", "threshold"], "model 'threshold' is a segmentation model"),
        (["patch", "a", "--classes", "a", "a"], "--classes: label name 'a' is already used"),
    ]
    for arguments, message in refusals:
        assert main(["workspace", "class", workspace, *arguments]) == 2
        error = capsys.readouterr().err
        assert message in error and error.count("\n") == 1
    with Workspace.open(workspace) as opened:
        assert opened.annotations("patch") == [] and opened.case("patch").status == "unlabelled"
