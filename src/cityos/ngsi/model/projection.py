"""The `pick` and `omit` projection language: `id,name,locatedAt{name,isInCountry{name}}`.

ETSI GS CIM 009 v1.8 §4.21 (projection of entity members, nested for linked entities §4.5.23).
"""

from __future__ import annotations

from cityos.ngsi.errors import BadRequestData
from cityos.ngsi.model.terms import is_valid_name

# member name -> projection of the entity it links to (None: the member alone)
Projection = dict[str, "Projection | None"]

_SPECIAL = ",{}"


def parse_projection(text: str, param: str) -> Projection:
    """Parse a pick/omit expression; BadRequestData names the parameter and the position."""
    result, pos = _parse_list(text, 0, param)
    if pos != len(text):
        raise BadRequestData(f"{param}: unexpected {text[pos]!r} at position {pos}")
    return result


def _parse_list(text: str, pos: int, param: str) -> tuple[Projection, int]:
    items: Projection = {}
    while True:
        start = pos
        while pos < len(text) and text[pos] not in _SPECIAL:
            pos += 1
        name = text[start:pos].strip()
        if not name:
            raise BadRequestData(f"{param}: a member name is missing at position {start}")
        if not is_valid_name(name):
            raise BadRequestData(f"{param}: {name[:100]!r} is not a valid member name")
        sub: Projection | None = None
        if pos < len(text) and text[pos] == "{":
            sub, pos = _parse_list(text, pos + 1, param)
            if pos >= len(text) or text[pos] != "}":
                raise BadRequestData(f"{param}: '{{' after {name!r} is not closed")
            pos += 1
        items[name] = sub
        if pos < len(text) and text[pos] == ",":
            pos += 1
            continue
        return items, pos


def nesting(projection: Projection | None) -> int:
    """How many relationship hops a projection reaches into linked entities."""
    if not projection:
        return 0
    return max((1 + nesting(sub) for sub in projection.values() if sub is not None), default=0)
