"""A small map drawn as SVG in the page (no tiles, no script: the CSP allows neither inline
scripts nor other sites): receivers as dots, coverage as circles, a day's path as a line."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

WIDTH, HEIGHT, PAD = 640.0, 420.0, 36.0
METRES_PER_DEGREE = 111_320.0


@dataclass(frozen=True)
class Frame:
    """Projects lon/lat onto the drawing (equirectangular around the centre latitude)."""

    lon0: float
    lat0: float
    scale: float  # pixels per metre

    def xy(self, point: tuple[float, float]) -> tuple[float, float]:
        dx = (point[0] - self.lon0) * METRES_PER_DEGREE * math.cos(math.radians(self.lat0))
        dy = (point[1] - self.lat0) * METRES_PER_DEGREE
        return round(WIDTH / 2 + dx * self.scale, 1), round(HEIGHT / 2 - dy * self.scale, 1)

    def px(self, metres: float) -> float:
        return round(max(3.0, metres * self.scale), 1)


def frame(points: Iterable[tuple[float, float]], margin_m: float = 150.0) -> Frame:
    pts = list(points) or [(135.4483, 34.9148)]  # Toyono town hall when there is nothing
    lons, lats = [p[0] for p in pts], [p[1] for p in pts]
    lon0, lat0 = (min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2
    span_x = (max(lons) - min(lons)) * METRES_PER_DEGREE * math.cos(math.radians(lat0))
    span_y = (max(lats) - min(lats)) * METRES_PER_DEGREE
    scale = min((WIDTH - 2 * PAD) / max(span_x + 2 * margin_m, 1.0),
                (HEIGHT - 2 * PAD) / max(span_y + 2 * margin_m, 1.0))
    return Frame(lon0, lat0, scale)


def scale_bar(f: Frame) -> tuple[float, str]:
    """A round length (pixels, label) about a fifth of the width."""
    metres = (WIDTH / 5) / f.scale
    nice = max(10.0, 10 ** math.floor(math.log10(metres)))
    for step in (5, 2, 1):
        if nice * step <= metres:
            nice *= step
            break
    label = f"{nice / 1000:g} km" if nice >= 1000 else f"{nice:g} m"
    return round(nice * f.scale, 1), label
