"""Purging entities: DELETE /ngsi-ld/v1/entities with a selection, or only some attributes.

ETSI GS CIM 009 §5.6.21 (purge entities; keep/drop and the qualifying filters as in v1.9.1).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cityos.ngsi.api.entities import broker_of
from cityos.ngsi.api.release import reader_of, writer_of
from cityos.ngsi.api.request import bool_param, link_context, split_list, tenant_of
from cityos.ngsi.api.respond import no_content
from cityos.ngsi.api.selection import selection_from_params, to_store_query
from cityos.ngsi.errors import BadRequestData
from cityos.ngsi.model.terms import SYSTEM_ATTRS, now_iso
from cityos.storage.base import KEEP


async def purge_entities(request: Request) -> Response:
    """DELETE /entities with a selection (§5.6.21 purge); keep/drop purge attributes only."""
    broker = broker_of(request)
    tenant = tenant_of(request)
    ctx = await broker.context(link_context(request))
    params = request.query_params
    sel = selection_from_params(params)
    keep, drop = split_list(params.get("keep")), split_list(params.get("drop"))
    if keep is not None and drop is not None:
        raise BadRequestData("keep and drop cannot be used together")
    if (sel.q and "{" in sel.q) or any("{" in a for a in sel.attrs or ()):
        raise BadRequestData("purging cannot select through linked entities")
    if not (sel.type or sel.attrs or (sel.q and _names_attributes(sel.q)) or sel.georel
            or bool_param(request, "local")):
        raise BadRequestData("purging entities needs type, attrs, q over attributes or a "
                             "geo-query, or local=true")
    query = to_store_query(sel, ctx, limit=1 << 62, offset=0, count=False)
    query.reader = reader_of(request)  # the personal rows the caller may see, and only those
    if keep is None and drop is None:
        await broker.store.purge_entities(tenant, query, writer=writer_of(request))
        return no_content()
    found = await broker.store.query_entities(tenant, query)
    names = {ctx.expand_term(n) for n in (keep or drop or ())}
    now = now_iso()

    def prune(cur: dict[str, Any] | None) -> tuple[Any, Any]:
        if cur is None:
            return KEEP, None
        attrs = {k: v for k, v in cur.get("attrs", {}).items()
                 if (k in names) == (keep is not None)}
        return {**cur, "attrs": attrs, "modifiedAt": now}, None

    await broker.store.mutate(tenant, [(e["id"], prune) for e in found.entities],
                              writer=writer_of(request))
    return no_content()


_Q_NAME = re.compile(r"([A-Za-z_@][^\s=!<>~;|()\[\]{}.\"']*)")


def _names_attributes(q: str) -> bool:
    """Whether a q expression names at least one attribute that is not a system one."""
    names = [m for m in _Q_NAME.findall(re.sub(r'"[^"]*"', "", q))
             if m not in ("true", "false", "null")]
    return any(name not in SYSTEM_ATTRS for name in names)
