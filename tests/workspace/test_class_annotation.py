"""A case's class: a versioned ``class`` annotation, and older workspaces upgraded to hold it."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from medview.core.errors import InputError
from medview.core.geometry import Geometry
from medview.core.labels import LabelClass, LabelTable
from medview.core.provenance import Provenance
from medview.core.scan import Scan
from medview.io import write_scan
from medview.workspace import Workspace, database, read_class
from medview.workspace.workspace import INDEX_NAME

CLASSES = LabelTable([LabelClass(1, "benign", (0, 200, 0)), LabelClass(2, "malignant", (200, 0, 0))])


def _workspace(tmp_path: Path) -> tuple[Workspace, str]:
    scan = Scan(np.zeros((8, 8), np.uint16), Geometry.from_spacing((0.5, 0.5)), "DX")
    workspace = Workspace.create(tmp_path / "ws")
    case = workspace.add_case(write_scan(scan, tmp_path / "lesion.nii.gz"))
    return workspace, case.id


def test_the_class_round_trips_as_numbered_versions_with_provenance(tmp_path: Path):
    workspace, case_id = _workspace(tmp_path)

    first = workspace.save_class(case_id, "benign", CLASSES, Provenance.drawn())
    second = workspace.save_class(case_id, "malignant", CLASSES, Provenance.predicted("classifier", "2.0"))

    assert (first.kind, first.version, first.path.name) == ("class", 1, "class-v0001.json")
    assert (second.version, second.path.name) == (2, "class-v0002.json")
    assert [read_class(v.path) for v in workspace.annotations(case_id, "class")] == ["benign", "malignant"]
    assert workspace.annotations(case_id, "class")[1].provenance.author == "classifier"
    assert workspace.case(case_id).status == "in_progress"
    assert workspace.list_annotated_cases() == []  # "annotated" still means label maps
    workspace.set_status(case_id, "done")
    ((case, newest),) = workspace.list_annotated_cases(kind="class")
    assert case.id == case_id and newest.version == 2


def test_a_class_outside_the_table_and_an_unknown_case_are_refused(tmp_path: Path):
    workspace, case_id = _workspace(tmp_path)

    with pytest.raises(InputError, match=r"'cyst' is not one of the classes \(benign, malignant\)"):
        workspace.save_class(case_id, "cyst", CLASSES, Provenance.drawn())
    with pytest.raises(InputError, match="no case 'nope'"):
        workspace.save_class("nope", "benign", CLASSES, Provenance.drawn())
    assert workspace.annotations(case_id) == []
    (tmp_path / "broken.json").write_text("{}")
    with pytest.raises(InputError, match="not a medview class annotation"):
        read_class(tmp_path / "broken.json")


def test_a_workspace_of_the_first_schema_is_upgraded_and_keeps_its_annotations(tmp_path: Path):
    workspace, case_id = _workspace(tmp_path)
    workspace.save_boxes(case_id, [], CLASSES, Provenance.drawn())
    workspace.close()
    _downgrade_to_first_schema(tmp_path / "ws" / INDEX_NAME)

    with Workspace.open(tmp_path / "ws") as upgraded:
        assert [v.kind for v in upgraded.annotations(case_id)] == ["boxes"]
        upgraded.save_class(case_id, "benign", CLASSES, Provenance.drawn())
        assert [v.kind for v in upgraded.annotations(case_id)] == ["boxes", "class"]
    with closing(sqlite3.connect(tmp_path / "ws" / INDEX_NAME)) as connection:
        (version,) = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert int(version) == database.SCHEMA_VERSION


def _downgrade_to_first_schema(index: Path) -> None:
    """Rebuild the annotations table with schema 1's constraint (labels and boxes only)."""
    first = database._ANNOTATIONS.format(name="old").replace("'boxes', 'class'", "'boxes'")
    with closing(sqlite3.connect(index, isolation_level=None)) as connection:
        connection.execute("BEGIN")
        connection.execute(first)
        connection.execute("INSERT INTO old SELECT * FROM annotations")
        connection.execute("DROP TABLE annotations")
        connection.execute("ALTER TABLE old RENAME TO annotations")
        connection.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
        connection.execute("COMMIT")
        with pytest.raises(sqlite3.IntegrityError):  # what an old index does with a class annotation
            connection.execute(
                "INSERT INTO annotations (case_id, kind, version, path, provenance, created) "
                "SELECT case_id, 'class', 9, path, provenance, created FROM annotations"
            )
