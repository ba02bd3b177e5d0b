"""Drafts offered back to the user: at once when their annotation or scan opens, and in the Annotate
panel's "Unsaved draft found" box while the user has answered "later".

A draft is applied only when the user chooses Recover (an ordinary, undoable edit), and deleted only
after a confirmation naming what is lost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from napari.layers import Labels
from qtpy.QtWidgets import QGridLayout, QGroupBox, QLabel, QPushButton, QSizePolicy

from medview.annotations import tools
from medview.annotations.autosave import Draft, recover
from medview.annotations.session import OpenAnnotation
from medview.core.scan import LabelMap, Scan
from medview.qt import unsaved_prompts
from medview.qt.bridge import add_label_map

if TYPE_CHECKING:
    from medview.qt.widgets.annotation_panel import AnnotationPanel


class DraftOffers(QGroupBox):
    """The drafts of the panel's annotations; ``draft`` is the one offered now, if any."""

    def __init__(self, panel: AnnotationPanel) -> None:
        super().__init__("Unsaved draft found")
        self.panel = panel
        self.draft: Draft | None = None
        self._offered: set[int] = set()
        self._label = QLabel()
        self._label.setWordWrap(True)
        self._label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout = QGridLayout(self)
        layout.addWidget(self._label, 0, 0, 1, 2)
        for column, (text, tip, slot) in enumerate(
            (
                ("Recover", "Put the draft's voxels into the annotation", self.recover),
                ("Discard", "Delete the draft", self.discard),
            )
        ):
            button = QPushButton(text)
            button.setToolTip(tip)
            button.clicked.connect(slot)
            layout.addWidget(button, 1, column)
        self.setVisible(False)

    def offer_for(self, annotation: OpenAnnotation) -> None:
        """Offer ``annotation``'s draft at once, the first time it is edited here; "later" leaves it
        in the box."""
        if id(annotation.label_map) in self._offered:
            return
        self._offered.add(id(annotation.label_map))
        session, scan = self.panel.session, annotation.editor.scan
        drafts = (
            session.drafts_for(scan, annotation.case)
            if annotation.case is not None and scan is not None
            else [draft for draft in session.all_drafts() if draft.path == annotation.autosaver.path]
        )
        self.draft = drafts[0] if drafts else None
        if self.draft is None:
            return
        answer = unsaved_prompts.offer_draft(self.panel, self.draft, self._name())
        if answer == unsaved_prompts.RECOVER:
            self.recover()
        elif answer == unsaved_prompts.DISCARD:
            session.discard_draft(self.draft)
            self._done("Discarded the draft.")
        else:
            self._label.setText(
                f"An autosaved draft of this annotation from {self.draft.saved} was not saved. "
                "Recover it or discard it; nothing is applied until you choose."
            )
            self.setVisible(True)

    def offer_for_scan(self, scan: Scan) -> None:
        """Offer, at once, a draft left for ``scan`` (opened from a file) by an annotation not on
        screen; recovering it makes that annotation again."""
        session = self.panel.session
        open_drafts = {annotation.autosaver.path for annotation in session.annotations}
        drafts = [draft for draft in session.drafts_for(scan) if draft.path not in open_drafts]
        if not drafts:
            return
        draft = drafts[0]
        name = draft.name or f"{scan.name or 'scan'} annotation"
        answer = unsaved_prompts.offer_draft(self.panel, draft, name)
        if answer == unsaved_prompts.DISCARD:
            session.discard_draft(draft)
            self.panel.say("Discarded the draft.")
        elif answer == unsaved_prompts.RECOVER:
            self.recover_into_new(draft, scan, name)

    def recover(self) -> None:
        """Replace the edited annotation's voxels with the offered draft (an undoable edit)."""
        editor = self.panel.editor
        if self.draft is None or editor is None:
            return
        recovered = recover(self.draft)
        if recovered.array.shape != editor.array.shape:
            self.panel.say("The draft does not fit this annotation's grid; discard it.", error=True)
            return
        region = tuple(slice(0, n) for n in recovered.array.shape)
        editor.apply(tools.Change(region, recovered.array.astype(editor.array.dtype)), "recover draft")
        editor.label_map.labels = recovered.labels
        self.panel.show_labels(recovered.labels)
        self._done(f"Recovered the draft saved {self.draft.saved}.")

    def recover_into_new(self, draft: Draft, scan: Scan, name: str) -> Labels | None:
        """Make the annotation ``name`` of ``scan`` from ``draft`` (unsaved, undoable)."""
        from medview.qt.widgets.annotation_panel import EDITING_KEY

        recovered = recover(draft)
        if recovered.array.shape != scan.spatial_shape:
            self.panel.say("The draft does not fit this scan's grid; it was left as it is.", error=True)
            return None
        empty = LabelMap(
            np.zeros_like(recovered.array), scan.geometry, recovered.labels, recovered.provenance
        )
        layer = add_label_map(self.panel.viewer, empty, name=name)
        layer.metadata[EDITING_KEY] = True
        self._offered.add(id(empty))
        self.panel.viewer.layers.selection.active = layer
        self.draft = draft
        self.recover()
        return layer

    def discard(self) -> None:
        """Delete the offered draft once the user confirms what is lost."""
        if self.draft is not None and unsaved_prompts.confirm_discard(self.panel, self.draft, self._name()):
            self.panel.session.discard_draft(self.draft)
            self._done("Discarded the draft.")

    def forget(self) -> None:
        """The panel stopped editing: the box goes (the draft stays on disk)."""
        self.draft = None
        self.setVisible(False)

    def _name(self) -> str:
        if self.draft is not None and self.draft.name:
            return self.draft.name
        annotation = self.panel.annotation
        return annotation.name if annotation is not None else "this annotation"

    def _done(self, message: str) -> None:
        self.forget()
        self.panel.say(message)
