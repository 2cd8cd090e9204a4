"""Who reads personal rows: the storage `Reader` for the calling principal (issue 6).

Organisations read their own rows and consented ones (under the purpose they declare with
`Cityos-Purpose`), residents their own; everyone else (staff, open NGSI) non-personal rows only.
"""

from __future__ import annotations

from starlette.requests import Request

from cityos.audit.trail import PRINCIPAL
from cityos.storage.base import Reader

PURPOSE_HEADER = "cityos-purpose"
_NOBODY = Reader()


def reader_for(request: Request) -> Reader:
    """The Reader of the principal the gate left on `request` (deny by default)."""
    principal = request.scope.get(PRINCIPAL)
    if principal is None:
        return _NOBODY
    kind, _, name = principal.sub.partition(":")
    if kind == "org":
        return Reader(org=principal.sub, purpose=request.headers.get(PURPOSE_HEADER) or None)
    if kind == "resident":
        return Reader(residents=(name,))
    return _NOBODY
