"""The attribute-value index (`attr_values`, migration 13): `q` comparisons answered by SQLite.

One row per attribute instance of a non-personal entity: (attribute IRI, rid, instance
number, value), the value kept when it is a plain number or string and NULL otherwise
(arrays, objects, booleans, Relationships, LanguageProperties …: left to the exact
predicate, so a NULL row always passes). Writes keep it current here (`reindex`); the
schema's triggers drop an entity's rows when it is deleted or turns personal (personal rows
are sealed: their values never leave the sealed body) and index it again when it turns
non-personal.

A comparison becomes a test on the primary key (`clause`): per candidate row, one seek on
(attr, rid) instead of decoding the document in Python; and a selective comparison
(`selective`: one pass over the attribute's rows in C) lists the few rids that can match.
There is no (attr, val) index on purpose: each PATCH would move an entry of it to another
page, a third dirty page for every changed value (docs/decisions/0011).
SQLite orders NULL < numbers < text, so a numeric range needs `val < ''` to stay off the
strings, and no text ever equals a number.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from cityos.storage.base import AttrFilter, Entity

Values = dict[str, tuple[Any, ...]]  # attribute IRI -> each instance's indexed value
_INT_MIN, _INT_MAX = -(1 << 63), (1 << 63) - 1


def _value(instance: dict[str, Any]) -> Any:
    value = instance.get("value")
    kind = type(value)
    if kind is float or kind is str:
        return value
    if kind is int and _INT_MIN <= value <= _INT_MAX:  # type: ignore[operator]  # an int here
        return value
    return None  # bool, list, dict, absent, an integer SQLite cannot hold: undecided


def of(entity: Entity) -> Values:
    """What the index holds for `entity` (taken before a mutation may change it in place)."""
    return {attr: tuple(_value(i) for i in instances)
            for attr, instances in entity.get("attrs", {}).items()}


def reindex(conn: sqlite3.Connection, rid: int, old: Values | None, new: Values) -> None:
    """Bring a non-personal entity's rows from `old` (None: none yet) to `new`: only the
    values that changed are written (1 and 1.0 differ: SQLite keeps INTEGER and REAL)."""
    rows: list[tuple[int, str, int, Any]] = []
    for attr, values in new.items():
        before = None if old is None else old.get(attr)
        if before is not None:
            if len(before) == len(values):  # the usual update: values in place
                changed = [(v, rid, attr, n)
                           for n, (u, v) in enumerate(zip(before, values, strict=True))
                           if u != v or type(u) is not type(v)]
                if changed:
                    conn.executemany("UPDATE attr_values SET val = ? "
                                     "WHERE rid = ? AND attr = ? AND n = ?", changed)
                continue
            conn.execute("DELETE FROM attr_values WHERE rid = ? AND attr = ?", (rid, attr))
        rows += [(rid, attr, n, v) for n, v in enumerate(values)]
    if old is not None:
        for attr in old.keys() - new.keys():
            conn.execute("DELETE FROM attr_values WHERE rid = ? AND attr = ?", (rid, attr))
    if rows:
        conn.executemany("INSERT INTO attr_values (rid, attr, n, val) VALUES (?, ?, ?, ?)", rows)


# --- reading ------------------------------------------------------------------------------

_RANGE = {"<": "val < ?", "<=": "val <= ?", ">": "val > ? AND val < ''",
          ">=": "val >= ? AND val < ''"}


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and (
        not isinstance(v, int) or _INT_MIN <= v <= _INT_MAX)


def test(f: AttrFilter) -> tuple[str, list[Any]] | None:
    """The condition on `val` for `f` (over the rows of one attribute), or None when the
    index cannot decide it (the engine then leaves `f` to the JSON prefilter or Python)."""
    if f.op in _RANGE and _number(f.value):
        return _RANGE[f.op], [f.value]
    if f.op == "==" and (_number(f.value) or isinstance(f.value, str)):
        return "val = ?", [f.value]
    if f.op == "in" and f.value and all(_number(v) or isinstance(v, str) for v in f.value):
        return f"val IN ({','.join('?' * len(f.value))})", list(f.value)
    if f.op == "range" and len(f.value) == 2 and all(_number(v) for v in f.value):
        return "val BETWEEN ? AND ?", list(f.value)
    return None


def clause(f: AttrFilter, alias: str = "e") -> tuple[str, list[Any]] | None:
    """SQL over `alias`: some instance of the attribute may satisfy `f` (a necessary
    condition, one seek on the primary key); None when the index cannot decide `f`."""
    found = test(f)
    if found is None:
        return None
    cond, params = found
    return (f"EXISTS (SELECT 1 FROM attr_values v WHERE v.rid = {alias}.rid AND v.attr = ? "
            f"AND (v.val IS NULL OR ({cond.replace('val', 'v.val')})))", [f.attr, *params])


# A comparison matching at most SELECTIVE rows drives its query from the (attr, val) index;
# beyond that the query's own driver (type, ids, geo) reads rows in order and seeks each.
SELECTIVE = 2000
_BROAD_FOR = 5.0  # seconds a comparison found broad is not probed again (a plan choice only)
_broad: dict[tuple[Any, ...], float] = {}


def selective(conn: sqlite3.Connection, filters: list[AttrFilter]) -> list[int] | None:
    """The sorted rids that may satisfy the most selective of `filters`, when one of them
    matches at most SELECTIVE rows (of any tenant); None when none does."""
    best: list[int] | None = None
    now = time.monotonic()
    for f in filters:
        found = test(f)
        if found is None:
            continue
        key = (f.attr, f.op, repr(f.value))
        if _broad.get(key, 0.0) > now:
            continue
        cond, params = found
        rids = [r for (r,) in conn.execute(
            f"SELECT rid FROM attr_values WHERE attr = ? AND (val IS NULL OR ({cond})) LIMIT ?",
            [f.attr, *params, SELECTIVE + 1])]
        if len(rids) > SELECTIVE:
            if len(_broad) > 4096:
                _broad.clear()
            _broad[key] = now + _BROAD_FOR
            continue
        if best is None or len(rids) < len(best):
            best = rids
    return None if best is None else sorted(set(best))
