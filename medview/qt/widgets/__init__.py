"""Dock panels and small widgets of the main window; each also works as a plain napari widget."""
