"""PNG/JPEG/TIFF pictures and whole-slide images (pyramidal TIFF via tifffile, OpenSlide)."""

from __future__ import annotations

import dask.array as da
import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from medview.io import ScanError, open_scan
from medview.io.slide import open_slide


def _picture(shape, seed=0, dtype=np.uint8):
    return np.random.default_rng(seed).integers(0, np.iinfo(dtype).max, size=shape, dtype=dtype)


@pytest.mark.parametrize(
    ("name", "shape", "expected_shape", "rgb"),
    [
        ("grey.png", (20, 30), (20, 30), False),
        ("rgba.png", (20, 30, 4), (20, 30, 3), True),
        ("grey16.tif", (20, 30), (20, 30), False),
        ("colour.tiff", (20, 30, 3), (20, 30, 3), True),
    ],
)
def test_lossless_pictures_keep_their_pixels(tmp_path, name, shape, expected_shape, rgb):
    dtype = np.uint16 if "16" in name else np.uint8
    pixels = _picture(shape, dtype=dtype)
    path = tmp_path / name
    if name.endswith(".png"):
        iio.imwrite(path, pixels)
    else:
        tifffile.imwrite(path, pixels, photometric="rgb" if rgb else "minisblack")

    scan = open_scan(path)

    assert scan.array.shape == expected_shape and scan.rgb == rgb and scan.array.dtype == dtype
    np.testing.assert_array_equal(scan.array, pixels[..., :3] if rgb else pixels)
    assert scan.spacing == (1.0, 1.0) and scan.window is not None


def test_jpeg_opens_as_rgb(tmp_path):
    pixels = np.zeros((32, 48, 3), np.uint8)
    pixels[:, :24] = (200, 30, 30)
    iio.imwrite(tmp_path / "photo.jpg", pixels)
    scan = open_scan(tmp_path / "photo.jpg")
    assert scan.rgb and scan.array.shape == (32, 48, 3)
    np.testing.assert_allclose(scan.array[16, 5], (200, 30, 30), atol=8)


def test_a_truncated_png_is_refused(tmp_path):
    iio.imwrite(tmp_path / "cut.png", _picture((64, 64)))
    data = (tmp_path / "cut.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ScanError, match="cut.png: not a readable image"):
        open_scan(tmp_path / "cut.png")


def _pyramid(path, base, levels=3, tile=128, mpp=0.5, ome=False, compression="zlib"):
    """Write a pyramidal tiled TIFF: OME keeps subresolutions in SubIFDs, plain TIFF (the generic
    layout OpenSlide reads) in the pages that follow the full resolution."""
    options = {"tile": (tile, tile), "photometric": "rgb", "compression": compression}
    resolution = (1e4 / mpp, 1e4 / mpp)
    metadata = {"PhysicalSizeX": mpp, "PhysicalSizeY": mpp} if ome else None
    with tifffile.TiffWriter(path, bigtiff=True, ome=ome) as tiff:
        tiff.write(
            base,
            subifds=levels - 1 if ome else None,
            resolution=resolution,
            resolutionunit="CENTIMETER",
            metadata=metadata,
            **options,
        )
        for level in range(1, levels):
            tiff.write(base[:: 2**level, :: 2**level], subfiletype=1, **options)


@pytest.mark.parametrize("ome", [False, True], ids=["tiff", "ome-tiff"])
def test_pyramidal_tiff_opens_lazily_as_multiscale_in_microns(tmp_path, ome):
    base = _picture((1000, 1500, 3))
    path = tmp_path / ("slide.ome.tif" if ome else "slide.tif")
    _pyramid(path, base, mpp=0.25, ome=ome)

    scan = open_scan(path)

    assert scan.is_multiscale and all(isinstance(level, da.Array) for level in scan.levels)
    assert [level.shape for level in scan.levels] == [(1000, 1500, 3), (500, 750, 3), (250, 375, 3)]
    assert scan.array is scan.levels[0] and scan.rgb and scan.units == "um" and scan.modality == "SM"
    assert scan.spacing == pytest.approx((0.25, 0.25))
    np.testing.assert_array_equal(scan.levels[0][300:420, 700:900].compute(), base[300:420, 700:900])
    np.testing.assert_array_equal(scan.levels[2].compute(), base[::4, ::4])


def test_the_openslide_backend_reads_the_same_generic_tiled_tiff(tmp_path):
    base = _picture((700, 900, 3))
    path = tmp_path / "generic.tif"
    _pyramid(path, base, levels=2, mpp=0.5, compression="zlib")

    with_openslide = open_slide(path, backend="openslide")
    with_tifffile = open_slide(path, backend="tifffile")

    assert with_openslide.metadata["backend"] == "openslide" and with_openslide.units == "um"
    assert [level.shape for level in with_openslide.levels] == [level.shape for level in with_tifffile.levels]
    region = (slice(123, 456), slice(600, 900))
    np.testing.assert_array_equal(with_openslide.levels[0][region].compute(), base[region])
    np.testing.assert_array_equal(with_openslide.levels[1].compute(), with_tifffile.levels[1].compute())


def test_a_slide_without_microns_per_pixel_is_shown_in_pixels(tmp_path):
    path = tmp_path / "bare.tif"
    with tifffile.TiffWriter(path) as tiff:
        base = _picture((512, 512, 3))
        tiff.write(base, tile=(128, 128), photometric="rgb")
        tiff.write(base[::2, ::2], tile=(128, 128), photometric="rgb", subfiletype=1)
    scan = open_scan(path)
    assert scan.is_multiscale and scan.spacing == (1.0, 1.0)
    assert scan.units == "pixel" and not scan.spacing_known
    assert scan.warnings == ["the slide states no pixel size (microns per pixel): it is shown in pixels"]


def test_a_broken_slide_is_refused(tmp_path):
    (tmp_path / "broken.svs").write_bytes(b"II*\x00" + b"\x00" * 64)
    with pytest.raises(ScanError, match="broken.svs: OpenSlide cannot open this slide"):
        open_scan(tmp_path / "broken.svs")
