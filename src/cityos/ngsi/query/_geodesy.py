"""Distances in metres on the WGS84 ellipsoid for `near` geo-queries.

ETSI GS CIM 009 v1.8 §4.10 (nearRel distances "in meters"); positions are [lon, lat] (RFC 7946).
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

_A = 6378137.0  # WGS84 semi-major axis (m)
_F = 1 / 298.257223563
_E2 = _F * (2 - _F)
# The smallest meridional radius of curvature (at the equator): one degree of latitude is never
# shorter than this many metres / (180/pi), so growing a box by it never under-covers.
MIN_RADIUS = _A * (1 - _E2)
_DEG = math.pi / 180.0
_ORIGIN = shapely.Point(0.0, 0.0)
DENSIFY_DEGREES = 0.05


def _radii(lat_rad: float) -> tuple[float, float]:
    """Meridional (M) and prime-vertical (N) radii of curvature at a latitude."""
    s2 = math.sin(lat_rad) ** 2
    w = math.sqrt(1 - _E2 * s2)
    return _A * (1 - _E2) / (w * w * w), _A / w


def point_distance(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Distance in metres between two positions (spherical arc on the local ellipsoid radii).

    The central angle comes from the haversine formula; the arc is scaled by the radius of
    curvature along its azimuth at the mid-latitude (Euler), within ~10 m at 100 km.
    """
    p1, p2 = lat1 * _DEG, lat2 * _DEG
    dl = (lon2 - lon1) * _DEG
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    c = 2 * math.asin(min(1.0, math.sqrt(h)))
    if c == 0.0:
        return 0.0
    m, n = _radii((p1 + p2) / 2)
    # azimuth at the start: components of the direction on the unit sphere
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    r2 = x * x + y * y
    if r2 == 0.0:
        return c * (m + n) / 2
    # Euler: 1/R(az) = cos^2(az)/M + sin^2(az)/N
    radius = 1.0 / ((x * x / r2) / m + (y * y / r2) / n)
    return c * radius


def _project(coords: np.ndarray, lon0: float, lat0: float, m: float, n: float) -> np.ndarray:
    """Azimuthal equidistant projection centred on (lon0, lat0), axes scaled by N (x), M (y)."""
    lam = (coords[:, 0] - lon0) * _DEG
    phi = coords[:, 1] * _DEG
    p0 = lat0 * _DEG
    sin_p0, cos_p0 = math.sin(p0), math.cos(p0)
    cos_phi, sin_phi = np.cos(phi), np.sin(phi)
    h = np.sin((phi - p0) / 2) ** 2 + cos_p0 * cos_phi * np.sin(lam / 2) ** 2
    c = 2 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    sin_c = np.sin(c)
    safe = sin_c > 1e-15
    k = np.ones_like(c)
    np.divide(c, sin_c, out=k, where=safe)
    x = k * cos_phi * np.sin(lam) * n
    y = k * (cos_p0 * sin_phi - sin_p0 * cos_phi * np.cos(lam)) * m
    return np.column_stack((x, y))


def _metric(geom: BaseGeometry, lon0: float, lat0: float) -> BaseGeometry:
    m, n = _radii(lat0 * _DEG)
    return shapely.transform(geom, lambda xy: _project(xy, lon0, lat0, m, n))


def densify(geom: BaseGeometry) -> BaseGeometry:
    """Split edges longer than DENSIFY_DEGREES, so that projected chords follow the lon/lat edges.

    RFC 7946 edges are straight in lon/lat; a projected edge is a chord of the projected curve,
    which a few kilometres of edge keep within centimetres.
    """
    if isinstance(geom, (shapely.Point, shapely.MultiPoint)):
        return geom
    return shapely.segmentize(geom, DENSIFY_DEGREES)


def geometry_distance(a: BaseGeometry, b: BaseGeometry) -> float:
    """Shortest distance in metres between two lon/lat geometries (0 if they intersect).

    `a` must already be densified (the query geometry, once); `b` is densified here.
    Both are projected onto a local metric plane centred between their closest points, where
    distances near the centre are accurate; the centre is refined once, because the first guess
    (closest points in degrees) can be far off at high latitude.
    """
    a_point, b_point = isinstance(a, shapely.Point), isinstance(b, shapely.Point)
    if not b_point:
        b = densify(b)
    if a_point and b_point:
        return point_distance(a.x, a.y, b.x, b.y)
    if a_point or b_point:
        # Centred on the point, the projection keeps every vertex at its true distance from it.
        p, other = (a, b) if a_point else (b, a)
        return float(_metric(other, p.x, p.y).distance(_ORIGIN))
    if a.intersects(b):
        return 0.0
    pa, pb = nearest_points(a, b)
    lon0, lat0 = (pa.x + pb.x) / 2, (pa.y + pb.y) / 2
    dist = math.inf
    for _ in range(2):
        ma, mb = _metric(a, lon0, lat0), _metric(b, lon0, lat0)
        dist = float(ma.distance(mb))
        qa, qb = nearest_points(ma, mb)
        mx, my = (qa.x + qb.x) / 2, (qa.y + qb.y) / 2
        if math.hypot(mx, my) < 1.0:
            break
        lon0, lat0 = _unproject(mx, my, lon0, lat0)
    return dist


def _unproject(x: float, y: float, lon0: float, lat0: float) -> tuple[float, float]:
    """Inverse of `_project` for one point (spherical, scaled axes)."""
    m, n = _radii(lat0 * _DEG)
    xs, ys = x / n, y / m
    c = math.hypot(xs, ys)
    if c == 0.0:
        return lon0, lat0
    p0 = lat0 * _DEG
    sin_c, cos_c = math.sin(c), math.cos(c)
    phi = math.asin(max(-1.0, min(1.0, cos_c * math.sin(p0) + ys * sin_c * math.cos(p0) / c)))
    lam = math.atan2(xs * sin_c, c * math.cos(p0) * cos_c - ys * math.sin(p0) * sin_c)
    lon = (lon0 + lam / _DEG + 540.0) % 360.0 - 180.0
    return lon, phi / _DEG
