"""NIfTI, NRRD and MetaImage through SimpleITK, checked before it is trusted.

SimpleITK reads a truncated uncompressed NIfTI by filling the missing voxels with zeros and crashes on
some damaged MetaImage headers, so each header is first checked by ``volume_headers``, then read by
ITK (``ReadImageInformation``), and the size, spacing and data it promises are compared with the file
and with the memory available before any voxel is read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from medview.core.geometry import Geometry
from medview.core.scan import Scan
from medview.io.errors import ScanError
from medview.io.pixel_checks import available_memory
from medview.io.sitk_convert import geometry_from_sitk
from medview.io.volume_headers import check_nifti_length, check_volume_header, nifti_voxel_size_note

SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")
_MAX_DIMENSIONS = 4  # 3D + time


def read_header(path: str | Path) -> sitk.ImageFileReader:
    """A reader that has read ``path``'s header only (size, pixel type, geometry, key/value fields),
    after medview's own checks of the header text.

    Raises:
        ScanError: the header is damaged or cannot be read.
    """
    path = Path(path)
    check_volume_header(path)
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as error:
        raise ScanError(f"the image header cannot be read ({_itk_reason(error)})", path) from error
    return reader


def read_volume(path: str | Path) -> Scan:
    """A NIfTI/NRRD/MHA/MHD file as a scan; 4D files get a leading time axis.

    Raises:
        ScanError: empty, corrupt or truncated file, or more voxels than memory holds.
    """
    path = Path(path)
    if path.stat().st_size == 0:
        raise ScanError("the file is empty (0 bytes)", path)
    reader = read_header(path)
    size = reader.GetSize()
    components = reader.GetNumberOfComponents()
    _check_grid(reader, path)
    itemsize = sitk.GetArrayViewFromImage(sitk.Image([1] * len(size), reader.GetPixelID())).itemsize
    # A vector pixel type's item is one component: RGB voxels take three.
    needed = int(np.prod(size, dtype=np.float64)) * itemsize * max(components, 1)
    _check_memory(needed, size, path)
    if path.name.lower().endswith((".nii", ".nii.gz")):
        check_nifti_length(path, needed)
    try:
        image = reader.Execute()
    except RuntimeError as error:
        raise ScanError(
            f"the voxel data cannot be read: the file is truncated or corrupt (ITK: {_itk_reason(error)})",
            path,
        ) from error
    scan = _scan(image, components, path)
    note = nifti_voxel_size_note(path) if path.name.lower().endswith((".nii", ".nii.gz")) else ""
    if note:
        geometry = scan.geometry
        scan.geometry = Geometry.from_spacing((1.0,) * geometry.ndim, geometry.origin, geometry.direction)
        scan.units = "pixel"
        scan.warnings.append(note)
    return scan


def _scan(image: sitk.Image, components: int, path: Path) -> Scan:
    array = sitk.GetArrayFromImage(image)
    rgb = components in (3, 4) and array.dtype == np.uint8
    if components > 1 and not rgb:
        raise ScanError(f"images with {components} components per voxel are not supported", path)
    if rgb and components == 4:
        array = array[..., :3]
    has_time = image.GetDimension() == 4
    geometry = _spatial_geometry(image) if has_time else geometry_from_sitk(image)
    name = path.name
    for suffix in SUFFIXES:
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return Scan(array=array, geometry=geometry, name=name, rgb=rgb, has_time_axis=has_time, source=str(path))


def _spatial_geometry(image: sitk.Image) -> Geometry:
    """Geometry of the first three (spatial) axes of a 4D image; the fourth is time."""
    direction = np.array(image.GetDirection(), dtype=np.float64).reshape(4, 4)[:3, :3]
    return Geometry.from_spacing(image.GetSpacing()[2::-1], image.GetOrigin()[2::-1], direction[::-1, ::-1])


def _check_memory(needed: int, size: tuple[int, ...], path: Path) -> None:
    """ITK's buffer and the numpy copy made of it both need the memory."""
    available = available_memory()
    if 2 * needed > available:
        raise ScanError(
            f"the header claims {'x'.join(map(str, size))} voxels ({needed / 2**30:.1f} GiB), more than "
            f"the {available / 2**30:.1f} GiB of memory free; the header is wrong or the image too large",
            path,
        )


def _check_grid(reader: sitk.ImageFileReader, path: Path) -> None:
    """Refuse sizes, spacing, origin or direction that no image can have (a damaged header)."""
    size, spacing = reader.GetSize(), reader.GetSpacing()
    if not 2 <= len(size) <= _MAX_DIMENSIONS:
        raise ScanError(f"a {len(size)}D image: medview opens 2D, 3D and 3D + time", path)
    if min(size) < 1:
        raise ScanError(f"the header gives the image size {'x'.join(map(str, size))}: a size of 0", path)
    if not all(np.isfinite(spacing)) or min(spacing) <= 0:
        shown = ", ".join(f"{value:g}" for value in spacing)
        raise ScanError(f"the header gives the voxel spacing ({shown}); it must be positive", path)
    direction = np.array(reader.GetDirection(), dtype=np.float64).reshape(len(size), len(size))
    if not np.all(np.isfinite(reader.GetOrigin())) or not np.all(np.isfinite(direction)):
        raise ScanError("the header gives an origin or direction that is not a number", path)
    if abs(np.linalg.det(direction)) < 1e-6:
        raise ScanError("the header gives axis directions that are not independent (a flat image)", path)


def _itk_reason(error: RuntimeError) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(("Exception thrown", "itk::", "/"))]
    return (useful or lines or ["unknown error"])[-1][:200]
