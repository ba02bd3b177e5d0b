"""Comparing two versions of a model on workspace cases: the scores are each version's own Dice."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from training_fixtures import TINY_MODEL, make_fine_tuned_version

from medview.cli.main import main
from medview.core.errors import InputError
from medview.io import open_scan
from medview.models.registry import Registry
from medview.training import versions
from medview.training.compare import compare_versions
from medview.training.versions import version_plugin
from medview.workspace import Workspace


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.logical_and(a, b).sum() / (a.sum() + b.sum())


def _expected_dice(plugin, scan, truth) -> dict[str, float]:
    """Dice per model class, the annotation's classes matched to the model's by name."""
    predicted = plugin.predict(scan).label_map.array
    truth_value = {label.name: label.value for label in truth.labels}
    return {
        label.name: _dice(predicted == label.value, truth.array == truth_value[label.name])
        for label in plugin.info.labels
        if np.any(truth.array == truth_value[label.name])
    }


def test_each_version_is_scored_against_the_annotation(plugin_folder: Path, workspace_dir: Path):
    make_fine_tuned_version(workspace_dir, plugin_folder)
    registry = Registry.discover([plugin_folder])
    with Workspace.open(workspace_dir) as workspace:
        cases = [case.id for case in workspace.cases()]
        first = workspace.case(cases[0])
        truth = workspace.latest_labels(first.id)
    base = registry.get(TINY_MODEL)
    tuned = version_plugin(base, versions.find_version(workspace_dir, TINY_MODEL, "0.1.0+ft1"))
    scan = open_scan(first.path)

    result = compare_versions(workspace_dir, TINY_MODEL, cases=cases, registry=registry)

    assert (result.old_version, result.new_version) == ("0.1.0", "0.1.0+ft1")
    old_by_class, new_by_class = _expected_dice(base, scan, truth), _expected_dice(tuned, scan, truth)
    row = result.overall.cases[0]
    assert row.case == first.id
    assert row.old == pytest.approx(np.mean(list(old_by_class.values())))
    assert row.new == pytest.approx(np.mean(list(new_by_class.values())))
    assert set(result.by_class) == set(old_by_class)
    assert result.by_class["liver"].cases[0].new == pytest.approx(new_by_class["liver"])
    assert len(result.overall.cases) == 3 and result.overall.scored == 3
    differences = [c.new - c.old for c in result.overall.cases]
    assert result.overall.difference.value == pytest.approx(np.mean(differences))
    assert result.overall.wins == sum(d > 0 for d in differences)


def test_default_cases_are_the_validation_cases_of_the_run(plugin_folder: Path, workspace_dir: Path):
    folder = make_fine_tuned_version(workspace_dir, plugin_folder)
    with Workspace.open(workspace_dir) as workspace:
        held_out = workspace.cases()[1].id
    card = json.loads((folder / versions.MODEL_CARD).read_text())
    card["data"] = {"training": {}, "validation": {held_out: "sha"}}
    (folder / versions.MODEL_CARD).write_text(json.dumps(card))

    result = compare_versions(workspace_dir, TINY_MODEL, registry=Registry.discover([plugin_folder]))

    assert [case.case for case in result.overall.cases] == [held_out]


def test_a_version_without_test_or_validation_cases_asks_for_them(plugin_folder: Path, workspace_dir: Path):
    make_fine_tuned_version(workspace_dir, plugin_folder)
    with pytest.raises(InputError, match="records no test or validation cases"):
        compare_versions(workspace_dir, TINY_MODEL, registry=Registry.discover([plugin_folder]))


def test_compare_cli_prints_json_and_refuses_an_unknown_version(
    plugin_folder: Path, workspace_dir: Path, capsys: pytest.CaptureFixture
):
    make_fine_tuned_version(workspace_dir, plugin_folder)
    with Workspace.open(workspace_dir) as workspace:
        case = workspace.cases()[0].id
    command = ["compare", "--workspace", str(workspace_dir), "--model", TINY_MODEL, "--cases", case]

    assert main(command + ["--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["metric"] == "dice" and document["new_version"] == "0.1.0+ft1"
    assert [row["case"] for row in document["cases"]] == [case]
    assert document["difference"]["value"] == pytest.approx(
        document["cases"][0]["new"] - document["cases"][0]["old"]
    )
    assert main(["compare", "--workspace", str(workspace_dir.parent / "nowhere"), "--model", TINY_MODEL]) == 2
    assert "not a medview workspace" in capsys.readouterr().err
    assert main(command + ["--version", "0.1.0+ft9"]) == 2
    err = capsys.readouterr().err
    assert "no fine-tuned version '0.1.0+ft9'" in err and len(err.strip().splitlines()) == 1


def test_classifier_versions_are_compared_by_whether_each_case_is_classified_right(tmp_path: Path):
    from training_fixtures import make_class_workspace

    from medview.training.config import TrainingConfig
    from medview.training.runner import train_in_workspace
    from medview.workspace import read_class

    workspace = make_class_workspace(tmp_path / "classes")
    train_in_workspace(
        workspace, TrainingConfig("patch-classifier", epochs=1, validation_fraction=0.4, device="cpu")
    )

    result = compare_versions(workspace, "patch-classifier")

    with Workspace.open(workspace) as opened:
        test_cases = opened.test_cases("class")
    assert result.case_set == "test" and result.case_ids == test_cases and len(test_cases) == 2
    assert result.overall.metric == "accuracy" and result.overall.scored == 2
    registry = Registry.discover()
    base = registry.get("patch-classifier")
    tuned = version_plugin(base, versions.find_version(workspace, "patch-classifier", "1.0.0+ft1"))
    with Workspace.open(workspace) as opened:
        for row in result.overall.cases:
            scan = open_scan(opened.case(row.case).path)
            truth = read_class(opened.annotations(row.case, "class")[-1].path)
            for plugin, score in ((base, row.old), (tuned, row.new)):
                prediction = plugin.predict(scan)
                assert score == float(
                    prediction.class_names[int(np.argmax(prediction.probabilities))] == truth
                )
