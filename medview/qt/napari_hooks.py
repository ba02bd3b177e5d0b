"""npe2 contributions (see ``medview/napari.yaml``): reader, writer and demo data for plain napari."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from medview.demo import DemoCase, make_ct, make_radiograph, make_tile
from medview.io import SUPPORTED_SUFFIXES
from medview.qt.bridge import boxes_layer_data, label_map_layer_data, scan_layer_data

LayerData = tuple[Any, dict[str, Any], str]


def get_reader(path: str | list[str]) -> Callable[[str | list[str]], list[LayerData]] | None:
    """napari reader hook: medview reads scan files and folders (DICOM series)."""
    first = Path(path[0] if isinstance(path, list) else path)
    if first.is_dir() or first.name.lower().endswith(SUPPORTED_SUFFIXES):
        return read_layers
    return None


def read_layers(path: str | list[str]) -> list[LayerData]:
    """Open each path with :func:`medview.io.open_scan`; a bad file raises with a clear message."""
    from medview.io import open_scan

    paths = path if isinstance(path, list) else [path]
    return [scan_layer_data(open_scan(p)) for p in paths]


def write_labels(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """napari writer hook: a labels layer to NIfTI/NRRD/MHA with its geometry and label table."""
    from medview.core.geometry import Geometry
    from medview.core.scan import LabelMap
    from medview.io import write_label_map
    from medview.qt.bridge import LABEL_MAP_KEY

    known = meta.get("metadata", {}).get(LABEL_MAP_KEY)
    if isinstance(known, LabelMap):
        label_map = LabelMap(data, known.geometry, known.labels, known.provenance.edited_by_user())
    else:
        spacing = meta.get("scale", (1.0,) * data.ndim)
        label_map = LabelMap(data, Geometry.from_spacing(spacing, meta.get("translate")))
    return [str(write_label_map(label_map, path))]


def demo_ct() -> list[LayerData]:
    """Sample data: the demo CT phantom with its organ and lesion labels."""
    return _case_layers(make_ct(0))


def demo_radiograph() -> list[LayerData]:
    """Sample data: the demo chest radiograph with its nodule boxes."""
    return _case_layers(make_radiograph(0))


def demo_tile() -> list[LayerData]:
    """Sample data: the demo H&E tile with its nucleus labels."""
    return _case_layers(make_tile(0))


def _case_layers(case: DemoCase) -> list[LayerData]:
    layers = [scan_layer_data(case.scan)]
    if case.truth is not None:
        layers.append(label_map_layer_data(case.truth, "ground truth"))
    if case.boxes:
        layers.append(boxes_layer_data(case.boxes, case.box_labels, case.scan.geometry, "ground truth boxes"))
    return layers


def models_panel(napari_viewer: Any) -> Any:
    """The Models panel in plain napari."""
    return _panel("Models", napari_viewer)


def metrics_panel(napari_viewer: Any) -> Any:
    """The Metrics panel in plain napari."""
    return _panel("Metrics", napari_viewer)


def annotation_panel(napari_viewer: Any) -> Any:
    """The Annotate panel in plain napari."""
    return _panel("Annotate", napari_viewer)


def cases_panel(napari_viewer: Any) -> Any:
    """The Cases (workspace) panel in plain napari."""
    return _panel("Cases", napari_viewer)


def training_panel(napari_viewer: Any) -> Any:
    """The Train panel in plain napari."""
    return _panel("Train", napari_viewer)


def _panel(title: str, viewer: Any) -> Any:
    import importlib

    from medview.qt.panels import PANELS

    target = next(target for name, target, _ in PANELS if name == title)
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)(viewer)
