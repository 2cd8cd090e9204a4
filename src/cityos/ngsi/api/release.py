"""Who reads and writes on the NGSI paths, as the store checks it, and what was released.

The store filters every read by the request's `Reader` (issue 6: residents' consents, made
by personal/ through `ports.Readers`; issue 18: the Caller's read grants) and checks every
write against its `Writer` (the owner of what it creates, the Caller's write grants); the
data tracker hears what was released to whom.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from starlette.requests import Request

from cityos.audit.trail import PRINCIPAL
from cityos.caller import caller_of
from cityos.ngsi.ports import readers_of, tracker_of
from cityos.storage.base import Reader, Writer

_READER = "cityos.reader"  # scope key: one Reader per request


def reader_of(request: Request) -> Reader:
    """The Reader of the calling principal (deny by default: non-personal rows only), with
    the entity types the gate's Caller may read (an organisation without a Caller: none)."""
    reader = request.scope.get(_READER)
    if reader is None:
        reader = readers_of(request.app.state).reader_for(request)
        types = _granted(request, "reads")
        if types is not None:
            reader = replace(reader, types=types)
        request.scope[_READER] = reader
    return reader  # type: ignore[no-any-return]


def write_reader_of(request: Request) -> Reader:
    """The Reader for finding what a write changes (NGSI v2: what it may not see it may not
    change): the caller's consents with its write grants in place of its read grants — a
    company granted to write a type but not to read it may still update what it wrote."""
    return replace(reader_of(request), types=_granted(request, "writes"))


def _granted(request: Request, mode: str) -> frozenset[str] | None:
    caller = caller_of(request.scope)
    if caller is not None:
        return caller.reads if mode == "reads" else caller.writes
    return frozenset() if principal_sub(request).startswith("org:") else None


def principal_sub(request: Request) -> str:
    """`org:CLIENT_ID`, `resident:res_…`, `staff:NAME`; "" without a principal (open NGSI)."""
    principal = request.scope.get(PRINCIPAL)
    return "" if principal is None else str(principal.sub)


def writer_of(request: Request) -> Writer:
    """Who writes, as the store checks it (issue 18): the principal's sub with the entity
    types the gate's Caller may write (an organisation without a Caller: none)."""
    return Writer(principal_sub(request), _granted(request, "writes"))


def released(request: Request, tenant: str, entities: list[dict[str, Any]], via: str) -> None:
    """Tell the data tracker which entities this response carries (it keeps the personal)."""
    if entities:
        tracker_of(request.app.state).released(principal_sub(request), tenant, entities,
                                               purpose=reader_of(request).purpose, via=via)
