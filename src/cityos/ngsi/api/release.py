"""Personal data on the NGSI-LD paths (issue 6): who reads (the store filters by it), who
writes (the owner of what it creates), and what was released to whom (the data tracker).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from cityos.audit.trail import PRINCIPAL
from cityos.caller import caller_of
from cityos.personal.hooks import tracker_of
from cityos.personal.reader import reader_for
from cityos.storage.base import Reader, Writer

_READER = "cityos.reader"  # scope key: one Reader per request


def reader_of(request: Request) -> Reader:
    """The Reader of the calling principal (deny by default: non-personal rows only)."""
    reader = request.scope.get(_READER)
    if reader is None:
        reader = request.scope[_READER] = reader_for(request)
    return reader  # type: ignore[no-any-return]


def principal_sub(request: Request) -> str:
    """`org:CLIENT_ID`, `resident:res_…`, `staff:NAME`; "" without a principal (open NGSI)."""
    principal = request.scope.get(PRINCIPAL)
    return "" if principal is None else str(principal.sub)


def writer_of(request: Request) -> Writer:
    """Who writes, as the store checks it (issue 18): the principal's sub with the entity
    types the gate's Caller may write (an organisation without a Caller: none)."""
    sub = principal_sub(request)
    caller = caller_of(request.scope)
    if caller is not None:
        return Writer(sub, caller.writes)
    return Writer(sub, frozenset() if sub.startswith("org:") else None)


def released(request: Request, tenant: str, entities: list[dict[str, Any]], via: str) -> None:
    """Tell the data tracker which entities this response carries (it keeps the personal)."""
    if entities:
        tracker_of(request.app.state).released(principal_sub(request), tenant, entities,
                                               purpose=reader_of(request).purpose, via=via)
