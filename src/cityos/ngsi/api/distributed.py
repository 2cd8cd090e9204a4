"""The HTTP side of distributed retrieval and query: which sources to ask for this request,
and the local answer merged with theirs (cityos.ngsi.federation does the asking)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request

from cityos.ngsi.api.request import bool_param
from cityos.ngsi.api.selection import Selection
from cityos.ngsi.broker import Broker
from cityos.ngsi.federation import (
    Doc,
    forward_headers,
    gather,
    merged,
    seen_by_us,
    to_internal,
    warning,
)

# what the sources are asked for: entities in full (normalized), filtered as here
_NOT_FORWARDED = frozenset({"options", "format", "pick", "omit", "join", "joinLevel", "lang",
                            "limit", "offset", "count", "local", "geometryProperty",
                            "datasetId"})


def _wanted(request: Request) -> bool:
    return not bool_param(request, "local") and not seen_by_us(request.headers.get("via"))


def _params(request: Request) -> list[tuple[str, str]]:
    return [(k, v) for k, v in request.query_params.multi_items() if k not in _NOT_FORWARDED]


async def query_sources(request: Request, broker: Broker, tenant: str, sel: Selection,
                        ctx: Any) -> list[Doc]:
    """The registrations a GET /entities should ask too ([] when local or none match)."""
    if sel.any_of or not _wanted(request):
        return []
    text = sel.type or ""
    # a list of types (`A,B` or `A|B`) narrows the sources; a type expression with `;` or
    # parentheses is left to the sources themselves
    types = None
    if text and not any(c in text for c in ";()"):
        types = {ctx.expand_term(t.strip()) for t in text.replace("|", ",").split(",")
                 if t.strip()}
    attrs = {ctx.expand_term(a) for a in sel.attrs or ()} or None
    return await broker.federation.sources(tenant, "query", types, set(sel.ids or ()) or None,
                                           sel.id_pattern, attrs)


async def merge_query(request: Request, broker: Broker, sources: list[Doc], ctx: Any,
                      local: list[Doc], want: int) -> tuple[list[Doc], str | None]:
    """Local entities and the sources' answers to the same query (the first `want` of each)."""
    params = [*_params(request), ("limit", str(min(max(want, 1), broker.settings.max_limit)))]
    pairs, failed = await gather(broker.federation, sources, "/ngsi-ld/v1/entities", params,
                                 forward_headers(request.headers),
                                 lambda items: to_internal(items, ctx))
    return merged(local, pairs), warning(failed) if failed else None


async def retrieve_from_sources(request: Request, broker: Broker, tenant: str, entity_id: str,
                                ctx: Any, local: Doc | None) -> tuple[Doc | None, str | None]:
    """The entity merged with what the sources that may hold it have of it."""
    if not _wanted(request):
        return local, None
    type_param = request.query_params.get("type")
    types = {ctx.expand_term(t) for t in type_param.split(",")} if type_param else None
    sources = await broker.federation.sources(tenant, "retrieve", types, {entity_id}, None,
                                              None)
    if not sources:
        return local, None
    path = f"/ngsi-ld/v1/entities/{quote(entity_id, safe=':')}"
    pairs, failed = await gather(broker.federation, sources, path, _params(request),
                                 forward_headers(request.headers),
                                 lambda items: to_internal(items, ctx))
    pairs = [(reg, e) for reg, e in pairs if e["id"] == entity_id]
    found = merged([local] if local is not None else [], pairs)
    return (found[0] if found else None), (warning(failed) if failed else None)
