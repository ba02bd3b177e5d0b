import json
import sys
from pathlib import Path

import numpy as np
import pytest
from dicom_files import write_ct_series

from medview.annotations.nifti import AnnotationMismatchError
from medview.annotations.seg import read_dicom_seg, source_datasets, write_dicom_seg
from medview.core.errors import InputError
from medview.core.geometry import Geometry
from medview.core.labels import LabelClass, LabelTable
from medview.core.provenance import Provenance
from medview.core.scan import LabelMap, Scan
from medview.io.open import open_scan

sys.path.insert(0, str(Path(__file__).parents[1] / "io"))
from dicom_meaning_files import write_seg  # noqa: E402


@pytest.fixture
def dicom_scan(tmp_path):
    volume = np.random.default_rng(0).integers(-1000, 1000, size=(6, 16, 20)).astype(np.int16)
    return open_scan(write_ct_series(tmp_path / "ct", volume))


def _label_map(scan, provenance):
    array = np.zeros(scan.spatial_shape, dtype=np.uint8)
    array[1, 2:5, 3:9] = 1
    array[4, 10:14, 10:12] = 2
    array[5, 0, 0] = 2
    table = LabelTable([LabelClass(1, "liver", (200, 80, 60)), LabelClass(2, "lesion", (255, 220, 0))])
    return LabelMap(array, scan.geometry, table, provenance)


@pytest.mark.parametrize(
    ("provenance", "algorithm_type", "segmentation_type"),
    [
        (Provenance.drawn(), "MANUAL", "labelmap"),
        (Provenance.predicted("unet", "1.3"), "AUTOMATIC", "binary"),
    ],
)
def test_seg_read_back_with_highdicom(tmp_path, dicom_scan, provenance, algorithm_type, segmentation_type):
    import highdicom as hd

    label_map = _label_map(dicom_scan, provenance)
    datasets = source_datasets(dicom_scan)
    assert [float(d.ImagePositionPatient[2]) for d in datasets] == sorted(
        float(d.ImagePositionPatient[2]) for d in datasets
    )
    path = write_dicom_seg(label_map, datasets, tmp_path / "seg.dcm", segmentation_type)

    seg = hd.seg.segread(path)
    assert seg.SegmentationType == segmentation_type.upper()
    segments = [item for item in seg.SegmentSequence if item.SegmentNumber != 0]  # 0: label-map background
    assert [item.SegmentLabel for item in segments] == ["liver", "lesion"]
    assert {item.SegmentAlgorithmType for item in segments} == {algorithm_type}
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == dicom_scan.metadata["series_uid"]
    pixels = seg.get_pixels_by_source_instance([d.SOPInstanceUID for d in datasets], combine_segments=True)
    assert np.array_equal(pixels, label_map.array)

    loaded = read_dicom_seg(path, dicom_scan)
    assert np.array_equal(loaded.array, label_map.array) and loaded.fits(dicom_scan)
    assert loaded.labels.name_of(2) == "lesion"
    assert np.allclose(loaded.labels[1].colour, (200, 80, 60), atol=2)


def test_seg_of_another_series_is_refused(tmp_path, dicom_scan):
    path = write_dicom_seg(
        _label_map(dicom_scan, Provenance.drawn()), source_datasets(dicom_scan), tmp_path / "s.dcm"
    )
    volume = np.zeros((6, 16, 20), dtype=np.int16)
    other = open_scan(write_ct_series(tmp_path / "other", volume))
    with pytest.raises(AnnotationMismatchError, match="s.dcm: this SEG segments other images"):
        read_dicom_seg(path, other)


def test_non_dicom_scan_is_refused(tmp_path):
    scan = Scan(np.zeros((2, 3, 4), dtype=np.int16), Geometry.identity(3), name="phantom")
    with pytest.raises(InputError, match="phantom is not DICOM"):
        source_datasets(scan)


def test_evaluate_scores_a_nifti_prediction_against_a_dicom_seg_truth(tmp_path, dicom_scan, capsys):
    from medview.annotations.nifti import save_nifti
    from medview.cli.main import main

    truth = _label_map(dicom_scan, Provenance.drawn())
    seg_path = write_dicom_seg(truth, source_datasets(dicom_scan), tmp_path / "truth-seg.dcm")
    pred = LabelMap(truth.array.copy(), truth.geometry, truth.labels, Provenance.predicted("unet", "1"))
    pred.array[4, 10:14, 10:12] = 0  # the model misses lesion voxels 8 of 9
    pred_path = save_nifti(pred, tmp_path / "pred.nii.gz")
    args = ["evaluate", "--truth", str(seg_path), "--pred", str(pred_path), "--json"]
    assert main([*args, "--scan", str(tmp_path / "ct")]) == 0
    metrics = json.loads(capsys.readouterr().out)["metrics"]
    assert metrics["1"]["dice"] == pytest.approx(1.0)
    assert metrics["2"]["dice"] == pytest.approx(2 * 1 / (1 + 9))
    assert main(args) == 2
    assert "needs --scan" in capsys.readouterr().err


def test_segment_codes_read_from_a_seg_are_kept_on_export_and_in_the_label_table(tmp_path, dicom_scan):
    import highdicom as hd
    from pydicom.sr.codedict import codes

    datasets = source_datasets(dicom_scan)
    mask = np.zeros(dicom_scan.spatial_shape, dtype=bool)
    mask[2, 3:8, 4:10] = True
    write_seg(
        tmp_path / "theirs.dcm",
        datasets,
        mask[..., np.newaxis],
        ["liver"],
        category=codes.SCT.Organ,
        property_types=[codes.SCT.Liver],
    )

    read = read_dicom_seg(tmp_path / "theirs.dcm", dicom_scan)
    liver = read.labels[1]
    assert liver.property_type == ("10200004", "SCT", "Liver") and liver.category[2] == "Organ"
    assert LabelTable.from_dict(json.loads(json.dumps(read.labels.to_dict()))) == read.labels  # sidecar

    write_dicom_seg(read, datasets, tmp_path / "ours.dcm")
    (item,) = hd.seg.segread(tmp_path / "ours.dcm").SegmentSequence
    assert item.SegmentedPropertyTypeCodeSequence[0].CodeValue == "10200004"
    assert item.SegmentedPropertyCategoryCodeSequence[0].CodeMeaning == "Organ"
