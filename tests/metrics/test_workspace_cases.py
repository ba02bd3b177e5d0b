"""Workspace cases with both a model prediction and a human annotation are paired and scored."""

import numpy as np

from medview.core.provenance import Provenance
from medview.core.scan import LabelMap
from medview.demo import make_ct
from medview.io.writers import write_scan
from medview.metrics.cumulative import evaluate_cases, worst_first
from medview.metrics.workspace_cases import workspace_pairs
from medview.workspace import Workspace


def test_pairs_newest_prediction_with_newest_annotation(tmp_path):
    workspace = Workspace.create(tmp_path / "ws")
    ids = []
    for seed, shift in ((1, 1), (2, 4)):
        case = make_ct(seed=seed, shape=(16, 40, 40))
        scan_path = write_scan(case.scan, tmp_path / f"scan{seed}.nii.gz")
        case_id = workspace.add_case(scan_path).id
        ids.append(case_id)
        truth = case.truth
        workspace.save_labels(
            case_id, LabelMap(truth.array, truth.geometry, truth.labels, Provenance.drawn())
        )
        for version, moved in (("1", 9), ("2", shift)):
            predicted = LabelMap(
                np.roll(truth.array, moved, axis=2),
                truth.geometry,
                truth.labels,
                Provenance.predicted("net", version),
            )
            workspace.save_labels(case_id, predicted)
    lonely = make_ct(seed=3, shape=(16, 40, 40))
    workspace.add_case(write_scan(lonely.scan, tmp_path / "scan3.nii.gz"))  # no annotation: left out
    pairs = workspace_pairs(workspace)
    assert [case for case, _, _ in pairs] == ids
    assert all(pred.provenance.model_version == "2" for _, pred, _ in pairs)
    assert [p.provenance.model_version for _, p, _ in workspace_pairs(workspace, "1")] == ["1", "1"]
    rows = evaluate_cases(pairs).aggregate()
    body = [row for row in rows if row.label_name == "body"]
    assert worst_first(body)[0].case == ids[1]  # shifted by 4 voxels, not 1
    assert body[0].values["dice"] > body[1].values["dice"]
    workspace.close()
