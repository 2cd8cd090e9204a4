"""The HTTP side of distributed retrieval and query: which sources to ask for this request,
and the local answer merged with theirs (cityos.ngsi.federation does the asking). What the
sources answer passes the same personal-data filter as local rows (issue 6, `Store.screen`)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from starlette.requests import Request

from cityos.ngsi.api.release import principal_sub, reader_of
from cityos.ngsi.api.request import bool_param, tenant_of
from cityos.ngsi.api.selection import Selection
from cityos.ngsi.broker import Broker
from cityos.ngsi.federation import (
    Doc,
    forward_headers,
    gather,
    how,
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
                                           sel.id_pattern, attrs, principal_sub(request))


def narrowed(request: Request, reg: Doc, ctx: Any) -> list[list[tuple[str, str]]]:
    """The query as each matching RegistrationInfo of `reg` can answer it: its entity types
    and ids, the asked attributes it registers (§4.3.6.3); the rest of the query as asked."""
    asked_attrs = [a for part in request.query_params.getlist("attrs")
                   for a in part.split(",") if a]
    rest = [(k, v) for k, v in _params(request) if k not in ("type", "id", "attrs")]
    out = []
    for info in reg["information"]:
        names = [ctx.compact_iri(n) for n in (*info.get("propertyNames", ()),
                                              *info.get("relationshipNames", ()))]
        attrs = [a for a in asked_attrs if a in names] if asked_attrs and names else \
            asked_attrs or names
        if asked_attrs and names and not attrs:
            continue
        selectors = info.get("entities") or ()
        types = sorted({ctx.compact_iri(sel["type"]) for sel in selectors})
        ids = sorted({sel["id"] for sel in selectors if "id" in sel})
        params: list[tuple[str, str]] = []
        type_param = ",".join(types) or request.query_params.get("type")
        if type_param:
            params.append(("type", type_param))
        id_param = ",".join(ids) or request.query_params.get("id")
        if id_param:
            params.append(("id", id_param))
        if attrs:
            params.append(("attrs", ",".join(attrs)))
        out.append([*params, *rest])
    return out


async def merge_query(request: Request, broker: Broker, sources: list[Doc], ctx: Any,
                      local: list[Doc], want: int) -> tuple[list[Doc], str | None]:
    """Local entities and the sources' answers to the same query, narrowed per registration."""
    headers = forward_headers(request.headers, tenant_of(request))
    asks = [_ask(broker, reg, params, headers, ctx)
            for reg in sources for params in narrowed(request, reg, ctx)]
    pairs: list[tuple[Doc, Doc]] = []
    failed: list[str] = []
    for got, bad in await asyncio.gather(*asks):  # every source at once
        pairs += got
        failed += bad
    found = await _screened(request, broker, tenant_of(request), merged(local, pairs))
    return found, warning(failed) if failed else None


async def _screened(request: Request, broker: Broker, tenant: str,
                    entities: list[Doc]) -> list[Doc]:
    """The merged answer as the caller may see it (personal data: issue 6)."""
    return await broker.store.screen(tenant, entities, reader_of(request))


def as_query(params: list[tuple[str, str]]) -> Doc:
    """GET /entities parameters as the Query object of POST /entityOperations/query."""
    given = dict(params)
    ids = given.get("id", "").split(",") if given.get("id") else [None]
    types = given.get("type", "").split(",") if given.get("type") else [None]
    entities = [{k: v for k, v in (("type", t), ("id", i)) if v} for t in types for i in ids]
    query: Doc = {"type": "Query", "entities": [e for e in entities if e]}
    if given.get("attrs"):
        query["attrs"] = given["attrs"].split(",")
    for name in ("q", "scopeQ"):
        if name in given:
            query[name] = given[name]
    if "georel" in given:
        query["geoQ"] = {k: given[k] for k in ("georel", "geometry", "coordinates",
                                               "geoproperty") if k in given}
    return query


def _ask(broker: Broker, reg: Doc, params: list[tuple[str, str]], headers: dict[str, str],
         ctx: Any) -> Any:
    parse = lambda items: to_internal(items, ctx)  # noqa: E731 - one use, reads best inline
    if how(reg, "query") == "batch":
        return gather(broker.federation, [reg], "/ngsi-ld/v1/entityOperations/query", [],
                      headers, parse, body=as_query(params))
    return gather(broker.federation, [reg], "/ngsi-ld/v1/entities", params, headers, parse)


async def retrieve_from_sources(request: Request, broker: Broker, tenant: str, entity_id: str,
                                ctx: Any, local: Doc | None) -> tuple[Doc | None, str | None]:
    """The entity merged with what the sources that may hold it have of it."""
    if not _wanted(request):
        return local, None
    type_param = request.query_params.get("type")
    types = {ctx.expand_term(t) for t in type_param.split(",")} if type_param else None
    sources = await broker.federation.sources(tenant, "retrieve", types, {entity_id}, None,
                                              None, principal_sub(request))
    if not sources:
        return local, None
    headers = forward_headers(request.headers, tenant_of(request))
    path = f"/ngsi-ld/v1/entities/{quote(entity_id, safe=':')}"
    asks = []
    for reg in sources:
        if how(reg, "retrieve") == "get":
            asks.append(gather(broker.federation, [reg], path, _params(request), headers,
                               lambda items: to_internal(items, ctx)))
        else:  # a source that only answers queries: ask for its entities of the type
            names = sorted({ctx.compact_iri(sel["type"]) for info in reg["information"]
                            for sel in info.get("entities") or ()})
            params = [("type", ",".join(names))] if names else [("id", entity_id)]
            if how(reg, "retrieve") == "batch":
                params = [*params, ("id", entity_id)]
            asks.append(_ask(broker, reg, params, headers, ctx))
    pairs = []
    failed: list[str] = []
    for got, bad in await asyncio.gather(*asks):
        pairs += got
        failed += bad
    pairs = [(reg, e) for reg, e in pairs if e["id"] == entity_id]
    found = await _screened(request, broker, tenant,
                            merged([local] if local is not None else [], pairs))
    return (found[0] if found else None), (warning(failed) if failed else None)


async def batch_query_sources(request: Request, broker: Broker, tenant: str, sel: Selection,
                              query: Doc, ctx: Any, local: list[Doc]
                              ) -> tuple[list[Doc], str | None]:
    """POST /entityOperations/query: the same Query object to the sources that take one,
    the equivalent GET /entities to the others."""
    if not _wanted(request):
        return local, None
    selectors = sel.any_of or [sel]
    types = {ctx.expand_term(s.type) for s in selectors if s.type} or None
    ids = {i for s in selectors for i in s.ids or ()} or None
    attrs = {ctx.expand_term(a) for a in sel.attrs or ()} or None
    sources = await broker.federation.sources(tenant, "query", types, ids, None, attrs,
                                              principal_sub(request))
    if not sources:
        return local, None
    headers = forward_headers(request.headers, tenant_of(request))
    parse = lambda items: to_internal(items, ctx)  # noqa: E731
    asks = []
    for reg in sources:
        if how(reg, "query") == "batch":
            asks.append(gather(broker.federation, [reg], "/ngsi-ld/v1/entityOperations/query",
                               [], headers, parse, body=query))
        else:
            for s in selectors:
                params = [(k, v) for k, v in (("type", s.type), ("id", ",".join(s.ids or ())),
                                              ("attrs", ",".join(sel.attrs or ())),
                                              ("q", sel.q)) if v]
                asks.append(gather(broker.federation, [reg], "/ngsi-ld/v1/entities", params,
                                   headers, parse))
    pairs: list[tuple[Doc, Doc]] = []
    failed: list[str] = []
    for got, bad in await asyncio.gather(*asks):
        pairs += got
        failed += bad
    found = await _screened(request, broker, tenant, merged(local, pairs))
    return found, warning(failed) if failed else None
