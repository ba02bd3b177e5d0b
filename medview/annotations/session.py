"""The annotations open for editing: one editor, undo history and autosave per annotation.

Undo history belongs to the annotation, not to whichever layer happens to be selected: switching
from one annotation to another and back keeps both histories. The session knows which annotations
have edits that were never saved, so the window can ask before it drops them (save, keep as draft,
discard), and where each one's draft lives, so a draft is offered when its scan opens again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from medview.annotations.autosave import Autosaver, Draft, discard, find_drafts
from medview.annotations.editor import AnnotationEditor
from medview.core.boxes import Box
from medview.core.provenance import Provenance
from medview.core.scan import LabelMap, Scan

DRAFTS_ENVIRONMENT = "MEDVIEW_DRAFTS_DIR"


def default_drafts_directory() -> Path:
    """Where drafts of annotations outside a workspace go: ``$MEDVIEW_DRAFTS_DIR``, else the user's
    data folder (``$XDG_DATA_HOME/medview/drafts``, by default ``~/.local/share/medview/drafts``)."""
    if os.environ.get(DRAFTS_ENVIRONMENT):
        return Path(os.environ[DRAFTS_ENVIRONMENT])
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "medview" / "drafts"


@dataclass(frozen=True)
class WorkspaceCase:
    """The workspace case an annotation belongs to: saving it adds a version there."""

    workspace: Path
    case_id: str


@dataclass(eq=False)
class OpenAnnotation:
    """One annotation open for editing.

    Attributes:
        name: what the user calls it (the layer name).
        editor: its voxels, label table and undo history.
        autosaver: writes its draft while it has unsaved edits.
        case: the workspace case it is saved into, or ``None`` for a file.
        file: the file it was last saved to (or opened from), if any.
        saved_revision: the editor revision last saved (or as opened).
    """

    name: str
    editor: AnnotationEditor
    autosaver: Autosaver
    case: WorkspaceCase | None = None
    file: Path | None = None
    saved_revision: int = 0

    @property
    def label_map(self) -> LabelMap:
        return self.editor.label_map

    @property
    def unsaved(self) -> bool:
        """True when it has edits (or a label-table change) not yet saved."""
        return self.editor.revision != self.saved_revision


class AnnotationSession:
    """The open annotations, each reached by its label map (the object a layer shows)."""

    def __init__(self, drafts_directory: Path | None = None) -> None:
        self.drafts_directory = drafts_directory or default_drafts_directory()
        self._open: dict[int, OpenAnnotation] = {}

    def open(
        self,
        label_map: LabelMap,
        scan: Scan | None,
        name: str,
        case: WorkspaceCase | None = None,
        file: Path | None = None,
    ) -> OpenAnnotation:
        """The open annotation of ``label_map``: the one already open (same history), or a new one."""
        known = self._open.get(id(label_map))
        if known is not None and known.label_map is label_map:
            return known
        editor = AnnotationEditor(label_map, scan)
        directory, draft_id = draft_location(name, scan, case, self.drafts_directory)
        source = None if scan is None else scan.source
        autosaver = Autosaver(editor, directory, draft_id, source, name=name)
        annotation = OpenAnnotation(name, editor, autosaver, case, file)
        annotation.saved_revision = editor.revision
        self._open[id(label_map)] = annotation
        return annotation

    def get(self, label_map: LabelMap) -> OpenAnnotation | None:
        known = self._open.get(id(label_map))
        return known if known is not None and known.label_map is label_map else None

    @property
    def annotations(self) -> list[OpenAnnotation]:
        return list(self._open.values())

    def unsaved(self) -> list[OpenAnnotation]:
        """The open annotations with edits not yet saved."""
        return [annotation for annotation in self._open.values() if annotation.unsaved]

    def mark_saved(self, annotation: OpenAnnotation, revision: int, file: Path | None = None) -> None:
        """``annotation`` was saved at editor ``revision``: its draft goes unless edited since."""
        annotation.autosaver.clear(revision)
        annotation.saved_revision = revision
        if file is not None:
            annotation.file = file

    def keep_drafts(self) -> list[Path]:
        """Write every unsaved annotation's draft now (before its layers go); returns the drafts."""
        kept = []
        for annotation in self.unsaved():
            annotation.autosaver.flush()
            kept.append(annotation.autosaver.path)
        return kept

    def discard(self, annotation: OpenAnnotation) -> None:
        """Drop ``annotation``'s unsaved edits: its draft is deleted and it counts as saved."""
        annotation.autosaver.clear()
        annotation.saved_revision = annotation.editor.revision

    def close(self, label_map: LabelMap) -> None:
        """Forget ``label_map``'s annotation (its layer is gone); unsaved edits stay in its draft."""
        annotation = self._open.pop(id(label_map), None)
        if annotation is not None:
            annotation.autosaver.flush()

    def tick(self) -> None:
        """Give every autosaver its chance to write a draft (called about once a second)."""
        for annotation in list(self._open.values()):
            annotation.autosaver.tick()

    def drafts_for(self, scan: Scan, case: WorkspaceCase | None = None) -> list[Draft]:
        """Drafts left for ``scan`` (by its workspace case, else by its file), newest first."""
        if case is not None:
            directory = case.workspace / "drafts"
            found = find_drafts(directory) if directory.is_dir() else []
            return [draft for draft in found if draft.case_id == case.case_id]
        if scan.source is None or not self.drafts_directory.is_dir():
            return []
        return [draft for draft in find_drafts(self.drafts_directory) if draft.source == scan.source]

    def all_drafts(self) -> list[Draft]:
        """Every draft of an annotation outside a workspace, newest first (offered at start)."""
        return find_drafts(self.drafts_directory) if self.drafts_directory.is_dir() else []

    def discard_draft(self, draft: Draft) -> None:
        discard(draft)


def draft_location(
    name: str, scan: Scan | None, case: WorkspaceCase | None, drafts_directory: Path
) -> tuple[Path, str]:
    """``(folder, draft id)`` of an annotation's draft: the workspace's ``drafts`` folder under the
    case id, else the user's drafts folder under the name and a hash of the scan's file (two scans
    with an annotation of the same name keep separate drafts)."""
    if case is not None:
        return case.workspace / "drafts", case.case_id
    if scan is None or scan.source is None:
        return drafts_directory, name
    digest = hashlib.sha1(str(scan.source).encode("utf-8")).hexdigest()[:8]
    return drafts_directory, f"{name}-{digest}"


def is_reference(label_map: LabelMap) -> bool:
    """True for a label map shown for comparison, which the annotation tools leave alone unless the
    user picks it: generated ground truth, an imported reference, or a model's output."""
    return label_map.provenance.source in ("demo", "import", "model")


def corrected_copy(label_map: LabelMap) -> LabelMap:
    """A copy of ``label_map`` to edit, marked as made from it: a model output becomes
    "corrected from <model> <version>", anything else "copy of" its author's version."""
    provenance = label_map.provenance
    if provenance.source in ("model", "model+user"):
        made = Provenance(
            "model+user",
            model_version=provenance.model_version,
            derived_from=f"corrected from {provenance.author} {provenance.model_version or ''}".strip(),
        )
    else:
        made = Provenance.drawn(derived_from=f"copy of {provenance.source} annotation by {provenance.author}")
    return LabelMap(label_map.array.copy(), label_map.geometry, label_map.labels, made)


def write_annotation_file(
    label_map: LabelMap, scan: Scan | None, fmt: str, path: Path, boxes: Sequence[Sequence[Box]] = ()
) -> Path:
    """Save an annotation outside a workspace as ``path`` in any export format ``fmt``; returns the
    file written (NIfTI also writes its ``.labels.json``)."""
    if fmt == "nifti":
        from medview.annotations.nifti import save_nifti

        return save_nifti(label_map, path, scan)
    from medview.annotations.export import export_annotation

    flat = [box for box_set in boxes for box in box_set]
    written = export_annotation(
        fmt, path, scan, label_map=label_map, boxes=flat or None, box_labels=label_map.labels
    )
    return written[0]
