"""What a DICOM file means beyond its pixels: SEGs open as labels over their series, overlay planes
become labels, whole-slide tiles make one cropped slide, and lossy compression is stated."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from dicom_meaning_files import SEG_COLOURS, add_overlay, write_ct, write_seg, write_slide_level
from io_scan_files import write_slice
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import generate_uid

from medview.io import ScanError, list_series, open_scan
from medview.io.dicom_compression import lossy_compression
from medview.io.dicom_seg import is_dicom_seg, read_seg_over

SHAPE = (5, 12, 14)


def _masks() -> np.ndarray:
    """Two segments on a (5, 12, 14) grid: a block on slices 1-2 and a bar on slice 3."""
    masks = np.zeros((*SHAPE, 2), dtype=np.uint8)
    masks[1:3, 2:6, 3:9, 0] = 1
    masks[3, 7:10, 1:12, 1] = 1
    return masks


def _labels(masks: np.ndarray) -> np.ndarray:
    return (masks * np.arange(1, masks.shape[-1] + 1)).max(axis=-1)


@pytest.fixture
def study(tmp_path):
    """A CT series in ``study/ct`` and its headers, sorted along the normal."""
    volume = np.random.default_rng(0).integers(-1000, 1000, size=SHAPE).astype(np.int16)
    return tmp_path / "study", write_ct(tmp_path / "study" / "ct", volume)


@pytest.mark.parametrize("kind", ["BINARY", "FRACTIONAL", "LABELMAP"])
def test_seg_opens_as_labels_over_its_referenced_series(study, kind):
    folder, headers = study
    masks = _masks()
    # The SEG lies in the study folder, its series in a subfolder: found by a recursive search.
    scan = open_scan(write_seg(folder / "organs.dcm", headers, masks, ["liver", "lesion"], kind))
    assert scan.modality == "CT" and scan.spatial_shape == SHAPE
    assert len(scan.attached) == 1
    name, label_map = scan.attached[0]
    assert name == "SEG organs"
    assert label_map.fits(scan)
    np.testing.assert_array_equal(label_map.array, _labels(masks))
    assert [label.name for label in label_map.labels] == ["liver", "lesion"]
    for label, colour in zip(label_map.labels, SEG_COLOURS, strict=False):
        np.testing.assert_allclose(label.colour, colour, atol=2)
    assert scan.warnings == []


def test_fractional_segment_covers_voxels_of_at_least_one_half(study):
    folder, headers = study
    fractions = np.zeros((*SHAPE, 1), dtype=np.float32)
    fractions[2, 4, 4:8, 0] = [0.2, 0.49, 0.5, 0.9]
    path = write_seg(folder / "ct" / "p.dcm", headers, fractions, ["tumour"], "FRACTIONAL")
    label_map = open_scan(path).attached[0].label_map
    assert np.argwhere(label_map.array).tolist() == [[2, 4, 6], [2, 4, 7]]


def test_overlapping_segments_show_the_later_one_with_a_warning(study):
    folder, headers = study
    masks = _masks()
    masks[2, 4:6, 5:7, 1] = 1  # four voxels of "lesion" inside "liver"
    scan = open_scan(write_seg(folder / "ct" / "o.dcm", headers, masks, ["liver", "lesion"]))
    array = scan.attached[0].label_map.array
    assert (array[2, 4:6, 5:7] == 2).all()
    assert np.count_nonzero(array == 1) == np.count_nonzero(masks[..., 0]) - 4
    assert scan.warnings == [
        "segments of o.dcm overlap in 4 voxels (e.g. 'liver' and 'lesion'): each such voxel shows the "
        "later segment"
    ]


def test_a_folder_with_a_series_and_its_seg_opens_the_series_with_the_seg(study):
    folder, headers = study
    write_seg(folder / "ct" / "seg.dcm", headers, _masks(), ["liver", "lesion"])
    listed = list_series(folder)
    assert [info.modality for info in listed] == ["CT", "SEG"]

    scan = open_scan(folder)
    assert scan.modality == "CT" and scan.array.dtype == np.int16
    assert [name for name, _ in scan.attached] == ["SEG organs"]
    # Choosing the SEG in the series list shows the CT under it, not a grey 0/1 image.
    chosen = open_scan(folder, series_uid=listed[1].uid)
    assert chosen.modality == "CT"
    np.testing.assert_array_equal(chosen.array, scan.array)
    np.testing.assert_array_equal(chosen.attached[0].label_map.array, _labels(_masks()))


def test_a_seg_without_its_images_opens_alone_on_its_own_geometry(study, tmp_path):
    folder, headers = study
    ct = open_scan(folder / "ct")
    path = write_seg(tmp_path / "alone" / "seg.dcm", headers, _masks(), ["liver", "lesion"])

    scan = open_scan(path)
    assert scan.modality == "SEG" and scan.array.dtype == np.uint8 and not scan.array.any()
    series_uid = headers[0].SeriesInstanceUID
    assert scan.warnings == [
        f"the referenced images (series {series_uid}) are not in this folder: the segmentation is shown alone"
    ]
    # Empty frames are not stored: the SEG's own grid spans slices 1 to 3 of the CT.
    assert scan.spatial_shape == (3, *SHAPE[1:])
    np.testing.assert_allclose(scan.geometry.affine[:3, :3], ct.geometry.affine[:3, :3], atol=1e-6)
    np.testing.assert_allclose(scan.geometry.origin, ct.geometry.index_to_world((1, 0, 0)), atol=1e-6)
    label_map = scan.attached[0].label_map
    np.testing.assert_array_equal(label_map.array, _labels(_masks())[1:4])
    assert label_map.labels.name_of(2) == "lesion"


def test_read_seg_over_an_open_series_and_refuse_another(study, tmp_path):
    folder, headers = study
    path = write_seg(tmp_path / "elsewhere" / "seg.dcm", headers, _masks(), ["liver", "lesion"])
    scan = open_scan(folder / "ct")
    label_map = read_seg_over(path, scan)
    assert label_map.fits(scan)
    np.testing.assert_array_equal(label_map.array, _labels(_masks()))

    other = open_scan(write_slice(tmp_path / "other.dcm", np.zeros((4, 4), np.int16), (0, 0, 0)))
    with pytest.raises(ScanError, match=r"seg\.dcm: this segmentation is of series .*, not of the open scan"):
        read_seg_over(path, other)
    assert is_dicom_seg(path)
    assert not is_dicom_seg(folder / "ct" / "001.dcm")
    assert not is_dicom_seg(folder)


def test_overlay_plane_becomes_a_label_map_placed_at_its_origin(tmp_path):
    path = write_slice(
        tmp_path / "cr.dcm", np.full((20, 24), 500, np.uint16), None, orientation=None, Modality="CR"
    )
    bitmap = np.zeros((6, 8), dtype=np.uint8)
    bitmap[1:4, 2:7] = 1
    add_overlay(path, bitmap, origin=(5, 10), description="arrow")  # first overlay pixel on (4, 9)
    edge = np.ones((4, 4), dtype=np.uint8)
    add_overlay(path, edge, origin=(-1, 22), group=0x6002)  # partly outside the image: cropped

    scan = open_scan(path)
    assert [name for name, _ in scan.attached] == ["overlay 1 (arrow)", "overlay 2"]
    arrow, corner = (label_map.array for _, label_map in scan.attached)
    expected = np.zeros((20, 24), dtype=np.uint8)
    expected[5:8, 11:16] = 1
    np.testing.assert_array_equal(arrow, expected)
    assert np.argwhere(corner).tolist() == [[0, 21], [0, 22], [0, 23], [1, 21], [1, 22], [1, 23]]
    assert scan.attached[0].label_map.labels.values == [1]
    assert scan.array.max() == 500  # overlay data kept apart from the pixels


def test_overlay_on_one_slice_of_a_series_and_embedded_in_pixel_bits(tmp_path):
    bitmap = np.zeros((6, 5), dtype=np.uint8)
    bitmap[2:4, 1:3] = 1
    for index in range(3):
        path = write_slice(
            tmp_path / "mr" / f"{index}.dcm", np.full((6, 5), 100, np.uint16), (0, 0, 4.0 * index)
        )
        if index == 1:
            add_overlay(path, bitmap, origin=(1, 1))
    scan = open_scan(tmp_path / "mr")
    array = scan.attached[0].label_map.array
    assert array.shape == (3, 6, 5) and np.array_equal(array[1], bitmap) and not array[[0, 2]].any()

    path = write_slice(tmp_path / "old.dcm", np.full((6, 5), 100, np.uint16), None, BitsStored=12, HighBit=11)
    add_overlay(path, bitmap, origin=(1, 1), embedded_bit=12)
    old = open_scan(path)
    np.testing.assert_array_equal(old.attached[0].label_map.array, bitmap)
    np.testing.assert_array_equal(old.array, np.full((6, 5), 100))  # the overlay bit is not image


def test_overlay_of_pydicoms_siemens_example():
    path = get_testdata_file("examples_overlay.dcm")
    scan = open_scan(path)
    name, label_map = scan.attached[0]
    assert name == "overlay 1 (Siemens MedCom Object Graphics)"
    expected = pydicom.dcmread(path).overlay_array(0x6000)
    np.testing.assert_array_equal(label_map.array[0], expected)


def _slide_image(rows: int, columns: int) -> np.ndarray:
    """RGB content whose every pixel is distinct: its row in red, its column in green."""
    y, x = np.indices((rows, columns))
    return np.stack([y * 5 + 3, x * 5 + 3, (y + x) % 7 * 30], axis=-1).astype(np.uint8)


def test_whole_slide_tiles_are_cropped_to_the_total_pixel_matrix(tmp_path):
    image = _slide_image(30, 40)  # 3 x 2 tiles of 16: the last column and row are padded
    path = write_slide_level(tmp_path / "slide" / "level0.dcm", image)
    scan = open_scan(path)
    assert scan.modality == "SM" and scan.units == "um" and scan.rgb
    assert scan.array.shape == (30, 40, 3)
    assert scan.spacing == pytest.approx((0.25, 0.25))
    pixels = np.asarray(scan.array)
    np.testing.assert_array_equal(pixels, image)
    np.testing.assert_array_equal(pixels[14:18, 14:18], image[14:18, 14:18])  # a four-tile seam
    assert scan.name == "test slide"


def test_whole_slide_levels_in_a_folder_make_one_lazy_pyramid(tmp_path):
    image = _slide_image(30, 40)
    uids = (generate_uid(), generate_uid(), generate_uid())
    write_slide_level(tmp_path / "slide" / "a.dcm", image, uids=uids)
    write_slide_level(
        tmp_path / "slide" / "b.dcm", image[::2, ::2], pixel_mm=0.0005, uids=uids, resampled=True
    )
    listed = list_series(tmp_path / "slide")
    assert len(listed) == 1 and listed[0].modality == "SM"
    scan = open_scan(tmp_path / "slide")
    assert [level.shape for level in scan.levels] == [(30, 40, 3), (15, 20, 3)]
    assert hasattr(scan.levels[0], "dask")
    np.testing.assert_array_equal(np.asarray(scan.levels[1]), image[::2, ::2])
    assert scan.spacing == pytest.approx((0.25, 0.25))


def test_sparse_whole_slide_places_tiles_by_position(tmp_path):
    image = _slide_image(30, 40)
    order = [5, 3, 2, 1, 0]  # tile 4 (bottom middle) is missing: glass, shown white
    scan = open_scan(write_slide_level(tmp_path / "s" / "sparse.dcm", image, sparse_order=order))
    pixels = np.asarray(scan.array)
    assert pixels.shape == (30, 40, 3)
    np.testing.assert_array_equal(pixels[:16], image[:16])
    np.testing.assert_array_equal(pixels[16:, :16], image[16:, :16])
    np.testing.assert_array_equal(pixels[16:, 32:], image[16:, 32:])
    assert (pixels[16:, 16:32] == 255).all()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("SC_rgb_jpeg_dcmtk.dcm", "lossy compressed (ISO_10918_1, ratio 17.4:1)"),
        ("JPEG2000.dcm", "lossy compressed (ISO_15444_1, ratio 2097:1)"),
        ("CT_small.dcm", None),
    ],
)
def test_lossy_compression_is_stated(name, expected):
    assert open_scan(get_testdata_file(name)).metadata.get("lossy_compression") == expected


def _header(syntax: str, **attributes) -> Dataset:
    header = Dataset()
    header.file_meta = FileMetaDataset()
    header.file_meta.TransferSyntaxUID = syntax
    for keyword, value in attributes.items():
        setattr(header, keyword, value)
    return header


def test_lossy_compression_from_the_header_or_the_transfer_syntax():
    explicit = "1.2.840.10008.1.2.1"
    decompressed = _header(
        explicit,
        LossyImageCompression="01",
        LossyImageCompressionMethod=["ISO_10918_1", "ISO_15444_1"],
        LossyImageCompressionRatio=[10, 2.5],
    )
    assert (
        lossy_compression([decompressed]) == "lossy compressed (ISO_10918_1, ISO_15444_1, ratio 10:1, 2.5:1)"
    )
    assert lossy_compression([_header("1.2.840.10008.1.2.4.50")]) == "lossy compressed (ISO_10918_1)"
    reversible = _header("1.2.840.10008.1.2.4.91", LossyImageCompression="00")
    assert lossy_compression([reversible, _header(explicit)]) == ""


def test_seg_of_a_multi_frame_image_follows_its_frames(study, tmp_path):
    import highdicom as hd

    _, headers = study
    reversed_frames = headers[::-1]  # frame 1 is the top slice: frame order is not array order
    enhanced = hd.legacy.LegacyConvertedEnhancedCTImage(
        reversed_frames, generate_uid(), 4, generate_uid(), 1, require_volume=False
    )
    folder = tmp_path / "enhanced"
    folder.mkdir()
    enhanced.save_as(folder / "ct.dcm")
    masks = _masks()
    path = write_seg(folder / "seg.dcm", [pydicom.dcmread(folder / "ct.dcm")], masks[::-1], ["a", "b"])

    scan = open_scan(path)
    assert scan.modality == "CT" and scan.spatial_shape == SHAPE
    np.testing.assert_array_equal(scan.array, np.stack([h.pixel_array for h in headers]))
    np.testing.assert_array_equal(scan.attached[0].label_map.array, _labels(masks))
