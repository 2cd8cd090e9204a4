"""Reading a JSON value from a request body, with bounds on its shape.

orjson parses up to 1,024 levels of nesting, but the broker's own code (JSON-LD expansion,
canonical forms, orjson's encoder at 255 levels) recurses over values: every body is read with
`loads`, which refuses a value nested more than `MAX_DEPTH` levels with a 400.
"""

from __future__ import annotations

from typing import Any

import orjson

from cityos.ngsi.errors import BadRequestData

MAX_DEPTH = 64  # levels of arrays and objects in one value (a batch: in each of its items)
INT64 = (-(2**63), 2**63 - 1)  # what SQLite and PostgreSQL bigint hold


class TooDeep(BadRequestData):
    """A JSON value nested more than `MAX_DEPTH` levels: a 400 wherever it is raised."""

    def __init__(self, limit: int = MAX_DEPTH) -> None:
        super().__init__(f"入れ子が深すぎます / nested too deeply (limit {limit} levels of "
                         "arrays and objects)")


def depth_over(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether `value` nests more than `limit` arrays/objects.

    Level by level, without recursion (about the cost of parsing the value again); each level
    keeps a container once, so that containers shared by YAML aliases are not walked twice.
    """
    level: list[Any] = [value] if type(value) is dict or type(value) is list else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        below: dict[int, Any] = {}
        for item in level:
            for child in (item.values() if type(item) is dict else item):
                if type(child) is dict or type(child) is list:
                    below[id(child)] = child
        level = list(below.values())
    return False


def check_depth(value: Any, limit: int = MAX_DEPTH) -> Any:
    """`value`, or `TooDeep` when it nests more than `limit` levels."""
    if depth_over(value, limit):
        raise TooDeep(limit)
    return value


def loads(raw: bytes | str, *, items: bool = False) -> Any:
    """`orjson.loads` and `check_depth` (an invalid document raises orjson.JSONDecodeError).

    `items`: an array's items are left for the caller to check one by one (a batch reports a
    too-deep item as that item's error and writes the others).
    """
    data = orjson.loads(raw)
    if items and isinstance(data, list):
        return data
    return check_depth(data)
