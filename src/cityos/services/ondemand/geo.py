"""Travel times for the town's on-demand cars: great-circle distance times a roads factor.

The optimiser (model.py) takes travel time as the Euclidean distance between node
coordinates, so places are projected to a plane measured in minutes of driving: an
equirectangular projection around the town (error under 0.01% over the town's 8 km) scaled
by ROAD_FACTOR / SPEED_KMH. Euclidean distance on that plane is then great-circle distance
× ROAD_FACTOR at SPEED_KMH, in minutes.
"""

from __future__ import annotations

import math

EARTH_KM = 6371.0088  # mean Earth radius (IUGG)
ROAD_FACTOR = 1.35  # road km per straight-line km in a hilly town (Boscoe et al. 2012: 1.2-1.5)
SPEED_KMH = 25.0  # door-to-door average speed of a town car, stops at junctions included
ORIGIN = (135.4700, 34.9050)  # projection centre: the middle of 豊能町 (lon, lat)

Point = tuple[float, float]  # (lon, lat) in degrees


def great_circle_km(a: Point, b: Point) -> float:
    """Haversine distance between two (lon, lat) points in km."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(
        (lon2 - lon1) / 2
    ) ** 2
    return 2 * EARTH_KM * math.asin(math.sqrt(min(1.0, h)))


def project(p: Point) -> tuple[float, float]:
    """(x, y) in minutes of driving from ORIGIN, so that hypot = road travel time."""
    scale = ROAD_FACTOR / SPEED_KMH * 60.0 * EARTH_KM * math.pi / 180.0
    x = (p[0] - ORIGIN[0]) * math.cos(math.radians(ORIGIN[1])) * scale
    y = (p[1] - ORIGIN[1]) * scale
    return x, y


def drive_minutes(a: Point, b: Point) -> float:
    """Road travel time between two points in minutes (as the optimiser sees it)."""
    ax, ay = project(a)
    bx, by = project(b)
    return math.hypot(ax - bx, ay - by)


def km_of_minutes(minutes: float) -> float:
    """Road km driven in `minutes` at SPEED_KMH."""
    return minutes * SPEED_KMH / 60.0
