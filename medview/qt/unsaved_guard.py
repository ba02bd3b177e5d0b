"""Before the window drops an annotation with unsaved edits (another scan or case opens, the window
closes), the user chooses: save, keep as draft, discard or cancel. Drafts an earlier session left
are offered at start."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medview.qt import unsaved_prompts

if TYPE_CHECKING:
    from medview.qt.app import MainWindow


def settle_unsaved(window: MainWindow, action: str, proceed: Callable[[], Any]) -> Any:
    """Run ``proceed`` once no annotation with unsaved edits would be dropped by ``action``: the user
    saves them (``proceed`` runs after the save), keeps them as drafts, discards them, or cancels
    (``proceed`` never runs). Returns what ``proceed`` returned when it ran at once."""
    annotate = window.panels.get("Annotate")
    unsaved = annotate.session.unsaved() if annotate is not None else []
    if not unsaved:
        return proceed()
    answer = unsaved_prompts.ask_unsaved(window, [annotation.name for annotation in unsaved], action)
    if answer == unsaved_prompts.CANCEL:
        return None
    if answer == unsaved_prompts.SAVE:
        annotate.save_all(then=proceed)
        return None
    if answer == unsaved_prompts.DRAFT:
        annotate.session.keep_drafts()
    else:
        for annotation in unsaved:
            annotate.session.discard(annotation)
    return proceed()


def may_close(window: MainWindow) -> bool:
    """Whether the window may close now: not while the user saves first (it closes once the save is
    written) or after they cancelled."""
    closing: list[bool] = []
    settle_unsaved(window, "quitting", lambda: closing.append(True))
    if closing:
        return True
    annotate = window.panels.get("Annotate")
    if annotate is not None and annotate.task_bar.busy:
        annotate.task_bar.finished.connect(lambda outcome: window.close() if outcome == "done" else None)
    return False


def offer_drafts_at_start(window: MainWindow) -> None:
    """Offer the drafts of annotations outside a workspace that an earlier session left: recovering
    one opens its scan with the draft in it (the rest are offered when their scans open)."""
    annotate = window.panels.get("Annotate")
    if annotate is None:
        return
    for draft in annotate.session.all_drafts():
        name = draft.name or draft.case_id
        answer = unsaved_prompts.offer_draft(window, draft, name)
        if answer == unsaved_prompts.DISCARD:
            annotate.session.discard_draft(draft)
        elif answer == unsaved_prompts.RECOVER and draft.source and Path(draft.source).exists():
            window.recovering = (draft, name)
            window.open_path(draft.source)
            return
