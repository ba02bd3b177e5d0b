"""Label values without a table get names and colours that tell them apart at a glance."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from medview.core.labels import default_colour, default_table


def _distance(a, b) -> float:
    return float(np.linalg.norm(np.subtract(a, b, dtype=float)))


def test_the_first_ten_colours_differ_clearly_and_the_first_twenty_all_differ():
    colours = [default_colour(value) for value in range(1, 21)]
    assert min(_distance(a, b) for a, b in itertools.combinations(colours[:10], 2)) > 40
    assert min(_distance(a, b) for a, b in itertools.combinations(colours, 2)) > 30
    assert all(0 <= channel <= 255 for colour in colours for channel in colour)


def test_colours_beyond_the_palette_stay_distinct():
    colours = [default_colour(value) for value in range(1, 101)]
    assert len(set(colours)) == 100


def test_default_table_names_each_value_and_skips_background():
    table = default_table([2, 0, 7, 2])
    assert table.values == [2, 7]
    assert [label.name for label in table] == ["label 2", "label 7"]
    assert table[7].colour == default_colour(7)
    with pytest.raises(ValueError, match="start at 1"):
        default_colour(0)
