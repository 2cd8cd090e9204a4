"""SQL for `AttrFilter`s over the JSONB document: reject rows in PostgreSQL before Python
decodes them. Each clause is a necessary condition only: the exact `predicate` still runs on
what passes (the same rules as the SQLite engine's `_filters`).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from cityos.storage.base import AttrFilter

_COMPARE = {"==": "=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
# a value that is not a plain number or string is left to the exact predicate
_UNDECIDED = "coalesce(jsonb_typeof(j->'value'), 'none') NOT IN ('number', 'string')"

Param = Callable[[Any], str]  # adds a parameter, returns its placeholder ($n)


def filter_sql(f: AttrFilter, param: Param) -> str | None:
    """The clause, or None when the filter cannot be expressed here (text holding U+0000,
    which PostgreSQL's text cannot: the exact predicate alone decides)."""
    if "\x00" in f.attr or (isinstance(f.value, str) and "\x00" in f.value):
        return None
    if f.op == "exists":
        return f"(e.doc->'attrs') ? {param(f.attr)}"
    if f.op in _COMPARE and _is_number(f.value):
        kind, test = "number", f"(j->'value')::numeric {_COMPARE[f.op]} {param(_num(f.value))}::numeric"
    elif f.op == "==" and isinstance(f.value, str):
        kind, test = "string", f"j->>'value' = {param(f.value)}"
    elif f.op == "in" and f.value and all(_is_number(v) for v in f.value):
        values = [_num(v) for v in f.value]
        kind, test = "number", f"(j->'value')::numeric = ANY({param(values)}::numeric[])"
    elif f.op == "range" and all(_is_number(v) for v in f.value):
        low, high = (_num(v) for v in f.value)
        kind, test = "number", (f"(j->'value')::numeric BETWEEN {param(low)}::numeric "
                                f"AND {param(high)}::numeric")
    else:
        return None
    return (f"EXISTS (SELECT 1 FROM jsonb_array_elements(e.doc->'attrs'->{param(f.attr)}) j "
            f"WHERE {_UNDECIDED} OR (jsonb_typeof(j->'value') = '{kind}' AND {test}))")


def any_attr_sql(attrs: list[str], param: Param) -> str | None:
    """The entity has at least one of `attrs` (the `attrs` parameter of a query)."""
    if not attrs or any("\x00" in a for a in attrs):
        return None
    return f"(e.doc->'attrs') ?| {param(list(attrs))}::text[]"


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _num(v: int | float) -> Decimal:
    """Exact, as Python compares: a float as its shortest repr, an int as it is."""
    return Decimal(v) if isinstance(v, int) else Decimal(repr(v))
