"""GUI test fixtures: napari's QApplication (so its resources and settings are set up) and the main window."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def qapp():
    """Override pytest-qt's QApplication with napari's, which registers napari's icons and themes."""
    from napari.qt import get_qapp

    return get_qapp()


@pytest.fixture
def main_window(qtbot):
    """A shown medview main window, closed after the test."""
    from medview.qt.app import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.close()


@pytest.fixture
def errors(main_window, monkeypatch) -> list[tuple[str, str]]:
    """The error dialogs the main window shows, as (title, text), instead of blocking on them."""
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(main_window, "show_error", lambda title, text: shown.append((title, text)))
    return shown


@pytest.fixture(autouse=True)
def dialogs(request, monkeypatch) -> list[tuple[str, str, str]]:
    """The message boxes a test's code shows through QMessageBox's static functions, as
    ``(kind, title, text)``, answered at once instead of blocking the test run on a modal dialog.

    A test marked ``real_dialogs`` gets the real boxes (and must close them itself)."""
    from qtpy.QtWidgets import QMessageBox

    shown: list[tuple[str, str, str]] = []
    if request.node.get_closest_marker("real_dialogs"):
        return shown

    def recorder(kind: str, answer):
        def show(parent, title, text, *args, **kwargs):
            shown.append((kind, title, text))
            return answer

        return staticmethod(show)

    for kind, answer in (
        ("question", QMessageBox.StandardButton.No),
        ("warning", QMessageBox.StandardButton.Ok),
        ("critical", QMessageBox.StandardButton.Ok),
        ("information", QMessageBox.StandardButton.Ok),
    ):
        monkeypatch.setattr(QMessageBox, kind, recorder(kind, answer))
    return shown


class Prompts:
    """The unsaved-work questions a test's code asked, as ``(question, detail)``, and the answers given:
    by default "keep as draft" before dropping edits, "later" for a draft, and no to deleting one."""

    def __init__(self) -> None:
        from medview.qt import unsaved_prompts

        self.asked: list[tuple[str, str]] = []
        self.answers = {
            "ask_unsaved": unsaved_prompts.DRAFT,
            "offer_draft": unsaved_prompts.LATER,
            "confirm_discard": False,
        }

    def answer(self, question: str):
        def ask(parent, subject, detail=None):
            what = detail if isinstance(detail, str) else getattr(subject, "name", None) or str(subject)
            self.asked.append((question, what))
            return self.answers[question]

        return ask


@pytest.fixture(autouse=True)
def prompts(request, monkeypatch, tmp_path) -> Prompts:
    """Answers the unsaved-work prompts at once (see :class:`Prompts`); drafts of annotations outside
    a workspace go to the test's own folder. A test marked ``real_dialogs`` gets the real prompts."""
    from medview.qt import unsaved_prompts

    monkeypatch.setenv("MEDVIEW_DRAFTS_DIR", str(tmp_path / "user-drafts"))
    answers = Prompts()
    if request.node.get_closest_marker("real_dialogs"):
        return answers
    for question in answers.answers:
        monkeypatch.setattr(unsaved_prompts, question, answers.answer(question))
    return answers
