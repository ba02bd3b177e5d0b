"""A workspace: a folder of cases (scans and their annotation versions), model versions and
training runs, indexed by an embedded SQLite database (``workspace.sqlite``).

Layout::

    DIR/workspace.sqlite
    DIR/cases/<case id>/scan/<the scan file or folder, copied>
    DIR/cases/<case id>/annotations/labels-v0001.nii.gz (+ labels-v0001.labels.json)
    DIR/cases/<case id>/annotations/boxes-v0001.json
    DIR/cases/<case id>/annotations/class-v0001.json   the case's class (classification)
    DIR/drafts/                      autosaved drafts (see medview.annotations.autosave)

Annotation versions are never overwritten: every save adds a new numbered file and a row that
records its provenance. Several processes may write at once (see :mod:`medview.workspace.database`).
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from medview.annotations.nifti import load_nifti, save_nifti
from medview.core.boxes import Box
from medview.core.errors import InputError
from medview.core.labels import LabelTable
from medview.core.progress import CancelToken, ProgressCallback, no_progress
from medview.core.provenance import Provenance
from medview.core.scan import LabelMap
from medview.io.atomic import write_text_atomic
from medview.io.writers import label_table_path, write_boxes
from medview.workspace import database

INDEX_NAME = "workspace.sqlite"
Status = Literal["unlabelled", "in_progress", "done"]
STATUSES: tuple[Status, ...] = ("unlabelled", "in_progress", "done")
AnnotationKind = Literal["labels", "boxes", "class"]
SCAN_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".mha", ".mhd", ".dcm", ".png", ".jpg", ".jpeg", ".tif", ".tiff")
SCAN_SUFFIXES += (".svs", ".ndpi", ".mrxs", ".scn")


@dataclass(frozen=True)
class AnnotationVersion:
    """One saved version of a case's label map, box set or class."""

    case_id: str
    kind: AnnotationKind
    version: int
    path: Path
    provenance: Provenance
    created: str

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "version": self.version,
            "path": str(self.path),
            "provenance": self.provenance.to_dict(),
            "created": self.created,
        }


@dataclass(frozen=True)
class Case:
    """A scan in the workspace and its annotation status."""

    id: str
    name: str
    path: Path
    source_path: str
    status: Status
    added: str


class Workspace:
    """A workspace folder; open with :meth:`create` or :meth:`open`, never by the constructor."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._connection = database.connect(directory / INDEX_NAME)

    @classmethod
    def create(cls, directory: str | Path) -> Workspace:
        """Make ``directory`` a workspace (it may exist but must not hold one already)."""
        directory = Path(directory)
        if (directory / INDEX_NAME).exists():
            raise InputError("already a medview workspace", directory)
        if directory.exists() and not directory.is_dir():
            raise InputError("exists and is not a folder", directory)
        directory.mkdir(parents=True, exist_ok=True)
        workspace = cls(directory)
        database.create_schema(workspace._connection)
        return workspace

    @classmethod
    def open(cls, directory: str | Path) -> Workspace:
        """Open an existing workspace (an index of an older schema is upgraded)."""
        directory = Path(directory)
        if not (directory / INDEX_NAME).is_file():
            raise InputError(
                f"not a medview workspace (no {INDEX_NAME}); create one with 'medview workspace init'",
                directory,
            )
        workspace = cls(directory)
        database.upgrade(workspace._connection)
        return workspace

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def drafts_directory(self) -> Path:
        return self.directory / "drafts"

    # cases

    def add_case(self, scan_path: str | Path, labels: str | Path | None = None) -> Case:
        """Copy a scan (file or DICOM folder) into the workspace as a new case.

        With ``labels`` an existing annotation is checked against the scan (refused when its shape
        or geometry differs), stored as version 1 with ``import`` provenance, and the case is
        marked ``done``.
        """
        source = Path(scan_path)
        if not source.exists():
            raise InputError("no such file or folder", source)
        label_map = self._check_labels(source, Path(labels)) if labels is not None else None
        name = _stem(source)
        with database.write_transaction(self._connection) as db:
            case_id = self._new_case_id(db, name)
            destination = self.directory / "cases" / case_id / "scan" / source.name
            _insert(
                db,
                "cases",
                id=case_id,
                name=name,
                scan_path=self._relative(destination),
                source_path=str(source.resolve()),
                status="unlabelled",
                added=_now(),
            )
            _copy(source, destination)
        if label_map is not None:
            self.save_labels(case_id, label_map)
            self.set_status(case_id, "done")
        return self.case(case_id)

    def import_folder(
        self,
        folder: str | Path,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> list[Case]:
        """Add every scan directly in ``folder``: scan files by extension, sub-folders as DICOM series."""
        folder = Path(folder)
        if not folder.is_dir():
            raise InputError("not a folder", folder)
        candidates = sorted(
            path
            for path in folder.iterdir()
            if not path.name.startswith(".")
            and (path.is_dir() or path.name.lower().endswith(SCAN_SUFFIXES))
            and ".labels." not in path.name
        )
        added = []
        for index, path in enumerate(candidates):
            if cancel is not None:
                cancel.raise_if_cancelled()
            progress(index / max(len(candidates), 1), f"adding {path.name}")
            added.append(self.add_case(path))
        progress(1.0, f"added {len(added)} scans")
        return added

    def cases(self) -> list[Case]:
        """Every case, in the order they were added."""
        rows = self._connection.execute("SELECT * FROM cases ORDER BY added, rowid").fetchall()
        return [self._case(row) for row in rows]

    def case(self, case_id: str) -> Case:
        row = self._connection.execute("SELECT * FROM cases WHERE id = ?", (case_id,)).fetchone()
        if row is None:
            raise InputError(f"no case {case_id!r} in this workspace", self.directory)
        return self._case(row)

    def next_unlabelled(self) -> Case | None:
        """The first case still ``unlabelled``, or ``None`` when all have been started."""
        return next((case for case in self.cases() if case.status == "unlabelled"), None)

    def set_status(self, case_id: str, status: Status) -> None:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        with database.write_transaction(self._connection) as db:
            self.case(case_id)
            db.execute("UPDATE cases SET status = ? WHERE id = ?", (status, case_id))

    # annotations

    def save_labels(self, case_id: str, label_map: LabelMap) -> AnnotationVersion:
        """Store ``label_map`` as the case's next labels version; an unlabelled case becomes in progress."""
        return self._add_version(
            case_id, "labels", label_map.provenance, lambda path: save_nifti(label_map, path)
        )

    def save_boxes(
        self, case_id: str, boxes: Sequence[Box], labels: LabelTable, provenance: Provenance
    ) -> AnnotationVersion:
        """Store a box set as the case's next boxes version."""
        case = self.case(case_id)
        return self._add_version(
            case_id, "boxes", provenance, lambda path: write_boxes(boxes, path, labels, case.name)
        )

    def save_class(
        self, case_id: str, class_name: str, labels: LabelTable, provenance: Provenance
    ) -> AnnotationVersion:
        """Store the class of the whole case (one of ``labels``) as its next ``class`` version.

        The file is ``{"case", "class", "value", "labels"}`` JSON; :func:`read_class` reads it back.
        """
        case = self.case(case_id)
        value = next((label.value for label in labels if label.name == class_name), None)
        if value is None:
            known = ", ".join(label.name for label in labels) or "none"
            raise InputError(f"{class_name!r} is not one of the classes ({known})")
        document = {"case": case.name, "class": class_name, "value": value, "labels": labels.to_dict()}
        return self._add_version(
            case_id, "class", provenance, lambda path: write_text_atomic(path, json.dumps(document, indent=2))
        )

    def annotations(self, case_id: str, kind: AnnotationKind | None = None) -> list[AnnotationVersion]:
        """The case's annotation versions, oldest first (optionally only those of one kind)."""
        query = "SELECT * FROM annotations WHERE case_id = ?" + (" AND kind = ?" if kind else "")
        rows = self._connection.execute(
            query + " ORDER BY kind, version", (case_id, kind)[: 2 if kind else 1]
        )
        return [self._annotation(row) for row in rows.fetchall()]

    def latest_labels(self, case_id: str) -> LabelMap | None:
        """The newest labels version of a case, or ``None``."""
        versions = self.annotations(case_id, "labels")
        return load_nifti(versions[-1].path) if versions else None

    def list_annotated_cases(
        self, done_only: bool = True, kind: AnnotationKind = "labels"
    ) -> list[tuple[Case, AnnotationVersion]]:
        """Cases with a version of ``kind`` (labels by default; ``done`` ones only by default) and their
        newest version of it."""
        annotated = []
        for case in self.cases():
            versions = self.annotations(case.id, kind)
            if versions and (case.status == "done" or not done_only):
                annotated.append((case, versions[-1]))
        return annotated

    # models and training runs (used by medview.training)

    def add_model_version(
        self,
        name: str,
        version: str,
        path: str | Path,
        parent_id: int | None = None,
        metrics: dict | None = None,
    ) -> int:
        """Record a model version (weights at ``path``); returns its id."""
        with database.write_transaction(self._connection) as db:
            return _insert(
                db,
                "model_versions",
                name=name,
                version=version,
                path=str(path),
                parent_id=parent_id,
                metrics=json.dumps(metrics or {}),
                created=_now(),
            )

    def model_versions(self) -> list[dict]:
        rows = self._connection.execute("SELECT * FROM model_versions ORDER BY id").fetchall()
        return [{**dict(row), "metrics": json.loads(row["metrics"])} for row in rows]

    def add_run(
        self, config: dict, base_model_id: int | None = None, directory: str | Path | None = None
    ) -> int:
        """Record a training run that has started; returns its id."""
        with database.write_transaction(self._connection) as db:
            return _insert(
                db,
                "training_runs",
                base_model_id=base_model_id,
                config=json.dumps(config),
                status="running",
                directory=None if directory is None else str(directory),
                started=_now(),
            )

    def finish_run(self, run_id: int, status: str, result_model_id: int | None = None) -> None:
        """Record how a run ended (``done``, ``failed``, ``cancelled``) and the model version it made."""
        with database.write_transaction(self._connection) as db:
            db.execute(
                "UPDATE training_runs SET status = ?, result_model_id = ?, finished = ? WHERE id = ?",
                (status, result_model_id, _now(), run_id),
            )

    def runs(self) -> list[dict]:
        rows = self._connection.execute("SELECT * FROM training_runs ORDER BY id").fetchall()
        return [{**dict(row), "config": json.loads(row["config"])} for row in rows]

    # the test split: cases that judge fine-tuned versions and are never trained on

    def test_cases(self, kind: AnnotationKind) -> list[str] | None:
        """The case ids recorded as the test set for models that learn from ``kind`` annotations, or
        ``None`` when none has been chosen yet (an empty list means "no test set" by choice)."""
        row = self._connection.execute(
            "SELECT value FROM meta WHERE key = ?", (f"test_cases:{kind}",)
        ).fetchone()
        return None if row is None else list(json.loads(row["value"]))

    def set_test_cases(self, kind: AnnotationKind, case_ids: list[str] | None) -> None:
        """Record ``case_ids`` (existing cases) as the test set for ``kind``; ``None`` forgets it, so the
        next run chooses again."""
        known = {case.id for case in self.cases()}
        unknown = [case_id for case_id in case_ids or () if case_id not in known]
        if unknown:
            raise InputError(f"no such case in this workspace: {', '.join(unknown)}", self.directory)
        with database.write_transaction(self._connection) as db:
            db.execute("DELETE FROM meta WHERE key = ?", (f"test_cases:{kind}",))
            if case_ids is not None:
                db.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    (f"test_cases:{kind}", json.dumps(case_ids)),
                )

    # helpers

    def _add_version(
        self, case_id: str, kind: AnnotationKind, provenance: Provenance, write: Callable[[Path], object]
    ) -> AnnotationVersion:
        with database.write_transaction(self._connection) as db:
            self.case(case_id)
            (latest,) = db.execute(
                "SELECT COALESCE(MAX(version), 0) FROM annotations WHERE case_id = ? AND kind = ?",
                (case_id, kind),
            ).fetchone()
            version = latest + 1
            suffix = ".nii.gz" if kind == "labels" else ".json"
            path = self.directory / "cases" / case_id / "annotations" / f"{kind}-v{version:04d}{suffix}"
            if path.exists():
                raise InputError(
                    "an annotation version file exists but is not indexed; not overwriting it", path
                )
            _insert(
                db,
                "annotations",
                case_id=case_id,
                kind=kind,
                version=version,
                path=self._relative(path),
                provenance=json.dumps(provenance.to_dict()),
                created=_now(),
            )
            db.execute(
                "UPDATE cases SET status = 'in_progress' WHERE id = ? AND status = 'unlabelled'", (case_id,)
            )
            write(path)  # inside the transaction: a failed write leaves no row behind
        return self.annotations(case_id, kind)[-1]

    def _check_labels(self, scan_path: Path, labels_path: Path) -> LabelMap:
        from medview.io import open_scan

        label_map = load_nifti(labels_path, open_scan(scan_path))
        if not label_table_path(labels_path).exists():  # no record of its origin: say it was imported
            label_map.provenance = Provenance("import", derived_from=str(labels_path.resolve()))
        return label_map

    def _new_case_id(self, db: sqlite3.Connection, name: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "case"
        case_id, counter = base, 1
        while db.execute("SELECT 1 FROM cases WHERE id = ?", (case_id,)).fetchone():
            counter += 1
            case_id = f"{base}-{counter}"
        return case_id

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.directory).as_posix()

    def _case(self, row: sqlite3.Row) -> Case:
        return Case(
            row["id"],
            row["name"],
            self.directory / row["scan_path"],
            row["source_path"],
            row["status"],
            row["added"],
        )

    def _annotation(self, row: sqlite3.Row) -> AnnotationVersion:
        return AnnotationVersion(
            row["case_id"],
            row["kind"],
            row["version"],
            self.directory / row["path"],
            Provenance.from_dict(json.loads(row["provenance"])),
            row["created"],
        )


def read_class(path: str | Path) -> str:
    """The class name a ``class-vNNNN.json`` annotation holds."""
    path = Path(path)
    try:
        name = json.loads(path.read_text(encoding="utf-8"))["class"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        raise InputError(f"not a medview class annotation ({error})", path) from error
    if not isinstance(name, str):
        raise InputError(f"not a medview class annotation (class {name!r} is not a name)", path)
    return name


def _insert(db: sqlite3.Connection, table: str, **values: object) -> int:
    columns = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    cursor = db.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(values.values()))
    return int(cursor.lastrowid)


def _copy(source: Path, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, destination)
    else:
        shutil.copy2(source, destination)


def _stem(path: Path) -> str:
    name = path.name
    for suffix in sorted(SCAN_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")
