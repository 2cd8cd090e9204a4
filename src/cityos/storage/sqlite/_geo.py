"""R*Tree index over the bounding boxes of GeoProperty instances (prefilter for geo-queries).

Entry ids are `rid * GEO_SLOTS + n`, so an entity's entries are found without a mapping table.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

GEO_SLOTS = 4096  # at most this many GeoProperty instances of one entity are indexed


def _positions(coords: Any) -> Iterator[tuple[float, float]]:
    if isinstance(coords, list) and coords and isinstance(coords[0], int | float):
        yield float(coords[0]), float(coords[1])
    elif isinstance(coords, list):
        for part in coords:
            yield from _positions(part)


def bbox(geometry: Any) -> tuple[float, float, float, float] | None:
    if not isinstance(geometry, dict):
        return None
    points = list(_positions(geometry.get("coordinates")))
    if not points:
        return None
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def _entries(entity: dict[str, Any] | None) -> list[tuple[str, tuple[float, float, float, float]]]:
    if not entity:
        return []
    out = []
    for attr, instances in entity.get("attrs", {}).items():
        for inst in instances:
            if inst.get("type") == "GeoProperty":
                box = bbox(inst.get("value"))
                if box is not None:
                    out.append((attr, box))
    return out[:GEO_SLOTS]


def index(conn: sqlite3.Connection, rid: int, entity: dict[str, Any]) -> None:
    rows = [(rid * GEO_SLOTS + n, b[0], b[2], b[1], b[3], attr)
            for n, (attr, b) in enumerate(_entries(entity))]
    if rows:
        conn.executemany(
            "INSERT INTO geo_rtree (gid, minx, maxx, miny, maxy, attr) VALUES (?, ?, ?, ?, ?, ?)", rows)


def geo_values(entity: dict[str, Any]) -> list[tuple[str, Any]]:
    """The GeoProperty values of an entity: when equal, its index entries are unchanged."""
    return [(attr, inst.get("value")) for attr, instances in entity.get("attrs", {}).items()
            for inst in instances if inst.get("type") == "GeoProperty"]


def unindex_first(conn: sqlite3.Connection, rid: int, count: int) -> None:
    """Remove entity `rid`'s entries, of which there are at most `count` (its GeoProperties).

    By entry id, not by a range: the R*Tree answers rowid equality from its index only.
    """
    if count:
        conn.executemany("DELETE FROM geo_rtree WHERE gid = ?",
                         [(rid * GEO_SLOTS + n,) for n in range(min(count, GEO_SLOTS))])


def bbox_clause(box: tuple[float, float, float, float], attr: str | None) -> tuple[str, list[Any]]:
    minx, miny, maxx, maxy = box
    attr_clause = " AND attr = ?" if attr else ""
    clause = (f"e.rid IN (SELECT gid / {GEO_SLOTS} FROM geo_rtree WHERE minx <= ? AND maxx >= ? "
              f"AND miny <= ? AND maxy >= ?{attr_clause})")
    params: list[Any] = [maxx, minx, maxy, miny]
    if attr:
        params.append(attr)
    return clause, params
