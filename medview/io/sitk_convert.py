"""Conversion between medview's array-ordered geometry and SimpleITK images (x, y, z order).

SimpleITK lists spacing, origin and index axes as (x, y, z); medview lists them in array order
(z, y, x). With ``R`` the order-reversing permutation, medview's direction is ``R @ D_itk @ R``.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from medview.core.geometry import Geometry


def geometry_from_sitk(image: sitk.Image) -> Geometry:
    """The :class:`Geometry` of a SimpleITK image's spatial axes."""
    n = image.GetDimension()
    itk_direction = np.array(image.GetDirection(), dtype=np.float64).reshape(n, n)
    direction = itk_direction[::-1, ::-1]
    return Geometry.from_spacing(image.GetSpacing()[::-1], image.GetOrigin()[::-1], direction)


def apply_geometry_to_sitk(image: sitk.Image, geometry: Geometry) -> None:
    """Set spacing, origin and direction of ``image`` from ``geometry`` (in place)."""
    if image.GetDimension() != geometry.ndim:
        raise ValueError(f"a {image.GetDimension()}-D image cannot take a {geometry.ndim}-D geometry")
    image.SetSpacing(tuple(reversed(geometry.spacing)))
    image.SetOrigin(tuple(reversed(geometry.origin)))
    image.SetDirection(tuple(geometry.direction[::-1, ::-1].ravel()))


def array_to_sitk(
    array: np.ndarray, geometry: Geometry, rgb: bool = False, time_axis: bool = False
) -> sitk.Image:
    """A SimpleITK image of ``array`` (array order, trailing channel when ``rgb``) with ``geometry``.

    With ``time_axis`` the first array axis is time: it becomes ITK's last axis, with unit spacing
    and no rotation, which is how 4D NIfTI/NRRD/MHA files are read back as time series.
    """
    image = sitk.GetImageFromArray(np.ascontiguousarray(array), isVector=rgb)
    if time_axis:
        direction = np.eye(geometry.ndim + 1)
        direction[1:, 1:] = geometry.direction
        geometry = Geometry.from_spacing((1.0, *geometry.spacing), (0.0, *geometry.origin), direction)
    apply_geometry_to_sitk(image, geometry)
    return image
