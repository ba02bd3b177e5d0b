"""Autosave of label-map drafts, so a crash loses only the last few seconds of edits.

An :class:`Autosaver` writes ``<directory>/<case>.draft.npz`` atomically when the editor has
changed and ``interval_s`` has passed; something calls :meth:`Autosaver.tick` every second or so
(a QTimer in the GUI, a loop in scripts). The array is copied on the caller's thread and
compressed on a background thread, so the GUI never waits for the disk. On the next start
:func:`find_drafts` lists what was left behind; the user chooses :func:`recover` or :func:`discard`.
A draft is never applied without being asked.
"""

from __future__ import annotations

import json
import re
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from medview.annotations.editor import AnnotationEditor
from medview.core.errors import InputError
from medview.core.geometry import Geometry
from medview.core.labels import LabelTable
from medview.core.provenance import Provenance
from medview.core.scan import LabelMap
from medview.io.atomic import write_with_atomic

DRAFT_SUFFIX = ".draft.npz"
DEFAULT_INTERVAL_S = 5.0


@dataclass(frozen=True)
class Draft:
    """An autosaved label map found on disk.

    Attributes:
        path: the draft file.
        case_id: the case it belongs to.
        source: the scan it annotates (path), when known.
        saved: ISO 8601 UTC time of the write.
        name: what the user called the annotation (its layer name), when known.
    """

    path: Path
    case_id: str
    source: str | None
    saved: str
    name: str | None = None


def write_draft(
    label_map: LabelMap,
    directory: str | Path,
    case_id: str,
    source: str | None = None,
    name: str | None = None,
) -> Path:
    """Write ``label_map`` as the draft of ``case_id`` (atomically) and return its path."""
    path = draft_path(directory, case_id)
    meta = {
        "case_id": case_id,
        "name": name,
        "source": source,
        "saved": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "affine": label_map.geometry.affine.tolist(),
        "labels": label_map.labels.to_dict(),
        "provenance": label_map.provenance.to_dict(),
    }

    def write(temporary: Path) -> None:
        with open(temporary, "wb") as handle:
            np.savez_compressed(handle, labels=label_map.array, meta=np.array(json.dumps(meta)))

    write_with_atomic(path, write)
    return path


def draft_path(directory: str | Path, case_id: str) -> Path:
    """Where the draft of ``case_id`` lives in ``directory``."""
    return Path(directory) / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', case_id)}{DRAFT_SUFFIX}"


def find_drafts(directory: str | Path) -> list[Draft]:
    """The drafts left in ``directory``, newest first; unreadable files are skipped."""
    drafts = []
    for path in Path(directory).glob(f"*{DRAFT_SUFFIX}"):
        if path.name.startswith("."):
            continue  # an interrupted atomic write
        try:
            meta = _read_meta(path)
        except InputError:
            continue
        drafts.append(Draft(path, meta["case_id"], meta.get("source"), meta["saved"], meta.get("name")))
    return sorted(drafts, key=lambda draft: draft.saved, reverse=True)


def recover(draft: Draft) -> LabelMap:
    """The label map saved in ``draft`` (its provenance as it was when autosaved)."""
    meta = _read_meta(draft.path)
    with np.load(draft.path, allow_pickle=False) as archive:
        array = archive["labels"]
    return LabelMap(
        array,
        Geometry(np.array(meta["affine"])),
        LabelTable.from_dict(meta["labels"]),
        Provenance.from_dict(meta["provenance"]),
    )


def discard(draft: Draft) -> None:
    """Delete a draft the user does not want."""
    draft.path.unlink(missing_ok=True)


class Autosaver:
    """Writes the editor's label map as a draft when it changed and ``interval_s`` has passed."""

    def __init__(
        self,
        editor: AnnotationEditor,
        directory: str | Path,
        case_id: str,
        source: str | None = None,
        interval_s: float = DEFAULT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        name: str | None = None,
    ) -> None:
        self.editor = editor
        self.directory = Path(directory)
        self.case_id = case_id
        self.source = source
        self.name = name
        self.interval_s = interval_s
        self._clock = clock
        self._saved_revision = editor.revision
        self._last_write = clock()
        self._writer: threading.Thread | None = None
        self.error: Exception | None = None

    @property
    def dirty(self) -> bool:
        """True when the editor has changes not yet in a draft."""
        return self.editor.revision != self._saved_revision

    @property
    def path(self) -> Path:
        return draft_path(self.directory, self.case_id)

    def tick(self) -> bool:
        """Start a background write if dirty and due; returns whether one was started."""
        if not self.dirty or self._clock() - self._last_write < self.interval_s:
            return False
        if self._writer is not None and self._writer.is_alive():
            return False
        snapshot = LabelMap(
            self.editor.array.copy(),
            self.editor.label_map.geometry,
            self.editor.label_map.labels,
            self.editor.label_map.provenance,
        )
        self._saved_revision = self.editor.revision
        self._last_write = self._clock()
        self._writer = threading.Thread(target=self._write, args=(snapshot,), daemon=True)
        self._writer.start()
        return True

    def flush(self) -> None:
        """Wait for a write in progress (and write now if still dirty)."""
        self._wait()
        if self.dirty:
            self._saved_revision = self.editor.revision
            self._write(self.editor.label_map)
            self._last_write = self._clock()

    def clear(self, revision: int | None = None) -> None:
        """Forget the draft after the annotation was saved properly.

        ``revision`` is the editor revision that was saved; if the user has edited since, the draft
        is kept (and rewritten on the next tick) because the saved file lacks those edits.
        """
        self._wait()
        if revision is not None and revision != self.editor.revision:
            return
        self._saved_revision = self.editor.revision
        self.path.unlink(missing_ok=True)

    def _write(self, label_map: LabelMap) -> None:
        try:
            write_draft(label_map, self.directory, self.case_id, self.source, self.name)
            self.error = None
        except OSError as error:  # a full disk must not take the editor down; the panel shows it
            self.error = error
            self._saved_revision = -1  # retry on the next tick

    def _wait(self) -> None:
        if self._writer is not None:
            self._writer.join()
            self._writer = None


def _read_meta(path: Path) -> dict:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return json.loads(str(archive["meta"]))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise InputError(f"not a readable medview draft ({error})", path) from error
