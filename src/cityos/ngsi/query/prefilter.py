"""Necessary conditions a store can check before the exact `q` predicate (ETSI GS CIM 009 §4.9).

Only the top-level AND of plain comparisons on an attribute's own value becomes an
`AttrFilter`; everything else is left to the predicate, so results never change.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from cityos.ngsi.query.q import AttrPath, Comparison, Exists, QExpr, Range
from cityos.storage.base import AttrFilter

# names q reads from the entity itself, not from an attribute
_ENTITY_NAMES = frozenset({"id", "type", "createdAt", "modifiedAt", "deletedAt", "scope"})
# a quoted literal that q may compare as a date or time rather than as text
_TEMPORAL_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}|^\d{2}:\d{2}")


def _plain(path: AttrPath) -> bool:
    return (len(path.names) == 1 and not path.members and path.linked is None
            and path.names[0] not in _ENTITY_NAMES)


def _number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def attr_filters(q: QExpr, expand: Callable[[str], str]) -> list[AttrFilter]:
    out: list[AttrFilter] = []
    for term in q.conjuncts():
        if isinstance(term, Exists) and not term.negated and _plain(term.path):
            out.append(AttrFilter(expand(term.path.names[0]), "exists"))
        elif isinstance(term, Comparison) and _plain(term.path):
            attr = expand(term.path.names[0])
            v = term.value
            if term.op in ("==", "<", "<=", ">", ">=") and _number(v):
                out.append(AttrFilter(attr, term.op, v))
            elif term.op == "==" and isinstance(v, str) and not _TEMPORAL_TEXT.match(v):
                out.append(AttrFilter(attr, "==", v))
            elif term.op == "==" and isinstance(v, tuple) and v and all(map(_number, v)):
                out.append(AttrFilter(attr, "in", v))
            elif term.op == "==" and isinstance(v, Range) and _number(v.low) and _number(v.high):
                out.append(AttrFilter(attr, "range", (v.low, v.high)))
            else:
                out.append(AttrFilter(attr, "exists"))  # any comparison needs the attribute
    return out
