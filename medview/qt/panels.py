"""The dock panels of the main window: (dock title, "module:Class", area), read by the main window.

Each panel class takes ``(viewer: napari.components.ViewerModel, parent=None)``. Adding a panel is
one line here; the main window imports each lazily and reports one that fails instead of crashing.
"""

PANELS: tuple[tuple[str, str, str], ...] = (
    ("Models", "medview.qt.widgets.model_panel:ModelPanel", "right"),
    ("Metrics", "medview.qt.widgets.metrics_panel:MetricsPanel", "right"),
    ("Annotate", "medview.qt.widgets.annotation_panel:AnnotationPanel", "right"),
    ("Cases", "medview.qt.widgets.case_browser:CaseBrowser", "right"),
    ("Train", "medview.qt.widgets.training_panel:TrainingPanel", "right"),
)
