"""Geo-queries (georel, geometry, coordinates, geoproperty) and GeoJSON geometry validation.

ETSI GS CIM 009 v1.8 §4.10 (geo-query language), §4.7 / §4.6.3 (GeoProperty values, RFC 7946).
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable
from threading import get_ident
from typing import Any
from urllib.parse import unquote

import shapely
from shapely.errors import ShapelyError
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from cityos.ngsi.errors import BadRequestData
from cityos.ngsi.query._geodesy import MIN_RADIUS, densify, geometry_distance, point_distance

GEOMETRY_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon")
GEORELS = ("near", "within", "contains", "intersects", "disjoint", "equals", "overlaps")
DEFAULT_GEOPROPERTY = "location"
WORLD: tuple[float, float, float, float] = (-180.0, -90.0, 180.0, 90.0)

# §4.10: nearRel = "near" ";" ("maxDistance" / "minDistance") "==" PositiveNumber, where a
# PositiveNumber is an RFC 8259 number without the minus sign and not zero.
_NEAR = re.compile(r"near;(maxDistance|minDistance)==(.*)", re.DOTALL)
_NUMBER = re.compile(r"(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
# §4.6.2: characters an attribute name can never hold (plus whitespace and controls).
_BAD_NAME = re.compile(r"[\s<>\"'=;()\x00-\x1f\x7f]")


# --------------------------------------------------------------------------- validation

def _position(p: Any, where: str) -> None:
    if not isinstance(p, (list, tuple)) or not 2 <= len(p) <= 3:
        raise BadRequestData(f"{where}: a position is an array of 2 or 3 numbers [lon, lat(, alt)]")
    for v in p:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise BadRequestData(f"{where}: position values must be numbers, got {v!r:.40}")
        if not math.isfinite(v):
            raise BadRequestData(f"{where}: position values must be finite numbers")
    if not -180.0 <= p[0] <= 180.0:
        raise BadRequestData(f"{where}: longitude {p[0]} out of range [-180, 180]")
    if not -90.0 <= p[1] <= 90.0:
        raise BadRequestData(f"{where}: latitude {p[1]} out of range [-90, 90]")


def _array(v: Any, where: str, what: str, minimum: int) -> list[Any]:
    if not isinstance(v, (list, tuple)):
        raise BadRequestData(f"{where}: expected an array of {what}")
    if len(v) < minimum:
        raise BadRequestData(f"{where}: expected at least {minimum} {what}, got {len(v)}")
    return list(v)


def _line(v: Any, where: str) -> None:
    for i, p in enumerate(_array(v, where, "positions", 2)):
        _position(p, f"{where}[{i}]")


def _ring(v: Any, where: str) -> None:
    ring = _array(v, where, "positions in a linear ring", 4)
    for i, p in enumerate(ring):
        _position(p, f"{where}[{i}]")
    if list(ring[0]) != list(ring[-1]):
        raise BadRequestData(f"{where}: a linear ring must be closed (first position = last)")


def _polygon(v: Any, where: str) -> None:
    for i, r in enumerate(_array(v, where, "linear rings", 1)):
        _ring(r, f"{where}[{i}]")


def _multi(item: Callable[[Any, str], None], what: str) -> Callable[[Any, str], None]:
    def check(v: Any, where: str) -> None:
        for i, x in enumerate(_array(v, where, what, 1)):
            item(x, f"{where}[{i}]")
    return check


_CHECKS: dict[str, Callable[[Any, str], None]] = {
    "Point": _position,
    "MultiPoint": _multi(_position, "positions"),
    "LineString": _line,
    "MultiLineString": _multi(_line, "line strings"),
    "Polygon": _polygon,
    "MultiPolygon": _multi(_polygon, "polygons"),
}


def validate_geometry(value: object) -> None:
    """Raise BadRequestData unless `value` is a GeoJSON geometry of one of the six §4.7 types."""
    if not isinstance(value, dict):
        raise BadRequestData(f"a GeoJSON geometry must be a JSON object, got {type(value).__name__}")
    gtype = value.get("type")
    check = _CHECKS.get(gtype) if isinstance(gtype, str) else None
    if check is None:
        if gtype == "GeometryCollection":
            raise BadRequestData("GeometryCollection is not a supported GeoProperty value (§4.6.3)")
        raise BadRequestData(f"unsupported GeoJSON geometry type {gtype!r:.60}; expected one of "
                             + ", ".join(GEOMETRY_TYPES))
    if "coordinates" not in value:
        raise BadRequestData(f"GeoJSON {gtype} has no 'coordinates' member")
    try:
        check(value["coordinates"], f"{gtype} coordinates")
    except RecursionError:
        raise BadRequestData(f"{gtype} coordinates are nested too deeply") from None


def _walk(coords: Any) -> tuple[float, float, float, float]:
    if coords and isinstance(coords[0], (int, float)):
        return coords[0], coords[1], coords[0], coords[1]
    boxes = [_walk(c) for c in coords]
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))


def geometry_bbox(value: dict[str, Any]) -> tuple[float, float, float, float]:
    """(min lon, min lat, max lon, max lat) of a valid GeoJSON geometry (not re-validated)."""
    x0, y0, x1, y1 = _walk(value["coordinates"])
    return float(x0), float(y0), float(x1), float(y1)


# --------------------------------------------------------------------------- parsing

def _parse_georel(georel: object) -> tuple[str, str, float | None]:
    """(relation, canonical georel text, distance in metres or None)."""
    if not isinstance(georel, str) or not georel:
        raise BadRequestData("geo-query: 'georel' is required (§4.10)")
    if georel in GEORELS[1:]:
        return georel, georel, None
    m = _NEAR.fullmatch(georel)
    if m is None:
        if georel.startswith("near"):
            raise BadRequestData(f"geo-query: invalid georel {georel!r:.80}; near needs exactly one "
                                 "modifier, near;maxDistance==<metres> or near;minDistance==<metres>")
        raise BadRequestData(f"geo-query: invalid georel {georel!r:.80}; expected near;maxDistance==M, "
                             "near;minDistance==M, " + ", ".join(GEORELS[1:]))
    modifier, number = m.group(1), m.group(2)
    if ";" in number:
        raise BadRequestData(f"geo-query: invalid georel {georel!r:.80}; near takes exactly one "
                             "distance modifier")
    distance = float(number) if _NUMBER.fullmatch(number) else math.nan
    if not math.isfinite(distance) or distance <= 0:
        raise BadRequestData(f"geo-query: {modifier} must be a finite non-zero positive number of "
                             f"metres, got {number!r:.40}")
    return modifier, f"near;{modifier}=={number}", distance


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _parse_coordinates(coordinates: object) -> Any:
    if isinstance(coordinates, (list, tuple)):
        return list(coordinates)
    if not isinstance(coordinates, str) or not coordinates.strip():
        raise BadRequestData("geo-query: 'coordinates' is required, as a JSON array (§4.10)")
    text = coordinates.strip()
    if "%" in text:  # v1.8 allows the array URL-encoded inside the query string
        text = unquote(text)
    try:
        parsed = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise BadRequestData(f"geo-query: coordinates {coordinates!r:.80} are not a JSON array") from None
    if not isinstance(parsed, list):
        raise BadRequestData(f"geo-query: coordinates {coordinates!r:.80} are not a JSON array")
    return parsed


def parse_geoq(georel: str, geometry: str, coordinates: str | list[Any],
               geoproperty: str | None = None) -> GeoQuery:
    """Build a GeoQuery from query-string or subscription members; BadRequestData if invalid."""
    relation, georel_text, distance = _parse_georel(georel)
    if not isinstance(geometry, str) or not geometry:
        raise BadRequestData("geo-query: 'geometry' is required (§4.10)")
    if geometry not in GEOMETRY_TYPES:
        raise BadRequestData(f"geo-query: unsupported geometry {geometry!r:.60}; expected one of "
                             + ", ".join(GEOMETRY_TYPES))
    coords = _parse_coordinates(coordinates)
    value = {"type": geometry, "coordinates": coords}
    try:
        validate_geometry(value)
    except BadRequestData as e:
        raise BadRequestData(f"geo-query: {e.detail}") from None
    if geoproperty is None or geoproperty == "":
        geoproperty = DEFAULT_GEOPROPERTY
    elif not isinstance(geoproperty, str) or _BAD_NAME.search(geoproperty):
        raise BadRequestData(f"geo-query: invalid geoproperty {geoproperty!r:.80}")
    return GeoQuery(georel_text, relation, distance, value, geoproperty)


# --------------------------------------------------------------------------- evaluation

_FAILURES = (TypeError, ValueError, KeyError, IndexError, AttributeError, RecursionError,
             ShapelyError)



def repaired(geom: BaseGeometry) -> BaseGeometry:
    """A valid form of an invalid geometry (self-intersecting or collapsed rings): GEOS's
    make_valid, which refuses some collapsed inputs ("mixed-dimension"), then its structure
    method, then a zero buffer (polygons) — never an error for a well-formed GeoJSON."""
    for attempt in (lambda: shapely.make_valid(geom),
                    lambda: shapely.make_valid(geom, method="structure", keep_collapsed=False),
                    lambda: geom.buffer(0)):
        try:
            return attempt()
        except shapely.errors.GEOSException:
            continue
    return geom

class GeoQuery:
    """A parsed §4.10 geo-query; `matches` tests one GeoProperty value against it.

    The reference geometry is built and repaired (if self-intersecting) once here, and prepared
    once per thread (GEOS prepared geometries are not thread-safe, libgeos/geos#825, and shapely
    releases the GIL), so `matches` only converts the candidate geometry.
    """

    __slots__ = ("_base", "_bbox", "_dense", "_point", "_prepared", "distance", "geometry",
                 "geoproperty", "georel", "relation", "value")

    def __init__(self, georel: str, relation: str, distance: float | None,
                 value: dict[str, Any], geoproperty: str) -> None:
        self.georel = georel
        self.relation = relation  # maxDistance, minDistance or one of the six other georels
        self.distance = distance
        self.value = value
        self.geometry: str = value["type"]
        self.geoproperty = geoproperty
        geom = shape(value)
        if not geom.is_valid:
            geom = repaired(geom)
        self._base = geom
        self._prepared: dict[int, BaseGeometry] = {}
        # near: distances are measured on a densified copy (see _geodesy.densify)
        self._dense = densify(geom) if relation in ("maxDistance", "minDistance") else geom
        c = value["coordinates"]
        self._point = (float(c[0]), float(c[1])) if self.geometry == "Point" else None
        self._bbox = self._compute_bbox()

    def _reference(self) -> BaseGeometry:
        """The prepared reference geometry owned by the calling thread."""
        geom = self._prepared.get(get_ident())
        if geom is None:
            geom = shapely.from_wkb(shapely.to_wkb(self._base))
            shapely.prepare(geom)
            self._prepared[get_ident()] = geom
        return geom

    @property
    def coordinates(self) -> Any:
        return self.value["coordinates"]

    def __repr__(self) -> str:
        return (f"GeoQuery(georel={self.georel!r}, geometry={self.geometry!r}, "
                f"coordinates={self.coordinates!r}, geoproperty={self.geoproperty!r})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GeoQuery) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        """The subscription-body form (§5.2.13 GeoQuery); coordinates as a JSON array."""
        return {"georel": self.georel, "geometry": self.geometry,
                "coordinates": copy.deepcopy(self.coordinates), "geoproperty": self.geoproperty}

    def bbox(self) -> tuple[float, float, float, float]:
        """A lon/lat box that every matching geometry intersects (R*Tree prefilter).

        within/equals matches lie inside it; contains/intersects/overlaps matches touch it;
        near;maxDistance grows it by the distance; disjoint and minDistance give the world.
        """
        return self._bbox

    def _compute_bbox(self) -> tuple[float, float, float, float]:
        if self.relation in ("disjoint", "minDistance"):
            return WORLD
        x0, y0, x1, y1 = geometry_bbox(self.value)
        if self.relation != "maxDistance":
            return x0, y0, x1, y1
        assert self.distance is not None
        # Angular radius on a sphere no larger than the ellipsoid anywhere, plus 1% margin.
        c = self.distance / MIN_RADIUS * 1.01
        dlat = math.degrees(c)
        poleward = math.radians(max(abs(y0), abs(y1)))
        y0, y1 = y0 - dlat, y1 + dlat
        if y0 <= -90.0 or y1 >= 90.0 or c >= math.pi / 2:
            return -180.0, max(y0, -90.0), 180.0, min(y1, 90.0)
        # Widest longitude offset of a spherical cap of radius c centred at the box's poleward
        # latitude: asin(sin c / cos lat).
        s = math.sin(c) / math.cos(poleward)
        if s >= 1.0:
            return -180.0, y0, 180.0, y1
        dlon = math.degrees(math.asin(s)) * 1.01
        x0, x1 = x0 - dlon, x1 + dlon
        if x0 < -180.0 or x1 > 180.0:  # crosses the antimeridian: the box cannot wrap
            return -180.0, y0, 180.0, y1
        return x0, y0, x1, y1

    def matches(self, geometry: dict[str, Any]) -> bool:
        """Whether a GeoProperty value (a GeoJSON geometry dict) satisfies the query.

        Values are assumed validated on write; anything malformed is non-matching, not an error.
        """
        try:
            gtype = geometry["type"]
            if gtype == "Point":
                c = geometry["coordinates"]
                return self._match_point(float(c[0]), float(c[1]))
            if (self.relation == "equals" and gtype == self.geometry
                    and geometry["coordinates"] == self.value["coordinates"]):
                return True
            g = shape(geometry)
            if gtype in ("Polygon", "MultiPolygon") and not g.is_valid:
                # self-intersecting rings give undefined DE-9IM answers: test the repaired form
                g = repaired(g)
            return self._relate(g)
        except _FAILURES:
            return False

    def _match_point(self, x: float, y: float) -> bool:
        rel, q = self.relation, self._reference()
        if rel == "maxDistance" or rel == "minDistance":
            if self._point is not None:
                d = point_distance(self._point[0], self._point[1], x, y)
            else:
                if rel == "maxDistance":
                    bx0, by0, bx1, by1 = self._bbox
                    if not (bx0 <= x <= bx1 and by0 <= y <= by1):
                        return False
                d = geometry_distance(self._dense, shapely.Point(x, y))
            return d <= self.distance if rel == "maxDistance" else d >= self.distance  # type: ignore[operator]
        if rel == "within":
            return bool(shapely.contains_xy(q, x, y))
        if rel == "intersects":
            return bool(shapely.intersects_xy(q, x, y))
        if rel == "disjoint":
            return not shapely.intersects_xy(q, x, y)
        return self._relate(shapely.Point(x, y))

    def _relate(self, g: BaseGeometry) -> bool:
        rel, q = self.relation, self._reference()
        if rel == "within":
            return bool(shapely.contains(q, g))
        if rel == "contains":
            return bool(shapely.within(q, g))
        if rel == "intersects":
            return bool(shapely.intersects(q, g))
        if rel == "disjoint":
            return not shapely.intersects(q, g)
        if rel == "overlaps":
            return bool(shapely.overlaps(q, g))
        if rel == "equals":
            return bool(shapely.equals(q, g))
        if rel == "maxDistance":
            x0, y0, x1, y1 = g.bounds
            bx0, by0, bx1, by1 = self._bbox
            if x0 > bx1 or x1 < bx0 or y0 > by1 or y1 < by0:
                return False
        d = geometry_distance(self._dense, g)
        return d <= self.distance if rel == "maxDistance" else d >= self.distance  # type: ignore[operator]
