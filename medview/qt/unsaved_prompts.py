"""The questions medview asks before unsaved annotation work could be lost.

Each is a plain function returning the user's answer as a word, so the window and panels read
simply and tests answer them without a modal dialog blocking the run.
"""

from __future__ import annotations

from collections.abc import Sequence

from qtpy.QtWidgets import QMessageBox, QWidget

from medview.annotations.autosave import Draft

SAVE, DRAFT, DISCARD, CANCEL = "save", "draft", "discard", "cancel"
RECOVER, LATER = "recover", "later"


def ask_unsaved(parent: QWidget | None, names: Sequence[str], action: str) -> str:
    """Before ``action`` (e.g. "opening ct.nii.gz", "quitting") drops annotations with unsaved edits:
    ``save``, ``draft`` (keep as a draft, offered when the scan opens again), ``discard`` or ``cancel``."""
    listed = "\n".join(f"  • {name}" for name in names)
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Unsaved annotation")
    box.setText(f"These annotations have edits that are not saved:\n{listed}")
    box.setInformativeText(f"Save them before {action}?")
    answers = {
        box.addButton("Save", QMessageBox.ButtonRole.AcceptRole): SAVE,
        box.addButton("Keep as draft", QMessageBox.ButtonRole.ActionRole): DRAFT,
        box.addButton("Discard edits", QMessageBox.ButtonRole.DestructiveRole): DISCARD,
        box.addButton(QMessageBox.StandardButton.Cancel): CANCEL,
    }
    box.setDefaultButton(next(button for button, answer in answers.items() if answer == SAVE))
    box.exec()
    return answers.get(box.clickedButton(), CANCEL)


def offer_draft(parent: QWidget | None, draft: Draft, name: str) -> str:
    """A draft of ``name`` was left unsaved (a crash, or "keep as draft"): ``recover``, ``discard``
    (after :func:`confirm_discard`) or ``later`` (it stays, and the panel keeps offering it)."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Unsaved draft found")
    box.setText(f"An autosaved draft of {name} from {draft.saved} was never saved.")
    box.setInformativeText("Recover it into the annotation? Nothing is applied until you choose.")
    answers = {
        box.addButton("Recover", QMessageBox.ButtonRole.AcceptRole): RECOVER,
        box.addButton("Discard draft…", QMessageBox.ButtonRole.DestructiveRole): DISCARD,
        box.addButton("Later", QMessageBox.ButtonRole.RejectRole): LATER,
    }
    box.exec()
    answer = answers.get(box.clickedButton(), LATER)
    if answer == DISCARD and not confirm_discard(parent, draft, name):
        return LATER
    return answer


def confirm_discard(parent: QWidget | None, draft: Draft, name: str) -> bool:
    """True when the user confirms deleting ``draft``, told exactly what is lost."""
    answer = QMessageBox.warning(
        parent,
        "Discard the draft?",
        f"Delete the draft of {name} saved {draft.saved}? Its unsaved strokes are lost for good.",
        QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
        QMessageBox.StandardButton.Cancel,
    )
    return answer == QMessageBox.StandardButton.Discard
