"""Names and colours of the values in a label map, saved beside every annotation as JSON."""

from __future__ import annotations

import colorsys
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

Colour = tuple[int, int, int]
Code = tuple[str, str, str]
"""A coded concept as DICOM writes it: (code value, coding scheme designator, code meaning)."""


@dataclass(frozen=True)
class LabelClass:
    """One class of a label map: its integer value, its name and its display colour (RGB 0-255)."""

    value: int
    name: str
    colour: Colour
    category: Code | None = None
    """DICOM SEG's segmented property category (e.g. SCT 123037004 "Anatomical Structure"), if known."""
    property_type: Code | None = None
    """DICOM SEG's segmented property type (e.g. SCT 10200004 "Liver"), if known."""

    def __post_init__(self) -> None:
        if self.value <= 0:
            raise ValueError(f"label values start at 1 (0 is background), got {self.value}")
        if len(self.colour) != 3 or not all(0 <= c <= 255 for c in self.colour):
            raise ValueError(f"colour of {self.name!r} must be three integers 0-255")


class LabelTable:
    """An ordered set of :class:`LabelClass`, unique by value and by name."""

    def __init__(self, classes: Sequence[LabelClass] = ()) -> None:
        self._classes: dict[int, LabelClass] = {}
        for label in classes:
            self.add(label)

    def add(self, label: LabelClass) -> None:
        """Add a class; its value and name must be new to the table."""
        if label.value in self._classes:
            raise ValueError(f"label value {label.value} is already used")
        if any(existing.name == label.name for existing in self._classes.values()):
            raise ValueError(f"label name {label.name!r} is already used")
        self._classes[label.value] = label

    def remove(self, value: int) -> None:
        """Drop the class with this value."""
        del self._classes[value]

    def __getitem__(self, value: int) -> LabelClass:
        return self._classes[value]

    def __contains__(self, value: object) -> bool:
        return value in self._classes

    def __iter__(self) -> Iterator[LabelClass]:
        return iter(sorted(self._classes.values(), key=lambda label: label.value))

    def __len__(self) -> int:
        return len(self._classes)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LabelTable) and list(self) == list(other)

    @property
    def values(self) -> list[int]:
        """The label values, ascending."""
        return [label.value for label in self]

    def name_of(self, value: int) -> str:
        """The class name, or ``label <value>`` for a value the table does not know."""
        return self._classes[value].name if value in self._classes else f"label {value}"

    def colours(self) -> dict[int, Colour]:
        """Value -> RGB colour, for the viewer."""
        return {label.value: label.colour for label in self}

    def to_dict(self) -> dict:
        return {"classes": [_class_dict(c) for c in self]}

    @classmethod
    def from_dict(cls, data: Mapping) -> LabelTable:
        try:
            return cls(
                [
                    LabelClass(
                        int(c["value"]),
                        str(c["name"]),
                        tuple(int(v) for v in c["colour"]),
                        _code(c.get("category")),
                        _code(c.get("type")),
                    )
                    for c in data["classes"]
                ]
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"not a label table: {error}") from error

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> LabelTable:
        return cls.from_dict(json.loads(text))


def default_colour(value: int) -> Colour:
    """The fixed colour of a label value that no table names, so the same value looks the same everywhere.

    Values 1-18 take a qualitative palette whose colours differ clearly from one another (the first
    ten by at least 60 in RGB); further values step round the hue circle by the golden angle,
    alternating saturation and brightness, so neighbours never look alike.
    """
    if value <= 0:
        raise ValueError(f"label values start at 1 (0 is background), got {value}")
    if value <= len(_PALETTE):
        return _PALETTE[value - 1]
    step = value - len(_PALETTE)
    hue = (step * _GOLDEN_RATIO_CONJUGATE + 0.05) % 1.0
    saturation, brightness = (0.65, 1.0)[step % 2], (1.0, 0.7)[(step // 2) % 2]
    red, green, blue = colorsys.hsv_to_rgb(hue, saturation, brightness)
    return (round(red * 255), round(green * 255), round(blue * 255))


def default_table(values: Iterable[int]) -> LabelTable:
    """``label N`` classes in their :func:`default_colour`, for a label map that came without a table.

    Background (0) is left out: it is not a class.
    """
    return LabelTable(
        [LabelClass(value, f"label {value}", default_colour(value)) for value in sorted(set(values)) if value]
    )


def _class_dict(label: LabelClass) -> dict:
    item = {"value": label.value, "name": label.name, "colour": list(label.colour)}
    if label.category is not None:
        item["category"] = list(label.category)
    if label.property_type is not None:
        item["type"] = list(label.property_type)
    return item


def _code(item: Sequence | None) -> Code | None:
    if item is None:
        return None
    value, scheme, meaning = (str(part) for part in item)
    return (value, scheme, meaning)


def _table(*classes: tuple[int, str, Colour]) -> LabelTable:
    return LabelTable([LabelClass(value, name, colour) for value, name, colour in classes])


def preset(name: str) -> LabelTable:
    """A fresh copy of a named preset: see :data:`PRESET_NAMES`."""
    try:
        return _PRESETS[name]()
    except KeyError:
        raise ValueError(f"no label preset {name!r}; choose one of {', '.join(PRESET_NAMES)}") from None


_GOLDEN_RATIO_CONJUGATE = 0.6180339887498949
# Sasha Trubetskoy's "20 distinct colours" without grey and apricot (too close to beige).
_PALETTE: tuple[Colour, ...] = (
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (250, 190, 212),
    (0, 128, 128),
    (220, 190, 255),
    (170, 110, 40),
    (255, 250, 200),
    (128, 0, 0),
    (170, 255, 195),
    (128, 128, 0),
    (0, 0, 128),
)
_PRESETS = {
    "ct-abdomen": lambda: _table(
        (1, "body", (230, 190, 150)),
        (2, "lung", (120, 180, 255)),
        (3, "liver", (200, 80, 60)),
        (4, "bone", (240, 240, 210)),
        (5, "lesion", (255, 220, 0)),
    ),
    "liver-lesion": lambda: _table((1, "liver", (200, 80, 60)), (2, "lesion", (255, 220, 0))),
    "lung-nodule": lambda: _table((1, "nodule", (255, 120, 0))),
    "nucleus": lambda: _table((1, "nucleus", (60, 200, 90))),
}
PRESET_NAMES: tuple[str, ...] = tuple(_PRESETS)
