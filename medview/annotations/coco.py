"""2D detection boxes as COCO JSON (``images``, ``annotations`` with ``bbox``, ``categories``).

COCO's ``bbox`` is ``[x, y, width, height]`` in pixels from the image's top-left edge, which is a
:class:`~medview.core.boxes.Box`'s ``start``/``stop`` edges reordered; category ids are label values.
A ``score`` is kept on each annotation (as COCO results files do).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from medview.core.boxes import Box
from medview.core.errors import InputError
from medview.core.labels import LabelClass, LabelTable
from medview.io.atomic import write_text_atomic


def to_coco(images: Mapping[str, tuple[tuple[int, int], Sequence[Box]]], labels: LabelTable) -> dict:
    """A COCO document from ``{file name: ((height, width), boxes)}``; boxes must be 2D."""
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
    return document


def write_coco(
    path: str | Path, images: Mapping[str, tuple[tuple[int, int], Sequence[Box]]], labels: LabelTable
) -> Path:
    """Write :func:`to_coco`'s document atomically."""
    write_text_atomic(path, json.dumps(to_coco(images, labels), indent=2))
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
