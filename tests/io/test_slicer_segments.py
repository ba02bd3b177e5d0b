"""3D Slicer's Segment<N>_* header fields become a label table; several layers are refused."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from medview.core.labels import default_colour
from medview.io import ScanError
from medview.io.slicer_segments import read_segment_table, segment_table


def test_fields_give_values_names_and_colours_in_segment_order():
    table = segment_table(
        {
            "Segment1_Name": "kidney",
            "Segment1_Color": "0.5 0.5 1",
            "Segment1_LabelValue": "2",
            "Segment0_Name": "liver",
            "Segment0_Color": "0.86 0.3 0.2",
            "Segment0_LabelValue": "5",
            "Segment0_Layer": "0",
            "Segmentation_MasterRepresentation": "Binary labelmap",
        }
    )
    assert [(label.value, label.name, label.colour) for label in table] == [
        (2, "kidney", (128, 128, 255)),
        (5, "liver", (219, 76, 51)),
    ]


def test_missing_or_odd_fields_fall_back_without_losing_a_segment():
    table = segment_table(
        {
            "Segment0_ID": "Segment_7",  # no name: the ID names it; no value: index + 1
            "Segment0_Color": "red",
            "Segment1_Name": "lesion",
            "Segment1_LabelValue": "3",
            "Segment2_Name": "lesion",
            "Segment2_LabelValue": "4",
            "Segment2_Color": "1.5 0 0",
        }
    )
    assert [(label.value, label.name) for label in table] == [
        (1, "Segment_7"),
        (3, "lesion"),
        (4, "lesion (4)"),
    ]
    assert table[1].colour == default_colour(1) and table[4].colour == default_colour(4)
    assert segment_table({"NRRD_space": "left-posterior-superior"}) is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"Segment0_Layer": "0", "Segment1_Layer": "1", "Segment2_Layer": "2"}, "in 3 layers"),
        ({"Segment0_Name": "a", "Segment1_Name": "b", "Segment1_LabelValue": "1"}, "'a' and 'b' both have"),
        ({"Segment0_LabelValue": "one"}, "segment 0's label value 'one' is not a whole number"),
        ({"Segment0_Name": "a", "Segment0_LabelValue": "0"}, "'a' has label value 0"),
    ],
)
def test_fields_that_cannot_make_one_label_per_voxel_are_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        segment_table(fields)


def test_a_file_of_one_segment_per_component_is_refused_before_its_voxels_are_read(tmp_path):
    # older Slicer versions: a 4D file, one binary component per segment, no Layer fields
    layers = [sitk.GetImageFromArray(np.eye(4, dtype=np.uint8)[np.newaxis] * (v % 2)) for v in range(3)]
    image = sitk.Compose(layers)
    for index, name in enumerate(("a", "b", "c")):
        image.SetMetaData(f"Segment{index}_Name", name)
    path = tmp_path / "old.seg.nrrd"
    sitk.WriteImage(image, str(path))
    with pytest.raises(ScanError, match="old.seg.nrrd: .*overlapping segments in 3 layers"):
        read_segment_table(path)
    plain = tmp_path / "plain.nrrd"
    sitk.WriteImage(layers[1], str(plain))
    assert read_segment_table(plain) is None
