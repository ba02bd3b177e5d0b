"""Reading and writing scans, label maps and boxes. The only place (with the Qt bridge) that
converts between file conventions and medview's array-ordered geometry."""

from medview.io.writers import write_boxes, write_label_map, write_scan

__all__ = ["write_boxes", "write_label_map", "write_scan"]
