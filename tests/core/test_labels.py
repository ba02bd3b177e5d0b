import pytest

from medview.core.labels import PRESET_NAMES, LabelClass, LabelTable, preset


def test_table_round_trips_through_json_in_value_order():
    table = LabelTable([LabelClass(3, "lesion", (255, 0, 0)), LabelClass(1, "liver", (0, 128, 0))])
    again = LabelTable.from_json(table.to_json())
    assert again == table
    assert again.values == [1, 3]
    assert again.name_of(3) == "lesion"
    assert again.name_of(7) == "label 7"


@pytest.mark.parametrize(
    "classes, message",
    [
        ([LabelClass(1, "a", (0, 0, 0)), LabelClass(1, "b", (0, 0, 0))], "value 1"),
        ([LabelClass(1, "a", (0, 0, 0)), LabelClass(2, "a", (0, 0, 0))], "name 'a'"),
    ],
)
def test_duplicate_values_or_names_are_refused(classes, message):
    with pytest.raises(ValueError, match=message):
        LabelTable(classes)


def test_background_and_bad_colours_are_refused():
    with pytest.raises(ValueError, match="start at 1"):
        LabelClass(0, "background", (0, 0, 0))
    with pytest.raises(ValueError, match="colour"):
        LabelClass(1, "x", (0, 0, 300))


def test_presets_are_fresh_copies():
    assert {"liver-lesion", "lung-nodule", "nucleus"} <= set(PRESET_NAMES)
    first = preset("liver-lesion")
    first.remove(1)
    assert preset("liver-lesion").values == [1, 2]
    with pytest.raises(ValueError, match="no label preset"):
        preset("nope")


def test_malformed_json_is_a_clear_error():
    with pytest.raises(ValueError, match="not a label table"):
        LabelTable.from_dict({"classes": [{"value": 1}]})
