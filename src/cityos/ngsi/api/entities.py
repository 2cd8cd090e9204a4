"""HTTP routes for entities and their attributes under /ngsi-ld/v1/entities.

ETSI GS CIM 009 v1.8 §5.6 (provision), §5.7 (consumption), §6.4–6.7 (HTTP binding).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlencode

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from cityos.ngsi.api import distributed
from cityos.ngsi.api.linked import Linker, check_reach, join_of, render_all
from cityos.ngsi.api.release import reader_of, released, writer_of
from cityos.ngsi.api.request import (
    GEOJSON,
    JSON,
    JSONLD,
    MERGE_PATCH,
    accept_of,
    entity_page,
    link_context,
    options_of,
    path_uri,
    read_body,
    tenant_of,
    url_path,
    view_of,
)
from cityos.ngsi.api.respond import ngsi_response, no_content, problem_response
from cityos.ngsi.api.selection import selection_from_params, to_store_query
from cityos.ngsi.broker import Broker
from cityos.ngsi.errors import BadRequestData, NonexistentTenant, ResourceNotFound
from cityos.ngsi.model import change
from cityos.ngsi.model.read import (
    read_entity,
)
from cityos.ngsi.model.terms import now_iso
from cityos.ngsi.model.write import (
    View,
    render_entity,
    render_feature,
    render_feature_collection,
)
from cityos.storage.base import DELETE

BASE = "/ngsi-ld/v1"
DEFAULT_VIEW = View()  # what a request without query parameters asks for (View is frozen)


def broker_of(request: Request) -> Broker:
    return request.app.state.broker  # type: ignore[no-any-return]


def path_entity_id(request: Request) -> str:
    return path_uri(request, "entityId", "entity")


def with_path_id(data: dict[str, Any], entity_id: str) -> dict[str, Any]:
    """The body with the path's entity id; a body naming another id is refused."""
    if data.get("id", entity_id) != entity_id:
        raise BadRequestData("the id in the body differs from the id in the path")
    return {**data, "id": entity_id}


def unwrap(result: Any) -> Any:
    if isinstance(result, BaseException):
        raise result
    return result


def update_result(outcome: change.AttrOutcome, ctx: Any) -> dict[str, Any]:
    return {
        "updated": [ctx.compact_iri(i) for i in dict.fromkeys(outcome.updated)],
        "notUpdated": [{"attributeName": ctx.compact_iri(i), "reason": r}
                       for i, r in outcome.not_updated],
    }


# /entities -------------------------------------------------------------------------------
async def create_entity(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    body = await read_body(request, broker.settings.max_body_bytes)
    ctx = await broker.context(body.context)
    now = now_iso()
    entity = read_entity(body.data, ctx, now)
    [result] = await broker.store.mutate(
        tenant, [(entity["id"], lambda cur: (change.create(cur, entity, now), None))],
        writer=writer_of(request))
    unwrap(result)
    await broker.changed(tenant, [entity["id"]])
    return Response(status_code=201,
                    headers={"Location": f"{BASE}/entities/{quote(entity['id'], safe=':')}"})


async def query_entities(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    media = accept_of(request, geo=True)
    ctx = await broker.context(link_context(request))
    options = options_of(request)
    view = view_of(request, ctx, options)
    sel = selection_from_params(request.query_params)
    limit, offset, count = entity_page(request, broker.settings)
    sources = await distributed.query_sources(request, broker, tenant, sel, ctx)
    if not sources and not await broker.store.tenant_exists(tenant):
        raise NonexistentTenant(f"tenant {tenant!r} does not exist")
    headers: dict[str, str] = {}
    reader = reader_of(request)
    if sources:  # the first offset+limit of every holder, merged, then this page of them
        want = offset + limit + 1
        query = to_store_query(sel, ctx, limit=want, offset=0, count=count)
        query.reader = reader
        result = await broker.store.query_entities(tenant, query)
        entities, warn = await distributed.merge_query(request, broker, sources, ctx,
                                                       result.entities, want)
        if warn:
            headers["NGSILD-Warning"] = warn
        entities = entities[offset:]
    else:
        query = to_store_query(sel, ctx, limit=limit + 1 if limit else 0, offset=offset,
                               count=count)
        query.reader = reader
        result = await broker.store.query_entities(tenant, query)
        entities = result.entities
    has_next = limit > 0 and len(entities) > limit
    entities = entities[:limit]
    via = "federation" if sources else "query"
    if count and result.count is not None:
        headers["NGSILD-Results-Count"] = str(result.count)
    links = _page_links(request, limit, offset, has_next)
    if links:
        headers["Link"] = links
    if media == GEOJSON:
        data: Any = render_feature_collection(entities, ctx, view)
        released(request, tenant, entities, via)
        return _with_link(ngsi_response(data, ctx, GEOJSON, headers=headers), headers)
    join, level = join_of(request)
    linked: list[dict[str, Any]] = []
    data = await render_all(broker.store, tenant, entities, ctx, view, join, level, reader,
                            linked)
    released(request, tenant, [*entities, *linked], via)
    return _with_link(ngsi_response(data, ctx, media, headers=headers), headers)


def _with_link(response: Response, headers: dict[str, str]) -> Response:
    """Keep both the pagination links and the @context link (several Link values)."""
    if "Link" in headers and "link" in response.headers:
        ctx_link = response.headers["link"]
        if ctx_link != headers["Link"]:
            del response.headers["link"]
            response.headers.append("Link", ctx_link)
            response.headers.append("Link", headers["Link"])
    return response


def _page_links(request: Request, limit: int, offset: int, has_next: bool) -> str:
    """prev/next links (§5.5.9): the same query, parameters in name order, one page over."""
    if limit == 0 or (offset == 0 and not has_next):
        return ""
    return _links(url_path(request), request.scope.get("query_string", b""), limit, offset,
                  has_next)


@lru_cache(maxsize=512)  # a function of its arguments; clients page through the same queries
def _links(url_path: str, query_string: bytes, limit: int, offset: int, has_next: bool) -> str:
    params = dict(QueryParams(query_string))
    path = url_path.rstrip("/")
    links = []
    pages = ((offset > 0, max(0, offset - limit), "prev"), (has_next, offset + limit, "next"))
    for wanted, page_offset, rel in pages:
        if wanted:
            params.update(offset=str(page_offset), limit=str(limit))
            query = urlencode(sorted(params.items()), safe=":*,/")
            links.append(f'<{path}?{query}>; rel="{rel}"; type="{JSON}"')
    return ", ".join(links)


# /entities/{entityId} ----------------------------------------------------------------------
async def retrieve_entity(request: Request) -> Response:
    broker = broker_of(request)
    # the hot path (a plain GET): headers a request lacks and an empty query string are not
    # parsed at all; anything present goes through the same readers as everywhere else
    present = {name for name, _ in request.scope["headers"]}
    tenant = tenant_of(request)
    entity_id = path_entity_id(request)
    media = accept_of(request, geo=True) if b"accept" in present else JSON
    ctx = await broker.context(link_context(request) if b"link" in present else None)
    plain = not request.scope.get("query_string")
    view = DEFAULT_VIEW if plain else view_of(request, ctx)
    reader = reader_of(request)
    entity = await broker.store.get_entity(tenant, entity_id, reader)
    warn = None
    if broker.federation.active(tenant):  # registered sources that may hold it too
        entity, warn = await distributed.retrieve_from_sources(request, broker, tenant,
                                                               entity_id, ctx, entity)
        plain = False
    if entity is None:
        if warn is not None:  # not here, and a source that may hold it did not answer
            return problem_response(ResourceNotFound(f"entity {entity_id} not found"),
                                    headers={"NGSILD-Warning": warn})
        if not await broker.store.tenant_exists(tenant):
            raise NonexistentTenant(f"tenant {tenant!r} does not exist")
        raise ResourceNotFound(f"entity {entity_id} not found")
    if view.attrs is not None and view.attrs.isdisjoint(entity.get("attrs", {})):
        raise ResourceNotFound(f"entity {entity_id} has none of the attributes asked for")
    type_filter = None if plain else request.query_params.get("type")
    if type_filter is not None:
        wanted = {ctx.expand_term(t) for t in type_filter.split(",")}
        if wanted.isdisjoint(entity["type"]):
            raise ResourceNotFound(f"entity {entity_id} of type {type_filter} not found")
    if media == GEOJSON:
        released(request, tenant, [entity], "retrieve")
        return ngsi_response(render_feature(entity, ctx, view), ctx, GEOJSON)
    if plain:
        released(request, tenant, [entity], "retrieve")
        return ngsi_response(render_entity(entity, ctx, view), ctx, media)
    join, level = join_of(request)
    check_reach(view, join, level)
    linker = Linker(broker.store, tenant, ctx, reader)
    if join == "flat":
        flat = await linker.flat([entity], view, level)
        data: Any = flat[0] if len(flat) == 1 else flat
    elif join == "inline":
        data = await linker.inline(entity, view, level)
    else:
        data = render_entity(entity, ctx, view)
    if not data and (view.pick is not None or view.omit is not None):
        raise ResourceNotFound(f"pick and omit leave nothing of entity {entity_id}")
    released(request, tenant, [entity, *linker.fetched], "retrieve")
    return ngsi_response(data, ctx, media, headers={"NGSILD-Warning": warn} if warn else None)


async def replace_entity(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    entity_id = path_entity_id(request)
    body = await read_body(request, broker.settings.max_body_bytes)
    ctx = await broker.context(body.context)
    now = now_iso()
    data = with_path_id(body.data, entity_id)
    entity = read_entity(data, ctx, now, require_type=False)
    [result] = await broker.store.mutate(
        tenant, [(entity_id, lambda cur: (change.replace(cur, entity, now), None))],
        writer=writer_of(request))
    unwrap(result)
    await broker.changed(tenant, [entity_id])
    return no_content()


async def merge_entity(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    entity_id = path_entity_id(request)
    body = await read_body(request, broker.settings.max_body_bytes,
                           allow=(JSON, JSONLD, MERGE_PATCH))
    ctx = await broker.context(body.context)
    now = now_iso()
    data = with_path_id(body.data, entity_id)
    patch = read_entity(data, ctx, now, require_type=False, allow_null=True)
    [result] = await broker.store.mutate(
        tenant, [(entity_id, lambda cur: (change.merge(cur, patch, now), None))],
        writer=writer_of(request))
    unwrap(result)
    await broker.changed(tenant, [entity_id])
    return no_content()


async def delete_entity(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    entity_id = path_entity_id(request)
    type_filter = request.query_params.get("type")
    wanted = None
    if type_filter is not None:  # only an entity of one of these types is deleted
        ctx = await broker.context(link_context(request))
        wanted = {ctx.expand_term(t) for t in type_filter.split(",") if t.strip()}

    def remove(cur: dict[str, Any] | None) -> tuple[Any, Any]:
        if cur is None or (wanted is not None and wanted.isdisjoint(cur["type"])):
            raise ResourceNotFound(f"entity {entity_id} not found")
        return DELETE, None

    [result] = await broker.store.mutate(tenant, [(entity_id, remove)],
                                         writer=writer_of(request))
    unwrap(result)
    return no_content()
