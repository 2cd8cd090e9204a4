"""SQL for `AttrFilter`s: reject rows in C (SQLite's JSON functions) before Python decodes them.

Each clause is a necessary condition only: the exact `predicate` still runs on what passes.
"""

from __future__ import annotations

from typing import Any

from cityos.storage.base import AttrFilter

_NUMERIC_OPS = {"==": "=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_INSTANCES = "json_each(CAST(e.doc AS TEXT), ?)"
# a value that is not a plain number or string is left to the exact predicate
_UNDECIDED = "IFNULL(json_type(j.value, '$.value'), 'none') NOT IN ('integer', 'real', 'text')"


def _path(attr: str) -> str:
    return '$.attrs."' + attr + '"'


def filter_sql(f: AttrFilter) -> tuple[str, list[Any]] | None:
    """The clause and its parameters, or None when this engine cannot use the filter."""
    if '"' in f.attr or "\\" in f.attr:
        return None
    path = _path(f.attr)
    if f.op == "exists":
        return "json_type(CAST(e.doc AS TEXT), ?) IS NOT NULL", [path]
    if f.op in _NUMERIC_OPS and _is_number(f.value):
        test, params = f"json_extract(j.value, '$.value') {_NUMERIC_OPS[f.op]} ?", [f.value]
        kind = "IN ('integer', 'real')"
    elif f.op == "==" and isinstance(f.value, str):
        test, params, kind = "json_extract(j.value, '$.value') = ?", [f.value], "= 'text'"
    elif f.op == "in" and f.value and all(_is_number(v) for v in f.value):
        marks = ",".join("?" * len(f.value))
        test, params = f"json_extract(j.value, '$.value') IN ({marks})", list(f.value)
        kind = "IN ('integer', 'real')"
    elif f.op == "range" and all(_is_number(v) for v in f.value):
        test, params = "json_extract(j.value, '$.value') BETWEEN ? AND ?", list(f.value)
        kind = "IN ('integer', 'real')"
    else:
        return None
    clause = (f"EXISTS (SELECT 1 FROM {_INSTANCES} AS j WHERE {_UNDECIDED} OR "
              f"(json_type(j.value, '$.value') {kind} AND {test}))")
    return clause, [path, *params]


def any_attr_sql(attrs: list[str]) -> tuple[str, list[Any]] | None:
    """The entity has at least one of `attrs` (the `attrs` parameter of a query)."""
    if not attrs or any('"' in a or "\\" in a for a in attrs):
        return None
    clause = " OR ".join("json_type(CAST(e.doc AS TEXT), ?) IS NOT NULL" for _ in attrs)
    return f"({clause})", [_path(a) for a in attrs]


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)
