"""3D Slicer segmentations (``.seg.nrrd``): segment names, colours and label values from the header.

Slicer writes each segment's properties as NRRD key/value fields: ``Segment0_Name:=liver``,
``Segment0_Color:=0.86 0.3 0.2`` (RGB, 0-1), ``Segment0_LabelValue:=1``, ``Segment0_Layer:=0``.
Segments of one layer share one label per voxel. Segments that overlap go to further layers,
stored as a 4D file with one component per layer (older Slicer versions gave every segment a
layer of its own). medview shows one label per voxel, so a file of several layers is refused with
a line saying how to export it, rather than flattened: flattening would hide some segments'
voxels under others without the user choosing which.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from medview.core.labels import Colour, LabelClass, LabelTable, default_colour
from medview.io.errors import ScanError
from medview.io.sitk_reader import read_header

_FIELD = re.compile(r"Segment(\d+)_(\w+)\Z")
_LAYERS = (
    "this 3D Slicer segmentation keeps overlapping segments in {count} layers, and medview shows one "
    "label per voxel; in 3D Slicer, export it as a labelmap (which gives each voxel one segment) and "
    "open that file"
)


def segment_table(metadata: Mapping[str, str]) -> LabelTable | None:
    """The label table the ``Segment<N>_*`` fields describe; ``None`` when there are none.

    A segment without a name is called by its ID (or ``segment <value>``), one without a usable
    colour takes :func:`~medview.core.labels.default_colour`, one without a label value takes
    ``N + 1``; names that repeat get their value appended.

    Raises:
        ValueError: the segments lie in several layers, or a label value is not a positive whole
            number or is used twice; the message is written for the user.
    """
    segments: dict[int, dict[str, str]] = {}
    for key, value in metadata.items():
        match = _FIELD.match(key)
        if match:
            segments.setdefault(int(match[1]), {})[match[2]] = str(value).strip()
    if not segments:
        return None
    layers = {_whole(fields.get("Layer", "0"), index, "layer") for index, fields in segments.items()}
    if layers != {0}:
        raise ValueError(_LAYERS.format(count=len(layers)))
    classes: dict[int, LabelClass] = {}
    names: set[str] = set()
    for index, fields in sorted(segments.items()):
        value = _whole(fields.get("LabelValue", str(index + 1)), index, "label value")
        name = fields.get("Name") or fields.get("ID") or f"segment {value}"
        if value <= 0:
            raise ValueError(f"segment {name!r} has label value {value}; values start at 1")
        if value in classes:
            raise ValueError(f"segments {classes[value].name!r} and {name!r} both have label value {value}")
        if name in names:
            name = f"{name} ({value})"
        names.add(name)
        classes[value] = LabelClass(value, name, _colour(fields.get("Color", ""), value))
    return LabelTable(list(classes.values()))


def read_segment_table(path: str | Path) -> LabelTable | None:
    """The segment table in a NRRD file's header, read without its voxels; ``None`` for a plain NRRD.

    Raises:
        ScanError: the header cannot be read, or the segmentation has several layers.
    """
    path = Path(path)
    reader = read_header(path)
    metadata = {key: reader.GetMetaData(key) for key in reader.GetMetaDataKeys()}
    try:
        table = segment_table(metadata)
    except ValueError as error:
        raise ScanError(str(error), path) from error
    if table is not None and reader.GetNumberOfComponents() > 1:
        raise ScanError(_LAYERS.format(count=reader.GetNumberOfComponents()), path)
    return table


def _whole(text: str, index: int, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"segment {index}'s {what} {text!r} is not a whole number") from None


def _colour(text: str, value: int) -> Colour:
    """Slicer's ``r g b`` in 0-1 as 0-255; the default colour of ``value`` when it is not that."""
    try:
        parts = [float(part) for part in text.split()]
    except ValueError:
        parts = []
    if len(parts) != 3 or not all(0.0 <= part <= 1.0 for part in parts):
        return default_colour(value)
    red, green, blue = (round(part * 255) for part in parts)
    return (red, green, blue)
