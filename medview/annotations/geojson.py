"""Masks on slides as GeoJSON that QuPath imports: one polygon Feature per connected region.

Coordinates are ``[x, y]`` in level-0 pixels with QuPath's convention (pixel ``(0, 0)`` covers
``[0, 1) x [0, 1)``); a label map drawn on a downsampled level gives ``downsample`` so its
polygons land on level 0. Each feature's ``classification`` carries the label's name and colour,
and holes become interior rings. Contours come from :func:`skimage.measure.find_contours`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy import ndimage
from skimage.draw import polygon as fill_polygon
from skimage.measure import find_contours

from medview.core.errors import InputError
from medview.core.labels import LabelClass, LabelTable
from medview.core.scan import LabelMap
from medview.io.atomic import write_text_atomic


def to_geojson(label_map: LabelMap, downsample: float = 1.0) -> dict:
    """A FeatureCollection of the 2D label map's regions (``downsample``: level-0 pixels per pixel)."""
    if label_map.array.ndim != 2:
        raise InputError("GeoJSON export is for 2D images and slides; save volumes as NIfTI or DICOM SEG")
    features = []
    for value in label_map.present_values():
        label = (
            label_map.labels[value]
            if value in label_map.labels
            else LabelClass(value, f"label {value}", (255, 0, 255))
        )
        components, count = ndimage.label(label_map.array == value)
        for box, index in zip(ndimage.find_objects(components), range(1, count + 1), strict=True):
            region = components[box] == index
            offset = np.array([box[0].start, box[1].start])
            outer = region_rings(ndimage.binary_fill_holes(region), offset, downsample)[:1]
            holes = region_rings(ndimage.binary_fill_holes(region) & ~region, offset, downsample)
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Polygon", "coordinates": outer + holes},
                    "properties": {
                        "objectType": "annotation",
                        "classification": {"name": label.name, "color": list(label.colour)},
                    },
                }
            )
    return {"type": "FeatureCollection", "features": features}


def write_geojson(label_map: LabelMap, path: str | Path, downsample: float = 1.0) -> Path:
    """Write :func:`to_geojson`'s FeatureCollection atomically."""
    write_text_atomic(path, json.dumps(to_geojson(label_map, downsample)))
    return Path(path)


def read_geojson(
    path: str | Path, shape: tuple[int, int], labels: LabelTable, downsample: float = 1.0
) -> np.ndarray:
    """Rasterise a QuPath/medview GeoJSON onto a ``shape`` label array; classes are matched by name.

    Classes the table does not know are refused with their names, so nothing is silently dropped.
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        features = document["features"] if document.get("type") == "FeatureCollection" else [document]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, AttributeError) as error:
        raise InputError(f"not a GeoJSON file ({error})", path) from error
    values = {label.name: label.value for label in labels}
    array = np.zeros(shape, dtype=np.uint16)
    unknown = set()
    for feature in features:
        name = feature.get("properties", {}).get("classification", {}).get("name")
        if name not in values:
            unknown.add(str(name))
            continue
        geometry = feature["geometry"]
        polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        for rings in polygons:
            for ring_index, ring in enumerate(rings):
                points = np.asarray(ring, dtype=float) / downsample - 0.5
                rows, columns = fill_polygon(points[:, 1], points[:, 0], shape)
                array[rows, columns] = values[name] if ring_index == 0 else 0
    if unknown:
        raise InputError(f"classes not in the label table: {', '.join(sorted(unknown))}", path)
    return array


def region_rings(mask: np.ndarray, offset: np.ndarray, downsample: float = 1.0) -> list[list[list[float]]]:
    """Closed ``[x, y]`` rings around each region of ``mask``, longest first.

    Coordinates are pixel edges (pixel ``(0, 0)`` covers ``[0, 1) x [0, 1)``) in level-0 pixels;
    ``offset`` is the ``(row, column)`` of ``mask[0, 0]`` in the label map. COCO polygons use the
    same convention.
    """
    padded = np.pad(mask, 1).astype(np.float32)
    rings = []
    for contour in find_contours(padded, 0.5):
        points = (contour - 1 + offset + 0.5) * downsample  # unpad, then pixel centre -> QuPath edges
        rings.append([[round(float(x), 3), round(float(y), 3)] for y, x in points])
    return sorted(rings, key=len, reverse=True)
