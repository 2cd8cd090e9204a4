"""NGSI v2's Simple Query Language (`q`, `mq`) and geographical queries, rewritten as NGSI-LD
query parameters so that one query engine serves both APIs.

v2: statements joined by `;` (and); `attr`, `!attr`, `attr OP value` with OP one of
`== != > < >= <= ~=`; values are numbers, true/false, dates, 'quoted' or bare strings,
ranges `a..b` and lists `a,b,c`; `attr.sub` reaches into a structured value (`q`) or names
a metadata (`mq`). NGSI-LD writes strings in double quotes, paths in brackets (`a[b]`) and
sub-attributes with a dot, which is how the rewrite spells them.
"""

from __future__ import annotations

import json
import re

from cityos.ngsi.v2.translate import V2Invalid

_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$")
_NAME = re.compile(r"^[A-Za-z0-9_\-:@#]+$")


def _split(text: str, sep: str) -> list[str]:
    """Split at `sep` outside single quotes."""
    parts: list[str] = []
    cur: list[str] = []
    quoted = False
    for ch in text:
        if ch == "'":
            quoted = not quoted
        if ch == sep and not quoted:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if quoted:
        raise V2Invalid("a quote (') is not closed")
    parts.append("".join(cur))
    return parts


def _literal(text: str) -> str:
    text = text.strip()
    if not text:
        raise V2Invalid("a comparison needs a value")
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return json.dumps(text[1:-1], ensure_ascii=False)
    if _NUMBER.match(text) or text in ("true", "false") or _DATE.match(text):
        return text
    if any(c in text for c in "\"'()|;<>=!~"):
        raise V2Invalid(f"value {text[:60]!r} has a forbidden character")
    return json.dumps(text, ensure_ascii=False)


def _value(op: str, text: str) -> str:
    if op in ("==", "!="):
        if ".." in text and not text.strip().startswith("'"):
            low, _, high = text.partition("..")
            return f"{_literal(low)}..{_literal(high)}"
        items = _split(text, ",")
        if len(items) > 1:
            return ",".join(_literal(i) for i in items)
    if op == "~=":
        return json.dumps(text.strip().strip("'"), ensure_ascii=False)
    return _literal(text)


def _path(text: str, *, meta: bool) -> str:
    parts = [p.strip() for p in text.strip().split(".")]
    for p in parts:
        if not _NAME.match(p):
            raise V2Invalid(f"{text.strip()[:60]!r} is not an attribute name or path")
    if meta:
        if len(parts) < 2:
            raise V2Invalid("mq names attribute.metadata")
        return f"{parts[0]}.{parts[1]}" + "".join(f"[{p}]" for p in parts[2:])
    return parts[0] + "".join(f"[{p}]" for p in parts[1:])


def to_ld_q(q: str | None, mq: str | None = None) -> str | None:
    """The NGSI-LD `q` for v2's `q` and `mq` (None when both are absent)."""
    out: list[str] = []
    for text, meta in ((q, False), (mq, True)):
        if text is None:
            continue
        for statement in _split(text, ";"):
            if not statement.strip():
                raise V2Invalid("an empty statement in q")
            out.append(_statement(statement, meta=meta))
    return ";".join(out) if out else None


def _statement(statement: str, *, meta: bool) -> str:
    for op in ("==", "!=", ">=", "<=", "~=", ">", "<"):
        head, found, rest = _partition_outside_quotes(statement, op)
        if found:
            return f"{_path(head, meta=meta)}{op}{_value(op, rest)}"
    text = statement.strip()
    negate = text.startswith("!")
    return ("!" if negate else "") + _path(text[1:] if negate else text, meta=meta)


def _partition_outside_quotes(text: str, op: str) -> tuple[str, bool, str]:
    quoted = False
    for i, ch in enumerate(text):
        if ch == "'":
            quoted = not quoted
        elif not quoted and text.startswith(op, i):
            if op in (">", "<") and text.startswith(op + "=", i):
                continue
            return text[:i], True, text[i + len(op):]
    return text, False, ""


# geographical queries ---------------------------------------------------------------------
def to_ld_geo(georel: str | None, geometry: str | None,
              coords: str | None) -> tuple[str, str, str] | None:
    """(georel, geometry, coordinates) in NGSI-LD form; v2 writes coordinates lat,lon."""
    given = [x is not None for x in (georel, geometry, coords)]
    if not any(given):
        return None
    if not all(given):
        raise V2Invalid("a geographical query needs georel, geometry and coords together")
    assert georel is not None and geometry is not None and coords is not None
    rel_parts = [p.strip() for p in georel.split(";")]
    rel = rel_parts[0]
    if rel not in ("near", "coveredBy", "intersects", "equals", "disjoint"):
        raise V2Invalid(f"unknown georel {rel[:40]!r}")
    for mod in rel_parts[1:]:
        name, _, value = mod.partition(":")
        if name not in ("maxDistance", "minDistance") or not _NUMBER.match(value):
            raise V2Invalid(f"unknown georel modifier {mod[:40]!r}")
        rel += f";{name}=={value}"
    if rel_parts[0] == "near" and len(rel_parts) < 2:
        raise V2Invalid("near needs maxDistance or minDistance")
    points = _points(coords)
    if geometry == "point":
        if len(points) != 1:
            raise V2Invalid("a point has one coordinate pair")
        return rel, "Point", json.dumps(points[0])
    if geometry == "line":
        return rel, "LineString", json.dumps(points)
    if geometry == "polygon":
        if len(points) < 4 or points[0] != points[-1]:
            raise V2Invalid("a polygon has at least 4 points, the last equal to the first")
        return rel, "Polygon", json.dumps([points])
    if geometry == "box":
        if len(points) != 2:
            raise V2Invalid("a box has two corners")
        (x1, y1), (x2, y2) = points
        ring = [[x1, y1], [x2, y1], [x2, y2], [x1, y2], [x1, y1]]
        return rel, "Polygon", json.dumps([ring])
    raise V2Invalid(f"unknown geometry {geometry[:40]!r}")


def _points(coords: str) -> list[list[float]]:
    out: list[list[float]] = []
    for pair in coords.split(";"):
        try:
            lat, lon = (float(p) for p in pair.split(","))
        except ValueError:
            raise V2Invalid("coords are 'lat,lon' pairs separated by ';'") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise V2Invalid("coords are out of range")
        out.append([lon, lat])
    return out


def type_list(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = [t.strip() for t in value.split(",") if t.strip()]
    if not items:
        raise V2Invalid("type must not be empty")
    return items
