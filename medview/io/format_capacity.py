"""What each output format holds, checked before anything is written.

Every writer (scans, label maps, boxes, class probabilities; the CLI, the GUI, annotation exports)
asks here first, so one rule decides: a file holds the data exactly, or it is refused with one line
that names the file, says what does not fit and lists the suffixes that would hold it. Values are
never cast with a loss; a conversion that keeps every value (``bool`` to ``uint8``, labels 0..300 in
``int64`` to a 16-bit PNG) is made by :func:`writable_array`.

========================  ===========  =============================  ===============================
format                    suffixes     holds                          values
========================  ===========  =============================  ===============================
NIfTI, NRRD, MetaImage    .nii.gz      2D, 3D, 3D + time;             integers up to 64 bits,
                          .nii .nrrd   grey or RGB                    32- and 64-bit floats
                          .mha
PNG                       .png         one 2D image, grey or RGB      8- and 16-bit unsigned integers
TIFF                      .tif .tiff   one 2D image, grey or RGB      integers up to 32 bits,
                                                                      32-bit floats
DICOM image (scans only)  .dcm         one 2D greyscale image         16-bit integers
JSON                      .json        boxes, class probabilities
========================  ===========  =============================  ===============================

``.mhd`` and ``.nhdr`` are refused: their voxels go to a second file, which cannot be replaced in
the same atomic step (``.mha`` and ``.nrrd`` are the same formats in one file). JPEG is refused: its
compression changes pixel values.

Use :func:`check_suffix` on a name before slow work (a model run), :func:`check_writable` on a
description of the data (``check_writable(path, kind="label map", ndim=3, dtype=array.dtype,
value_range=(0, top))``), and :func:`writable_array` on the data itself just before writing it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from medview.core.errors import InputError

Kind = Literal["scan", "label map", "boxes", "probabilities"]
_WORDS = {  # kind -> (one of it, several of it), for messages
    "scan": ("a scan", "scans"),
    "label map": ("a label map", "label maps"),
    "boxes": ("boxes", "boxes"),
    "probabilities": ("class probabilities", "class probabilities"),
}
_ARRAYS: tuple[Kind, ...] = ("scan", "label map")
_VOLUME_LAYOUTS = frozenset({(2, False), (3, False), (3, True)})
_PICTURE_LAYOUTS = frozenset({(2, False)})
_INTEGERS = tuple(np.dtype(code) for code in ("u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8"))
_SECOND_FILE = (
    "a {} header keeps its voxels in a second file, which cannot be written atomically "
    "({} is the same format in one file)"
)
_REFUSED_SUFFIXES = {
    ".mhd": _SECOND_FILE.format(".mhd", ".mha"),
    ".nhdr": _SECOND_FILE.format(".nhdr", ".nrrd"),
    ".jpg": "JPEG compression changes pixel values",
    ".jpeg": "JPEG compression changes pixel values",
}


@dataclass(frozen=True)
class Format:
    """One output format: the names it goes by, what it holds and the value types it stores exactly.

    Attributes:
        layouts: the ``(spatial dimensions, time axis)`` pairs it holds.
        dtypes: the value types written as they are, smallest first.
        holds: how messages describe ``layouts``, e.g. ``one 2D image (greyscale or RGB)``.
        values: how messages describe ``dtypes``.
    """

    name: str
    suffixes: tuple[str, ...]
    kinds: tuple[Kind, ...]
    layouts: frozenset[tuple[int, bool]] = frozenset()
    rgb: bool = False
    dtypes: tuple[np.dtype, ...] = ()
    holds: str = ""
    values: str = ""


def _volume(name: str, suffixes: tuple[str, ...]) -> Format:
    return Format(
        name,
        suffixes,
        _ARRAYS,
        _VOLUME_LAYOUTS,
        rgb=True,
        dtypes=_INTEGERS + (np.dtype("f4"), np.dtype("f8")),
        holds="2D and 3D images and 3D time series",
        values="integers of up to 64 bits and 32- or 64-bit floats",
    )


TIFF = Format(
    "TIFF",
    (".tif", ".tiff"),
    _ARRAYS,
    _PICTURE_LAYOUTS,
    rgb=True,
    dtypes=_INTEGERS[:6] + (np.dtype("f4"),),
    holds="one 2D image (greyscale or RGB)",
    values="integers of up to 32 bits and 32-bit floats",
)
DICOM_IMAGE = Format(
    "DICOM image",
    (".dcm",),
    ("scan",),
    _PICTURE_LAYOUTS,
    dtypes=(np.dtype("u2"), np.dtype("i2")),
    holds="one 2D greyscale image",
    values="16-bit integers (-32768 to 32767, or 0 to 65535)",
)
FORMATS: tuple[Format, ...] = (
    _volume("NIfTI", (".nii.gz", ".nii")),
    _volume("NRRD", (".nrrd",)),
    _volume("MetaImage", (".mha",)),
    Format(
        "PNG",
        (".png",),
        _ARRAYS,
        _PICTURE_LAYOUTS,
        rgb=True,
        dtypes=(np.dtype("u1"), np.dtype("u2")),
        holds="one 2D image (greyscale or RGB)",
        values="8- or 16-bit unsigned integers (0 to 65535)",
    ),
    TIFF,
    DICOM_IMAGE,
    Format("JSON", (".json",), ("boxes", "probabilities")),
)
"""Every format medview writes, in the order messages suggest them."""


class _Layout(NamedTuple):
    ndim: int
    time_axis: bool
    rgb: bool
    shape: tuple[int, ...] | None

    def __str__(self) -> str:
        """``3D (197 x 233 x 189, x y z)``, ``a 3D time series of 5 (64 x 64 x 40, x y z)``: sizes as
        viewers list them, x first; the array's shape is (time,) z, y, x."""
        if self.shape is None:
            return f"a {self.ndim}D time series" if self.time_axis else f"{self.ndim}D"
        frames, spatial = (self.shape[0], self.shape[1:]) if self.time_axis else (None, self.shape)
        sizes = f"{' x '.join(map(str, reversed(spatial)))}, {' '.join('xyz'[: len(spatial)])}"
        if frames is not None:
            return f"a {self.ndim}D time series of {frames} ({sizes})"
        return f"{self.ndim}D ({sizes})"


def check_suffix(path: str | Path, *kinds: Kind) -> Format:
    """The format ``path``'s name asks for, when that format holds at least one of ``kinds``.

    It reads the name only: call it before slow work (a model run) so that a wrong name is refused
    at once.

    Raises:
        InputError: an unknown, missing or refused suffix (the message lists the suffixes that work
            for ``kinds``), or a format that holds none of ``kinds`` (boxes to ``.nii.gz``).
    """
    path = Path(path)
    name = path.name.lower()
    found = next((f for f in FORMATS if name.endswith(f.suffixes)), None)
    if found is None:
        reason = next(
            (why for suffix, why in _REFUSED_SUFFIXES.items() if name.endswith(suffix)),
            "cannot tell the format from the name",
        )
        raise InputError(f"{reason}; {_suffixes_for(kinds)}", path)
    if not set(kinds) & set(found.kinds):
        held = " and ".join(_WORDS[kind][1] for kind in found.kinds)
        wanted = " or ".join(_WORDS[kind][1] for kind in kinds)
        raise InputError(f"{found.name} holds {held}, not {wanted}; {_suffixes_for(kinds)}", path)
    return found


def check_writable(
    path: str | Path,
    *,
    kind: Kind,
    ndim: int,
    dtype: DTypeLike,
    rgb: bool = False,
    value_range: tuple[float, float] | None = None,
    time_axis: bool = False,
    shape: Sequence[int] | None = None,
) -> None:
    """Refuse, before anything is written, data of this description that ``path``'s format cannot hold.

    Args:
        path: the file to write; its suffix picks the format.
        kind: ``scan`` or ``label map`` (boxes and probabilities need only :func:`check_suffix`).
        ndim: spatial dimensions (2 or 3), as ``Geometry.ndim``.
        dtype: the array's value type.
        rgb: the array has a trailing colour axis.
        value_range: the smallest and largest value; without it an integer type's whole range is
            assumed, so give it when the values may fit a narrower type (labels in ``int64``).
        time_axis: the first axis is time.
        shape: the array's shape without the colour axis, for the message.

    Raises:
        InputError: one line naming the file, what does not fit and which suffixes would hold it.
    """
    path = Path(path)
    found = check_suffix(path, kind)
    layout = _Layout(ndim, time_axis, rgb, None if shape is None else tuple(shape))
    _check_layout(found, path, kind, layout)
    _check_values(found, path, kind, layout, np.dtype(dtype), value_range)


def writable_array(
    array: ArrayLike,
    path: str | Path,
    *,
    kind: Kind,
    ndim: int,
    rgb: bool = False,
    time_axis: bool = False,
) -> np.ndarray:
    """``array`` as ``path``'s format stores it: checked as by :func:`check_writable` against its own
    values, and converted to a type the format's writer takes only when every value stays the same.

    The layout is checked from the shape, before a lazy (dask) array is read.
    """
    path = Path(path)
    found = check_suffix(path, kind)
    shape = tuple(int(n) for n in np.shape(array))
    layout = _Layout(ndim, time_axis, rgb, shape[:-1] if rgb else shape)
    _check_layout(found, path, kind, layout)
    values = np.asarray(array)
    value_range = None
    if values.dtype not in found.dtypes and values.dtype.kind in "iu" and values.size:
        value_range = (values.min().item(), values.max().item())
    stored = _check_values(found, path, kind, layout, values.dtype, value_range)
    return values if stored == values.dtype else values.astype(stored)


def _check_layout(found: Format, path: Path, kind: Kind, layout: _Layout) -> None:
    if (layout.ndim, layout.time_axis) not in found.layouts:
        problem = f"this {kind} is {layout}"
    elif layout.rgb and not found.rgb:
        problem = f"this {kind} is RGB"
    else:
        return
    raise InputError(f"{found.name} holds {found.holds}; {problem}{_instead(kind, layout)}", path)


def _check_values(
    found: Format,
    path: Path,
    kind: Kind,
    layout: _Layout,
    dtype: np.dtype,
    value_range: tuple[float, float] | None,
) -> np.dtype:
    """The type the values are stored as; refused when no type of ``found`` holds them all."""
    stored = _stored_dtype(found, dtype, value_range)
    if stored is not None:
        return stored
    if dtype.kind == "f":
        held = f"{dtype} values, which would be rounded"
    elif dtype.kind in "iu" and value_range is not None:
        held = f"values from {value_range[0]} to {value_range[1]}, which would change"
    else:
        held = f"{dtype} values"
    instead = _instead(kind, layout, dtype, value_range)
    raise InputError(f"{found.name} holds {found.values}; this {kind} holds {held}{instead}", path)


def _stored_dtype(found: Format, dtype: np.dtype, value_range: tuple[float, float] | None) -> np.dtype | None:
    """``dtype`` itself when ``found`` stores it, else its smallest type that holds every value."""
    if dtype in found.dtypes:
        return dtype
    if dtype.kind in "biu":
        if dtype.kind == "b":
            low, high = 0, 1
        else:
            low, high = value_range or (np.iinfo(dtype).min, np.iinfo(dtype).max)
        fits = (
            t for t in found.dtypes if t.kind in "iu" and np.iinfo(t).min <= low and high <= np.iinfo(t).max
        )
        return next(fits, None)
    if dtype.kind == "f":
        return next((t for t in found.dtypes if t.kind == "f" and t.itemsize >= dtype.itemsize), None)
    return None


def _instead(
    kind: Kind,
    layout: _Layout,
    dtype: np.dtype | None = None,
    value_range: tuple[float, float] | None = None,
) -> str:
    """``; write .nii.gz, .nrrd or .mha instead``: the formats that hold what was refused."""
    fitting = [
        f.suffixes[0]
        for f in FORMATS
        if kind in f.kinds
        and (layout.ndim, layout.time_axis) in f.layouts
        and (f.rgb or not layout.rgb)
        and (dtype is None or _stored_dtype(f, dtype, value_range) is not None)
    ]
    return f"; write {_either(fitting)} instead" if fitting else "; no format medview writes holds it"


def _suffixes_for(kinds: Sequence[Kind]) -> str:
    """``write a label map as .nii.gz, ... or .tiff``, for each of ``kinds``."""
    parts = [
        f"{_WORDS[kind][0]} as {_either([s for f in FORMATS if kind in f.kinds for s in f.suffixes])}"
        for kind in kinds
    ]
    return "write " + ", ".join(parts)


def _either(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"
