"""The annotation tools: paint, erase, fill, navigate, the brush radius and the intensity limit."""

from __future__ import annotations

from collections.abc import Callable

from qtpy.QtGui import QKeySequence
from qtpy.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QWidget,
)

MODES = (
    ("paint", "Paint", "Paint with the selected label"),
    ("erase", "Erase", "Erase to background"),
    ("fill", "Fill", "Fill the connected region under the cursor"),
    ("pan_zoom", "Navigate", "Pan and zoom without editing"),
)


class BrushBox(QGroupBox):
    """The "Tools" group; ``set_mode(mode)`` is called with napari's labels mode of the button pressed,
    and ``brush_changed`` with no argument whenever the radius or 3D brush changes."""

    def __init__(
        self,
        set_mode: Callable[[str], None],
        brush_changed: Callable[[], None],
        shortcuts: dict[str, str],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Tools", parent)
        self.buttons: dict[str, QPushButton] = {}
        row = QHBoxLayout()
        for mode, text, tip in MODES:
            button = QPushButton(text)
            button.setToolTip(f"{tip} ({shortcuts[mode]})")
            button.setShortcut(QKeySequence(shortcuts[mode]))
            button.clicked.connect(lambda checked=False, m=mode: set_mode(m))
            self.buttons[mode] = button
            row.addWidget(button)
        self.radius = QDoubleSpinBox()
        self.radius.setRange(0.1, 200.0)
        self.radius.setValue(3.0)
        self.radius.setSuffix(" mm")
        self.radius.setToolTip("Brush radius in millimetres of the scan")
        self.radius.valueChanged.connect(brush_changed)
        self.brush_3d = QCheckBox("3D brush")
        self.brush_3d.setToolTip("Paint a ball through neighbouring slices instead of a disc in this slice")
        self.brush_3d.toggled.connect(brush_changed)
        self.limit = QCheckBox("Only within intensity range")
        self.limit.setToolTip("Paint only voxels whose scan value lies in the range (e.g. a HU window)")
        self.low, self.high = QDoubleSpinBox(), QDoubleSpinBox()
        for spin, value in ((self.low, -100.0), (self.high, 200.0)):
            spin.setRange(-100000.0, 100000.0)
            spin.setValue(value)
        range_row = QHBoxLayout()
        range_row.addWidget(self.low)
        range_row.addWidget(QLabel("to"))
        range_row.addWidget(self.high)
        form = QFormLayout(self)
        form.addRow(row)
        form.addRow("Brush radius", self.radius)
        form.addRow(self.brush_3d)
        form.addRow(self.limit)
        form.addRow("Range", range_row)
