"""Open an annotation file over the scan on screen: label maps, segmentations, boxes and outlines.

One entry point for every annotation format medview reads, each placed on the scan shown:
- NIfTI/NRRD/MHA label maps (and PNG/TIFF masks) with their ``.labels.json`` sidecar, and 3D
  Slicer ``.seg.nrrd`` files (segment names, colours and values from the header), on their own
  grid: one that differs from the scan's is refused with an
  :class:`~medview.annotations.nifti.AnnotationMismatchError` saying how (its ``misfit``), or,
  when asked and the two overlap, resampled nearest-neighbour. A one-slice volume over a 2D scan
  is taken as its plane, as Slicer and 2D training pipelines store 2D annotations;
- DICOM SEG of the series on screen, placed by the images it references;
- medview box JSON, and COCO JSON on a 2D scan (the image named like the scan, or the only one);
- QuPath/medview GeoJSON outlines, filled on the scan's full-resolution pixel grid with the
  convention of :mod:`medview.annotations.geojson`; classes in order of first appearance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pydicom
import SimpleITK as sitk
from skimage.draw import polygon as fill_polygon

from medview.annotations.coco import read_coco
from medview.annotations.fit import describe_misfit
from medview.annotations.nifti import AnnotationMismatchError, resample_onto
from medview.core.boxes import Box
from medview.core.errors import InputError
from medview.core.geometry import Geometry
from medview.core.labels import Colour, LabelClass, LabelTable, default_colour, default_table
from medview.core.provenance import Provenance
from medview.core.scan import LabelMap, Scan
from medview.io import sitk_reader
from medview.io.dicom_seg import is_dicom_seg, read_seg_over, seg_layer_name
from medview.io.dicom_series import is_dicom_file
from medview.io.errors import ScanError
from medview.io.open import open_label_map, read_boxes, scan_format
from medview.io.pixel_checks import available_memory
from medview.io.writers import label_table_path

_JSON_SUFFIXES = (".json", ".geojson")
_SIDECAR_SUFFIX = ".labels.json"
_NAME_SUFFIXES = (
    ".seg.nrrd",
    ".nii.gz",
    *sitk_reader.SUFFIXES,
    *_JSON_SUFFIXES,
    ".dcm",
    ".png",
    ".tif",
    ".tiff",
)
_LABEL_PIXELS = frozenset({sitk.sitkUInt8, sitk.sitkInt8})
"""Pixel types taken for a label map from the header alone; wider integers are CT or MR as often,
so they count only with a ``.labels.json`` sidecar beside them."""
_INTEGER_PIXELS = frozenset(
    {
        sitk.sitkUInt8,
        sitk.sitkInt8,
        sitk.sitkUInt16,
        sitk.sitkInt16,
        sitk.sitkUInt32,
        sitk.sitkInt32,
        sitk.sitkUInt64,
        sitk.sitkInt64,
    }
)
_AREAS = ("Polygon", "MultiPolygon")
UNCLASSIFIED = "unclassified"
"""The class of GeoJSON outlines that carry no classification."""
_LISTED = 10  # file names named in a refusal, at most


@dataclass(frozen=True)
class OpenedAnnotation:
    """An annotation ready to lay over a scan: a label map on its grid, or boxes in its index space.

    Attributes:
        name: the layer name (the file name without its extension, or the SEG's description).
        label_map: on exactly the scan's voxel grid; ``None`` for boxes.
        boxes: in the scan's array index coordinates; ``None`` for label maps.
        box_labels: names and colours of the boxes' labels.
        warnings: what the user should know but that did not stop the opening.
    """

    name: str
    label_map: LabelMap | None = None
    boxes: list[Box] | None = None
    box_labels: LabelTable | None = None
    warnings: list[str] = field(default_factory=list)


def open_annotation(path: str | Path, scan: Scan, resample: bool = False) -> OpenedAnnotation:
    """Read the annotation file ``path`` to lay over ``scan`` (see the module docstring for formats).

    With ``resample``, a label map on another grid that overlaps the scan is resampled
    nearest-neighbour onto it, and a warning says so.

    Raises:
        AnnotationMismatchError: the annotation does not lie on the scan; ``error.misfit`` says how
            for a label map on a grid of its own (offer resampling only when ``misfit.overlaps``)
            and is ``None`` when resampling cannot help (boxes or outlines of another image).
        InputError: the file cannot be read or is not an annotation (a ``ScanError`` for the
            file readers' refusals).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file" if not path.exists() else "a folder, not an annotation file", path)
    name = layer_name(path)
    if path.name.lower().endswith(_JSON_SUFFIXES):
        return _open_json(path, scan, name)
    if is_dicom_seg(path):
        warnings: list[str] = []
        label_map = read_seg_over(path, scan, warnings)
        header = pydicom.dcmread(path, stop_before_pixels=True)
        return OpenedAnnotation(seg_layer_name(header, path), label_map, warnings=warnings)
    if is_dicom_file(path):
        raise InputError("a DICOM file that is not a segmentation (SEG); open it as a scan instead", path)
    if scan_format(path) == "image":  # a PNG/TIFF mask has no geometry: it takes the scan's
        return OpenedAnnotation(name, open_label_map(path, like=scan))
    return _open_label_map(path, scan, name, resample)


def is_annotation_file(path: str | Path) -> bool:
    """A cheap guess, for the GUI, that ``path`` is an annotation rather than a scan.

    True for ``.seg.nrrd``, JSON and GeoJSON files (not ``.labels.json`` sidecars), DICOM SEG,
    and NIfTI/NRRD/MHA files whose header gives one 8-bit integer per voxel, or wider integers with a
    ``.labels.json`` sidecar (only the header is read): an int16 CT is not taken for a label map.
    """
    path = Path(path)
    name = path.name.lower()
    if not path.is_file() or name.endswith(_SIDECAR_SUFFIX):
        return False
    if name.endswith((".seg.nrrd", *_JSON_SUFFIXES)):
        return True
    if name.endswith(sitk_reader.SUFFIXES):
        return _holds_integers(path)
    return is_dicom_seg(path)


def layer_name(path: str | Path) -> str:
    """The file name without its (possibly double) extension: ``case.seg.nrrd`` -> ``case``."""
    name = Path(path).name
    for suffix in _NAME_SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return Path(path).stem


def _open_label_map(path: Path, scan: Scan, name: str, resample: bool) -> OpenedAnnotation:
    label_map = _plane_of(open_label_map(path), scan)
    misfit = describe_misfit(label_map.array.shape, label_map.geometry, scan)
    if misfit is None:
        return OpenedAnnotation(name, label_map)
    if not (resample and misfit.overlaps):
        raise AnnotationMismatchError.from_misfit(misfit, path)
    resampled = resample_onto(label_map, scan)
    warnings = [f"resampled nearest-neighbour onto the scan's grid: {misfit.message}"]
    if label_map.array.any() and not resampled.array.any():
        warnings.append("none of its labelled voxels lies on the scan: the layer is empty")
    return OpenedAnnotation(name, resampled, warnings=warnings)


def _plane_of(label_map: LabelMap, scan: Scan) -> LabelMap:
    """A one-slice volume over a 2D scan as the label map of its plane; anything else unchanged.

    Only when the plane's axes have no head-foot (S) component, so dropping S moves nothing.
    """
    affine = label_map.geometry.affine
    if label_map.array.shape[:1] != (1,) or label_map.array.ndim != 3 or scan.geometry.ndim != 2:
        return label_map
    if not np.allclose(affine[0, 1:3], 0.0, atol=1e-6):
        return label_map
    plane = Geometry(affine[1:, 1:])
    return LabelMap(label_map.array[0], plane, label_map.labels, label_map.provenance)


def _holds_integers(path: Path) -> bool:
    try:
        reader = sitk_reader.read_header(path)
    except ScanError:
        return False
    if reader.GetDimension() not in (2, 3) or reader.GetPixelID() not in _INTEGER_PIXELS:
        return False
    return reader.GetPixelID() in _LABEL_PIXELS or label_table_path(path).exists()


def _open_json(path: Path, scan: Scan, name: str) -> OpenedAnnotation:
    """Tell GeoJSON, COCO and medview box files apart by their content, and open the one it is."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"not a JSON file ({error})", path) from error
    if isinstance(document, list) and document and all(_is_feature(item) for item in document):
        return _open_geojson(path, document, scan, name)  # older QuPath versions export a bare list
    if isinstance(document, dict):
        if document.get("type") in ("FeatureCollection", "Feature"):
            features = document.get("features", []) if document["type"] == "FeatureCollection" else [document]
            return _open_geojson(path, features, scan, name)
        if "images" in document:
            return _open_coco(path, document, scan, name)
        if "boxes" in document:
            return _open_boxes(path, scan, name)
    raise InputError(
        "not an annotation medview reads: expected GeoJSON outlines, COCO boxes or medview box JSON", path
    )


def _is_feature(item: object) -> bool:
    return isinstance(item, dict) and item.get("type") == "Feature"


def _open_boxes(path: Path, scan: Scan, name: str) -> OpenedAnnotation:
    box_set = read_boxes(path)
    warnings = _check_boxes(box_set.boxes, scan, path)
    if box_set.scan_name and not _names_scan(box_set.scan_name, scan):
        warnings.append(f"these boxes were drawn on {box_set.scan_name}, not on {_shown(scan)}")
    return OpenedAnnotation(
        name, None, box_set.boxes, _with_defaults(box_set.labels, box_set.boxes), warnings
    )


def _open_coco(path: Path, document: dict, scan: Scan, name: str) -> OpenedAnnotation:
    """The boxes of the COCO image named like the scan (or of the only image), on a 2D scan."""
    if scan.geometry.ndim != 2:
        raise InputError(f"COCO boxes are 2D and this scan is {scan.geometry.ndim}D", path)
    boxes_by_name, categories = read_coco(path)  # validates the document
    image = _pick_coco_image(document["images"], scan, path)
    file_name = str(image["file_name"])
    warnings: list[str] = []
    if not _names_scan(file_name, scan):  # the only image, named otherwise
        warnings.append(f"these boxes are of {file_name}, shown over {_shown(scan)}")
    size = _coco_size(image, path)
    if size is None:
        warnings.append(
            f"the COCO file gives no size for {file_name}, so it cannot be checked against the scan"
        )
    elif size != scan.spatial_shape:
        raise AnnotationMismatchError(
            f"the COCO image {file_name} is {_size(size)} but the scan is {_size(scan.spatial_shape)}; "
            "these boxes belong to another image",
            path,
        )
    boxes = boxes_by_name[file_name]
    warnings += _check_boxes(boxes, scan, path)
    # COCO carries no colours: each category gets its own rather than read_coco's greys
    labels = LabelTable([LabelClass(c.value, c.name, default_colour(c.value)) for c in categories])
    return OpenedAnnotation(name, None, boxes, _with_defaults(labels, boxes), warnings)


def _coco_size(image: dict, path: Path) -> tuple[int, int] | None:
    """``(height, width)`` of a COCO image record, or ``None`` when it gives none."""
    if image.get("height") is None or image.get("width") is None:
        return None
    try:
        return (int(image["height"]), int(image["width"]))
    except (TypeError, ValueError) as error:
        raise InputError(
            f"the COCO image {image['file_name']} has a size that is not a number", path
        ) from error


def _pick_coco_image(images: list[dict], scan: Scan, path: Path) -> dict:
    if len(images) == 1:
        return images[0]
    matches = [image for image in images if _names_scan(str(image["file_name"]), scan)]
    if len(matches) == 1:
        return matches[0]
    names = [str(image["file_name"]) for image in (matches or images)]
    listed = ", ".join(names[:_LISTED]) + (
        f" and {len(names) - _LISTED} more" if len(names) > _LISTED else ""
    )
    how_many = f"{len(matches)} images named like" if matches else "no image named like"
    raise InputError(
        f"the COCO file has {how_many} {_shown(scan)}: {listed}; open the boxes of one image", path
    )


def _shown(scan: Scan) -> str:
    """The scan as the user knows it: its name, else its file's."""
    return scan.name or Path(scan.source or "").name or "the scan shown"


def _names_scan(file_name: str, scan: Scan) -> bool:
    """True when ``file_name`` (any folders dropped) is the scan's file or name, with or without extension."""
    base = PurePosixPath(file_name.replace("\\", "/")).name.lower()
    wanted = {scan.name.lower()} if scan.name else set()
    if scan.source:
        source = Path(scan.source)
        wanted |= {source.name.lower(), layer_name(source).lower()}
    wanted.discard("")
    return base in wanted or layer_name(base) in wanted


def _check_boxes(boxes: list[Box], scan: Scan, path: Path) -> list[str]:
    """Refuse boxes of another dimension or that all lie off the scan; warn of those that do."""
    shape = np.array(scan.spatial_shape)
    for box in boxes:
        if box.ndim != len(shape):
            raise InputError(f"the boxes are {box.ndim}D and the scan is {len(shape)}D", path)
    outside = sum(
        bool(np.any(np.array(box.stop) <= 0) or np.any(np.array(box.start) >= shape)) for box in boxes
    )
    if boxes and outside == len(boxes):
        raise AnnotationMismatchError(
            f"none of the {len(boxes)} boxes lies on the scan ({_size(shape)}); they belong to another image",
            path,
        )
    verb = "lies" if outside == 1 else "lie"
    return [f"{outside} of the {len(boxes)} boxes {verb} outside the scan"] if outside else []


def _with_defaults(labels: LabelTable, boxes: list[Box]) -> LabelTable:
    """``labels`` plus a ``label N`` class for each box label it does not name."""
    missing = default_table(box.label for box in boxes if box.label > 0 and box.label not in labels)
    named = {label.name for label in labels}
    return LabelTable([*labels, *(label for label in missing if label.name not in named)])


def _open_geojson(path: Path, features: list[Any], scan: Scan, name: str) -> OpenedAnnotation:
    """Fill the outlined areas on the scan's level-0 pixels; one class per classification name."""
    if scan.geometry.ndim != 2:
        raise InputError(
            f"GeoJSON outlines are 2D, for slides and images; this scan is {scan.geometry.ndim}D", path
        )
    shape = scan.spatial_shape
    if int(np.prod(shape, dtype=np.float64)) * 2 > available_memory():
        raise InputError(f"the scan is too large ({_size(shape)}) to fill its outlines in memory", path)
    try:
        areas = [feature for feature in features if (feature.get("geometry") or {}).get("type") in _AREAS]
        labels = _feature_classes(areas)
        array = np.zeros(shape, dtype=np.uint8 if len(labels) < 256 else np.uint16)
        values = {label.name: label.value for label in labels}
        beyond = False
        for feature in areas:
            value = values[_class_name(feature)]
            geometry = feature["geometry"]
            polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
            for rings in polygons:
                for ring_index, ring in enumerate(rings):
                    points = np.asarray(ring, dtype=float)[:, :2] - 0.5  # pixel edges -> pixel centres
                    beyond |= bool(np.any(points < -0.5) or np.any(points + 0.5 > np.array(shape[::-1])))
                    rows, columns = fill_polygon(points[:, 1], points[:, 0], shape)
                    array[rows, columns] = value if ring_index == 0 else 0
    except (AttributeError, KeyError, TypeError, ValueError, IndexError) as error:
        raise InputError(
            f"not a GeoJSON file medview can read ({type(error).__name__}: {error})", path
        ) from error
    if not areas:
        raise InputError("the GeoJSON holds no outlined areas (polygons)", path)
    if not array.any():
        raise AnnotationMismatchError(
            f"none of the {len(areas)} outlines lies on the scan ({_size(shape)}); "
            "they belong to another image",
            path,
        )
    warnings = []
    others = len(features) - len(areas)
    if others == 1:
        warnings.append("1 point or line is not an area and is not shown")
    elif others:
        warnings.append(f"{others} points or lines are not areas and are not shown")
    if beyond:
        warnings.append(f"some outlines reach beyond the image ({_size(shape)}) and are cut at its edge")
    label_map = LabelMap(array, scan.geometry, labels, Provenance("import", derived_from=str(path)))
    return OpenedAnnotation(name, label_map, warnings=warnings)


def _feature_classes(features: list[dict]) -> LabelTable:
    """Values 1..N for the classification names in order of first appearance, with their colours."""
    classes: dict[str, LabelClass] = {}
    for feature in features:
        class_name = _class_name(feature)
        if class_name not in classes:
            value = len(classes) + 1
            classes[class_name] = LabelClass(value, class_name, _feature_colour(feature, value))
    return LabelTable(list(classes.values()))


def _class_name(feature: dict) -> str:
    classification = (feature.get("properties") or {}).get("classification") or {}
    return str(classification.get("name") or UNCLASSIFIED)


def _feature_colour(feature: dict, value: int) -> Colour:
    """QuPath's ``color`` ``[r, g, b]`` or older packed ``colorRGB``; the default colour otherwise."""
    classification = (feature.get("properties") or {}).get("classification") or {}
    colour = classification.get("color")
    if (
        isinstance(colour, list)
        and len(colour) == 3
        and all(isinstance(c, int) and 0 <= c <= 255 for c in colour)
    ):
        return (colour[0], colour[1], colour[2])
    packed = classification.get("colorRGB")
    if isinstance(packed, int):
        return ((packed >> 16) & 255, (packed >> 8) & 255, packed & 255)
    return default_colour(value)


def _size(shape: np.ndarray | tuple[int, ...]) -> str:
    """``512 x 400 (x, y) pixels``: a grid's size as the viewer lists it, x first."""
    sizes = " x ".join(str(int(size)) for size in reversed(shape))
    return f"{sizes} ({', '.join('xyz'[: len(shape)])}) {'voxels' if len(shape) == 3 else 'pixels'}"
