import multiprocessing
import sqlite3

import numpy as np
import pytest

from medview.annotations.nifti import AnnotationMismatchError
from medview.core.boxes import Box
from medview.core.errors import InputError
from medview.core.geometry import Geometry
from medview.core.labels import preset
from medview.core.provenance import Provenance
from medview.core.scan import LabelMap, Scan
from medview.io import write_label_map, write_scan
from medview.workspace import Workspace
from medview.workspace.workspace import INDEX_NAME


def _scan_file(folder, name, shape=(4, 6, 8), origin=(0.0, 0.0, 0.0)):
    scan = Scan(
        np.arange(np.prod(shape), dtype=np.int16).reshape(shape), Geometry.from_spacing((2, 1, 1), origin)
    )
    return write_scan(scan, folder / f"{name}.nii.gz"), scan


def _label_map(scan, value=1):
    array = np.zeros(scan.spatial_shape, dtype=np.uint8)
    array[1, 2, 3] = value
    return LabelMap(array, scan.geometry, preset("lung-nodule"), Provenance.drawn())


def test_create_add_list_and_statuses(tmp_path):
    path, scan = _scan_file(tmp_path, "ct 01")
    workspace = Workspace.create(tmp_path / "ws")
    first = workspace.add_case(path)
    second = workspace.add_case(path)
    assert (first.id, second.id) == ("ct_01", "ct_01-2")
    assert first.path.is_file() and first.path.is_relative_to(tmp_path / "ws")
    assert [case.status for case in workspace.cases()] == ["unlabelled", "unlabelled"]
    assert workspace.next_unlabelled().id == "ct_01"
    workspace.save_labels("ct_01", _label_map(scan))
    assert workspace.case("ct_01").status == "in_progress"
    workspace.set_status("ct_01", "done")
    assert workspace.next_unlabelled().id == "ct_01-2"
    assert [case.id for case, _ in workspace.list_annotated_cases()] == ["ct_01"]
    with pytest.raises(InputError, match="already a medview workspace"):
        Workspace.create(tmp_path / "ws")
    with pytest.raises(InputError, match="not a medview workspace"):
        Workspace.open(tmp_path)


def test_versions_are_never_overwritten_and_keep_provenance(tmp_path):
    path, scan = _scan_file(tmp_path, "a")
    workspace = Workspace.create(tmp_path / "ws")
    case = workspace.add_case(path)
    predicted = _label_map(scan, 1)
    predicted.provenance = Provenance.predicted("unet", "1.0")
    workspace.save_labels(case.id, predicted)
    corrected = _label_map(scan, 1)
    corrected.array[0, 0, 0] = 1
    corrected.provenance = predicted.provenance.edited_by_user()
    workspace.save_labels(case.id, corrected)
    workspace.save_boxes(
        case.id, [Box(1, 0.9, (0, 1, 2), (1, 3, 4))], preset("lung-nodule"), Provenance.drawn()
    )
    versions = workspace.annotations(case.id)
    assert [(v.kind, v.version) for v in versions] == [("boxes", 1), ("labels", 1), ("labels", 2)]
    assert [v.provenance.source for v in versions] == ["user", "model", "model+user"]
    assert all(v.path.exists() for v in versions)
    assert workspace.latest_labels(case.id).array[0, 0, 0] == 1
    first = workspace.annotations(case.id, "labels")[0]
    assert first.path.name == "labels-v0001.nii.gz"


def test_add_with_labels_checks_fit(tmp_path):
    path, scan = _scan_file(tmp_path, "a")
    good = write_label_map(_label_map(scan), tmp_path / "good.nii.gz")
    other_path, other = _scan_file(tmp_path, "b", shape=(4, 6, 9))
    bad = write_label_map(_label_map(other), tmp_path / "bad.nii.gz")
    workspace = Workspace.create(tmp_path / "ws")
    case = workspace.add_case(path, labels=good)
    assert case.status == "done" and len(workspace.annotations(case.id)) == 1
    with pytest.raises(
        AnnotationMismatchError, match=r"bad.nii.gz: the annotation is 9 x 6 x 4 \(x, y, z\) voxels"
    ):
        workspace.add_case(path, labels=bad)
    assert len(workspace.cases()) == 1


def test_import_folder_and_models_and_runs(tmp_path):
    scans = tmp_path / "scans"
    scans.mkdir()
    for name in ("x", "y"):
        _scan_file(scans, name)
    (scans / "notes.txt").write_text("not a scan")
    workspace = Workspace.create(tmp_path / "ws")
    seen = []
    added = workspace.import_folder(scans, progress=lambda fraction, message: seen.append(fraction))
    assert [case.id for case in added] == ["x", "y"] and seen[-1] == 1.0
    model = workspace.add_model_version("unet", "1", tmp_path / "w.safetensors", metrics={"dice": 0.8})
    run = workspace.add_run({"epochs": 2}, base_model_id=model)
    tuned = workspace.add_model_version("unet", "2", tmp_path / "w2.safetensors", parent_id=model)
    workspace.finish_run(run, "done", result_model_id=tuned)
    assert workspace.model_versions()[0]["metrics"] == {"dice": 0.8}
    assert workspace.runs()[0]["status"] == "done" and workspace.runs()[0]["result_model_id"] == tuned


def _save_many(directory, case_id, scan_path, count, results):
    from medview.core.geometry import Geometry as G  # noqa: N817 - fresh import in the child process

    with Workspace.open(directory) as workspace:
        for index in range(count):
            array = np.full((4, 6, 8), index % 3, dtype=np.uint8)
            workspace.save_labels(case_id, LabelMap(array, G.from_spacing((2, 1, 1))))
            workspace.add_case(scan_path)
    results.put("ok")


def test_concurrent_writers_get_distinct_versions_and_ids(tmp_path):
    path, _ = _scan_file(tmp_path, "a")
    workspace = Workspace.create(tmp_path / "ws")
    case = workspace.add_case(path)
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [
        context.Process(target=_save_many, args=(tmp_path / "ws", case.id, path, 6, results))
        for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [results.get(timeout=5) for _ in workers] == ["ok"] * 3
    versions = workspace.annotations(case.id, "labels")
    assert [v.version for v in versions] == list(range(1, 19))
    assert len({v.path for v in versions}) == 18 and all(v.path.exists() for v in versions)
    assert len({c.id for c in workspace.cases()}) == 19
    mode = sqlite3.connect(tmp_path / "ws" / INDEX_NAME).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
