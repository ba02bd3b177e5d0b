"""2D boxes and label-map regions as COCO JSON (``images``, ``annotations``, ``categories``).

COCO's ``bbox`` is ``[x, y, width, height]`` in pixels from the image's top-left edge, which is a
:class:`~medview.core.boxes.Box`'s ``start``/``stop`` edges reordered; category ids are label values.
A ``score`` is kept on each box annotation (as COCO results files do). Each connected region
(4-connected) of a label map becomes one annotation whose ``segmentation`` is its outline as a
polygon ``[x1, y1, x2, y2, ...]`` on pixel edges, as in QuPath GeoJSON; COCO polygons of one
annotation are united, so they cannot cut a hole, and a region with holes is written as an
uncompressed RLE (``{"size": [h, w], "counts": [...]}``, column-major, starting with background)
instead, which COCO readers accept for any annotation. ``area`` is the region's pixel count.
Reading gives the boxes only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from scipy import ndimage

from medview.annotations.geojson import region_rings
from medview.core.boxes import Box
from medview.core.errors import InputError
from medview.core.labels import LabelClass, LabelTable
from medview.io.atomic import write_text_atomic


def to_coco(
    images: Mapping[str, tuple[tuple[int, int], Sequence[Box]]],
    labels: LabelTable,
    masks: Mapping[str, np.ndarray] | None = None,
) -> dict:
    """A COCO document from ``{file name: ((height, width), boxes)}``; boxes must be 2D.

    ``masks`` gives 2D label arrays (of the image's shape) by file name; their regions follow the
    image's boxes.
    """
    document: dict = {"images": [], "annotations": [], "categories": []}
    document["categories"] = [{"id": label.value, "name": label.name} for label in labels]
    for image_id, (file_name, (shape, boxes)) in enumerate(images.items(), start=1):
        document["images"].append(
            {"id": image_id, "file_name": file_name, "height": shape[0], "width": shape[1]}
        )
        for box in boxes:
            if box.ndim != 2:
                raise InputError(
                    f"COCO holds 2D boxes; {file_name} has a {box.ndim}D box, save it as medview JSON"
                )
            (top, left), (bottom, right) = box.start, box.stop
            document["annotations"].append(
                {
                    "id": len(document["annotations"]) + 1,
                    "image_id": image_id,
                    "category_id": box.label,
                    "bbox": [left, top, right - left, bottom - top],
                    "area": (right - left) * (bottom - top),
                    "iscrowd": 0,
                    "score": box.score,
                }
            )
        if masks is not None and file_name in masks:
            for annotation in region_annotations(masks[file_name]):
                annotation.update(id=len(document["annotations"]) + 1, image_id=image_id)
                document["annotations"].append(annotation)
    return document


def region_annotations(array: np.ndarray) -> list[dict]:
    """One COCO annotation (without ids) per 4-connected region of each label in a 2D label array."""
    annotations = []
    for value in (int(v) for v in np.unique(array) if v > 0):
        components, _ = ndimage.label(array == value)
        for index, box in enumerate(ndimage.find_objects(components), start=1):
            region = components[box] == index
            rows, columns = box
            annotations.append(
                {
                    "category_id": value,
                    "segmentation": _segmentation(region, box, array.shape),
                    "bbox": [columns.start, rows.start, columns.stop - columns.start, rows.stop - rows.start],
                    "area": int(region.sum()),
                    "iscrowd": 0,
                }
            )
    return annotations


def _segmentation(region: np.ndarray, box: tuple[slice, slice], shape: tuple[int, ...]) -> list | dict:
    """The region's outline polygon, or an uncompressed RLE of the whole image when it has holes."""
    if ndimage.binary_fill_holes(region).sum() == region.sum():
        ring = region_rings(region, np.array([box[0].start, box[1].start]))[0]
        return [[coordinate for point in ring[:-1] for coordinate in point]]
    mask = np.zeros(shape, dtype=bool)
    mask[box] = region
    flat = mask.ravel(order="F")
    changes = np.flatnonzero(np.diff(flat.astype(np.int8))) + 1
    edges = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(edges).tolist()
    if flat[0]:
        counts.insert(0, 0)  # RLE counts start with a run of background
    return {"size": list(shape), "counts": counts}


def write_coco(
    path: str | Path,
    images: Mapping[str, tuple[tuple[int, int], Sequence[Box]]],
    labels: LabelTable,
    masks: Mapping[str, np.ndarray] | None = None,
) -> Path:
    """Write :func:`to_coco`'s document atomically."""
    write_text_atomic(path, json.dumps(to_coco(images, labels, masks), indent=2))
    return Path(path)


def read_coco(path: str | Path) -> tuple[dict[str, list[Box]], LabelTable]:
    """``({file name: boxes}, label table)`` from a COCO file; category colours are not in COCO."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        names = {image["id"]: image["file_name"] for image in document["images"]}
        boxes: dict[str, list[Box]] = {name: [] for name in names.values()}
        for item in document.get("annotations", []):
            left, top, width, height = (float(v) for v in item["bbox"])
            box = Box(
                int(item["category_id"]),
                float(item.get("score", 1.0)),
                (top, left),
                (top + height, left + width),
            )
            boxes[names[item["image_id"]]].append(box)
        labels = LabelTable(
            [
                LabelClass(int(c["id"]), str(c["name"]), _grey(int(c["id"])))
                for c in document.get("categories", [])
            ]
        )
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise InputError(f"not a COCO annotation file ({error})", path) from error
    return boxes, labels


def _grey(value: int) -> tuple[int, int, int]:
    level = 80 + (value * 47) % 160
    return (level, level, level)
