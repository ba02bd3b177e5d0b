"""Procedural demo data with ground truth: a CT phantom, a chest radiograph, an H&E-like tile.

Everything is deterministic from a seed, so tests, benchmarks and the bundled models' training
scripts all see the same cases. Shapes are parameters: the phantoms are defined in millimetres (or
microns) and sampled onto whatever grid is asked for, so a small grid gives the same anatomy, coarser.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import ndimage

from medview.core.boxes import Box
from medview.core.geometry import Geometry
from medview.core.labels import LabelTable, preset
from medview.core.provenance import Provenance
from medview.core.scan import LabelMap, Scan, Window

CT_SHAPE = (160, 256, 256)
CT_EXTENT_MM = (320.0, 204.8, 204.8)  # 2.0 x 0.8 x 0.8 mm at CT_SHAPE
RADIOGRAPH_SHAPE = (1024, 1024)
RADIOGRAPH_EXTENT_MM = (409.6, 409.6)
TILE_SHAPE = (2048, 2048)
TILE_MICRONS_PER_PIXEL = 0.5

CT_LABELS = ("body", "lung", "liver", "bone", "lesion")
SOFT_TISSUE = Window(40.0, 400.0, "soft tissue")
CTDomain = Literal["standard", "shifted"]


@dataclass
class DemoCase:
    """One generated case: the scan and whichever ground truth its task uses."""

    name: str
    kind: Literal["ct", "radiograph", "tile"]
    scan: Scan
    truth: LabelMap | None = None
    boxes: list[Box] = field(default_factory=list)
    box_labels: LabelTable | None = None


def make_ct(seed: int = 0, shape: tuple[int, int, int] = CT_SHAPE, domain: CTDomain = "standard") -> DemoCase:
    """A CT-like int16 volume in Hounsfield units with body, lungs, liver, spine and lesions.

    ``domain="shifted"`` is the same anatomy after contrast enhancement with a different scanner:
    brighter liver, hyperdense lesions, more noise. It is the "new site" for fine-tuning demos.
    """
    rng = np.random.default_rng(seed)
    spacing = tuple(e / s for e, s in zip(CT_EXTENT_MM, shape, strict=True))
    origin = tuple(-(e - sp) / 2 for e, sp in zip(CT_EXTENT_MM, spacing, strict=True))
    geometry = Geometry.from_spacing(spacing, origin)
    z, y, x = _world_grid(shape, geometry)

    def jitter(value: float, amount: float = 0.08) -> float:
        return value * (1 + rng.uniform(-amount, amount))

    labels = np.zeros(shape, np.uint8)
    body = ((x / jitter(92)) ** 2 + (y / jitter(72)) ** 2 <= 1) & (np.abs(z) <= 150)
    labels[body] = 1
    for side in (-1, 1):
        lung = _ellipsoid(
            z, y, x, (jitter(60), jitter(-5), side * jitter(42)), (jitter(75), jitter(45), jitter(30))
        )
        labels[lung & body] = 2
    liver_centre = (jitter(-45), jitter(0), -jitter(35))
    liver = _ellipsoid(z, y, x, liver_centre, (jitter(45), jitter(40), jitter(45))) & body & (labels != 2)
    labels[liver] = 3
    spine = ((x / 11.0) ** 2 + ((y - jitter(52)) / 12.0) ** 2 <= 1) & body
    labels[spine] = 4
    lesion_centres = _lesion_centres(rng, liver_centre, count=int(rng.integers(2, 4)))
    lesion_centres.append((jitter(70), jitter(-10), jitter(40) * rng.choice([-1, 1])))  # a lung nodule
    for centre in lesion_centres:
        radius = rng.uniform(6, 12)
        labels[_ellipsoid(z, y, x, centre, (radius, radius, radius)) & body] = 5

    standard = domain == "standard"
    hu_by_label = {0: -1000, 1: 40, 2: -850, 3: 60 if standard else 110, 4: 700, 5: 20 if standard else 170}
    image = np.zeros(shape, np.float32)
    for value, hu in hu_by_label.items():
        image[labels == value] = hu
    image += (rng.normal(0, 12 if standard else 22, shape)).astype(np.float32)
    image = ndimage.gaussian_filter(image, sigma=0.6)
    scan = Scan(
        np.clip(image, -1024, 3071).astype(np.int16),
        geometry,
        modality="CT",
        value_unit="HU",
        name=f"demo-ct-{seed}" + ("" if standard else "-shifted"),
        window=SOFT_TISSUE,
        metadata={"demo": "ct", "seed": seed, "domain": domain},
    )
    truth = LabelMap(labels, geometry, preset("ct-abdomen"), Provenance("demo", author="medview.demo"))
    return DemoCase(scan.name, "ct", scan, truth=truth)


def make_radiograph(seed: int = 0, shape: tuple[int, int] = RADIOGRAPH_SHAPE) -> DemoCase:
    """A chest-radiograph-like 12-bit image (DX, brighter = denser) with 1-4 nodules and their boxes."""
    rng = np.random.default_rng(seed)
    spacing = tuple(e / s for e, s in zip(RADIOGRAPH_EXTENT_MM, shape, strict=True))
    geometry = Geometry.from_spacing(spacing)
    y, x = np.meshgrid(
        *(np.arange(n) * s - e / 2 for n, s, e in zip(shape, spacing, RADIOGRAPH_EXTENT_MM, strict=True)),
        indexing="ij",
    )

    image = np.full(shape, 300.0)
    chest = (x / rng.uniform(160, 180)) ** 2 + ((y - 10) / rng.uniform(175, 190)) ** 2 <= 1
    image[chest] = 1600
    lungs = []
    for side in (-1, 1):
        lung = ((x - side * rng.uniform(70, 80)) / rng.uniform(50, 58)) ** 2 + (
            (y + rng.uniform(0, 15)) / rng.uniform(110, 125)
        ) ** 2 <= 1
        lungs.append(lung)
        image[lung] = 700
    image[np.abs(x) < 18] = 2300  # spine and mediastinum
    for rib_y in np.arange(-110, 110, 26):
        ribs = np.abs(y - rib_y - 0.0015 * x**2) < 4
        image[ribs & chest] += 450

    boxes = []
    lung_mask = lungs[0] | lungs[1]
    candidates = np.argwhere(ndimage.binary_erosion(lung_mask, iterations=int(15 / spacing[0])))
    for _ in range(int(rng.integers(1, 5))):
        cy, cx = candidates[rng.integers(len(candidates))]
        radius = rng.uniform(5, 12) / spacing[0]
        blob = np.exp(
            -(
                ((np.arange(shape[0])[:, None] - cy) ** 2 + (np.arange(shape[1])[None, :] - cx) ** 2)
                / (2 * (radius / 1.6) ** 2)
            )
        )
        image += 900 * blob
        boxes.append(
            Box(
                1,
                1.0,
                (float(cy - radius), float(cx - radius)),
                (float(cy + radius + 1), float(cx + radius + 1)),
            )
        )
    image = ndimage.gaussian_filter(image, sigma=2.0) + rng.normal(0, 25, shape)
    scan = Scan(
        np.clip(image, 0, 4095).astype(np.uint16),
        geometry,
        modality="DX",
        name=f"demo-radiograph-{seed}",
        window=Window(1500.0, 3000.0, "full range"),
        metadata={"demo": "radiograph", "seed": seed},
    )
    return DemoCase(scan.name, "radiograph", scan, boxes=boxes, box_labels=preset("lung-nodule"))


def make_tile(seed: int = 0, shape: tuple[int, int] = TILE_SHAPE) -> DemoCase:
    """An H&E-like RGB tile (pink stroma, purple nuclei) and its nucleus label map (semantic, 1 = nucleus)."""
    rng = np.random.default_rng(seed)
    geometry = Geometry.from_spacing((TILE_MICRONS_PER_PIXEL,) * 2)
    stroma = ndimage.gaussian_filter(rng.normal(0, 1, shape), sigma=12)
    stroma = (stroma - stroma.min()) / (np.ptp(stroma) + 1e-9)
    rgb = np.empty((*shape, 3), np.float32)
    for channel, (low, high) in enumerate(((235, 200), (200, 120), (225, 180))):
        rgb[..., channel] = low + (high - low) * stroma

    labels = np.zeros(shape, np.uint8)
    darkness = np.zeros(shape, np.float32)
    count = int(shape[0] * shape[1] / 2800)
    for _ in range(count):
        cy, cx = rng.uniform(0, shape[0]), rng.uniform(0, shape[1])
        ry, rx = rng.uniform(5, 11), rng.uniform(5, 11)
        angle = rng.uniform(0, np.pi)
        r = int(max(ry, rx)) + 2
        y0, y1 = max(int(cy) - r, 0), min(int(cy) + r + 1, shape[0])
        x0, x1 = max(int(cx) - r, 0), min(int(cx) + r + 1, shape[1])
        yy, xx = np.mgrid[y0:y1, x0:x1]
        dy, dx = yy - cy, xx - cx
        u = dy * np.cos(angle) + dx * np.sin(angle)
        v = -dy * np.sin(angle) + dx * np.cos(angle)
        inside = (u / ry) ** 2 + (v / rx) ** 2 <= 1
        labels[y0:y1, x0:x1][inside] = 1
        darkness[y0:y1, x0:x1][inside] = rng.uniform(0.7, 1.0)
    darkness = ndimage.gaussian_filter(darkness, sigma=1.0)
    nucleus_colour = np.array([70, 40, 120], np.float32)
    rgb = rgb * (1 - darkness[..., None]) + nucleus_colour * darkness[..., None]
    rgb += rng.normal(0, 6, rgb.shape)
    scan = Scan(
        np.clip(rgb, 0, 255).astype(np.uint8),
        geometry,
        modality="SM",
        name=f"demo-tile-{seed}",
        rgb=True,
        units="um",
        metadata={"demo": "tile", "seed": seed},
    )
    truth = LabelMap(labels, geometry, preset("nucleus"), Provenance("demo", author="medview.demo"))
    return DemoCase(scan.name, "tile", scan, truth=truth)


def demo_cases(count: int = 1, seed: int = 0) -> Iterator[DemoCase]:
    """``count`` cases of each kind, each different and reproducible from ``seed``."""
    for index in range(count):
        case_seed = seed * 1000 + index
        yield make_ct(case_seed)
        yield make_radiograph(case_seed)
        yield make_tile(case_seed)


def _world_grid(shape: tuple[int, ...], geometry: Geometry) -> list[np.ndarray]:
    axes = [np.arange(n) * s + o for n, s, o in zip(shape, geometry.spacing, geometry.origin, strict=True)]
    return np.meshgrid(*[a.astype(np.float32) for a in axes], indexing="ij", sparse=True)


def _ellipsoid(z, y, x, centre, radii) -> np.ndarray:
    return ((z - centre[0]) / radii[0]) ** 2 + ((y - centre[1]) / radii[1]) ** 2 + (
        (x - centre[2]) / radii[2]
    ) ** 2 <= 1


def _lesion_centres(rng: np.random.Generator, liver_centre, count: int) -> list[tuple[float, float, float]]:
    offsets = rng.uniform(-20, 20, size=(count, 3))
    return [tuple(float(c + o) for c, o in zip(liver_centre, offset, strict=True)) for offset in offsets]
