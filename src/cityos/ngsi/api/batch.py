"""HTTP routes for batch operations under /ngsi-ld/v1/entityOperations.

ETSI GS CIM 009 v1.8 §5.6.7–5.6.10, §5.6.20 (batch create/upsert/update/delete/merge) and
§5.7.2 via POST /entityOperations/query; per-entity results as BatchOperationResult (§5.2.16).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cityos.jsonvalue import TooDeep, check_depth, depth_over
from cityos.ngsi.api import distributed
from cityos.ngsi.api.entities import broker_of, update_result
from cityos.ngsi.api.linked import join_of, render_all
from cityos.ngsi.api.release import reader_of, released, writer_of
from cityos.ngsi.api.request import (
    GEOJSON,
    JSON,
    JSONLD,
    accept_of,
    entity_page,
    item_context,
    link_context,
    options_of,
    read_body,
    tenant_of,
    view_of,
)
from cityos.ngsi.api.respond import ngsi_response, no_content, plain_json
from cityos.ngsi.api.selection import Selection, to_store_query
from cityos.ngsi.errors import BadRequestData, Forbidden, NgsiError
from cityos.ngsi.model import change
from cityos.ngsi.model.read import read_entity
from cityos.ngsi.model.terms import is_uri, now_iso
from cityos.ngsi.model.write import render_feature_collection
from cityos.storage.base import DELETE, KEEP, Mutation, NotOwner


class _Results:
    def __init__(self) -> None:
        self.success: list[str] = []
        self.errors: list[dict[str, Any]] = []

    def fail(self, entity_id: Any, error: Exception) -> None:
        if isinstance(error, NotOwner):  # another's personal row: 403 for this entity
            error = Forbidden(str(error))
        problem = error.problem() if isinstance(error, NgsiError) else \
            {"type": "https://uri.etsi.org/ngsi-ld/errors/InternalError", "title": "InternalError",
             "status": 500, "detail": "the entity could not be written"}
        self.errors.append({"entityId": entity_id if isinstance(entity_id, str) else "",
                            "error": problem})

    def body(self) -> dict[str, Any]:
        return {"success": self.success, "errors": self.errors}


async def _read_entities(request: Request, *, require_type: bool = True,
                         allow_null: bool = False) -> tuple[list[tuple[Any, Any]], _Results, str]:
    """Each element read on its own: a bad one is reported, the others go on."""
    broker = broker_of(request)
    body = await read_body(request, broker.settings.max_body_bytes, expect=list, items=True)
    if not body.data:
        raise BadRequestData("the batch is empty")
    if any(item is None for item in body.data):  # not an entity at all: the array is malformed
        raise BadRequestData("a batch cannot hold null items")
    now = now_iso()
    results = _Results()
    entities = []
    media = request.headers.get("content-type", "").split(";")[0].strip()
    for item in body.data:
        raw_id = item.get("id", item.get("@id")) if isinstance(item, dict) else None
        try:
            check_depth(item)  # too deep: this item's error, the others are written
            ctx = await broker.context(item_context(item, body, media))
            entities.append((read_entity(item, ctx, now, require_type=require_type,
                                         allow_null=allow_null), ctx))
        except NgsiError as exc:
            results.fail(raw_id, exc)
    return entities, results, now


def _write(fn: Callable[[Any, Any, str], Any], entity: dict[str, Any], now: str) -> Mutation:
    """The mutation writing `entity` with `fn` (change.create, change.merge)."""
    return lambda cur: (fn(cur, entity, now), None)


def _reply(results: _Results, *, created: list[str] | None = None) -> Response:
    if results.errors:
        return plain_json(results.body(), status=207)
    if created:
        return plain_json(created, status=201)
    return no_content()


def _collect(results: _Results, ids: list[str], outcomes: list[Any]) -> None:
    for entity_id, outcome in zip(ids, outcomes, strict=True):
        if isinstance(outcome, Exception):
            results.fail(entity_id, outcome)
        else:
            results.success.append(entity_id)


async def batch_create(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    entities, results, now = await _read_entities(request)
    items: list[tuple[str, Mutation]] = [(e["id"], _write(change.create, e, now))
                                          for e, _ in entities]
    outcomes = (await broker.store.mutate(tenant, items, writer=writer_of(request))
                if items else [])
    await broker.changed(tenant, [i for (i, _), o in zip(items, outcomes, strict=True)
                                  if not isinstance(o, Exception)])
    _collect(results, [e["id"] for e, _ in entities], outcomes)
    if results.errors:
        return plain_json(results.body(), status=207)
    return plain_json(results.success, status=201)


async def batch_upsert(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    options = options_of(request)
    if "update" in options and "replace" in options:
        raise BadRequestData("options update and replace exclude each other")
    mode_update = "update" in options
    entities, results, now = await _read_entities(request)
    created: list[str] = []

    def upsert(entity: dict[str, Any]) -> Any:
        def fn(cur: dict[str, Any] | None) -> tuple[Any, Any]:
            if cur is None:
                return change.new_entity(entity, now), "created"
            if mode_update:
                updated, _ = change.append(cur, entity["id"], entity["attrs"], now,
                                           types=entity.get("type"), scope=entity.get("scope"))
                return updated, "updated"
            return change.replace(cur, entity, now), "updated"
        return fn

    items = [(e["id"], upsert(e)) for e, _ in entities]
    outcomes = (await broker.store.mutate(tenant, items, writer=writer_of(request))
                if items else [])
    await broker.changed(tenant, [i for (i, _), o in zip(items, outcomes, strict=True)
                                  if not isinstance(o, Exception)])
    for (e, _), outcome in zip(entities, outcomes, strict=True):
        if outcome == "created":
            created.append(e["id"])
    _collect(results, [e["id"] for e, _ in entities], outcomes)
    if results.errors:
        return plain_json(results.body(), status=207)
    return plain_json(created, status=201) if created else no_content()


async def batch_update(request: Request) -> Response:
    """Append Entity Attributes (§5.6.3) for each entity (§5.6.9); with noOverwrite the
    attributes that exist are kept and the entity is reported among the errors."""
    broker = broker_of(request)
    tenant = tenant_of(request)
    no_overwrite = "noOverwrite" in options_of(request)
    entities, results, now = await _read_entities(request, require_type=False)

    def update(entity: dict[str, Any]) -> Any:
        def fn(cur: dict[str, Any] | None) -> tuple[Any, Any]:
            updated, outcome = change.append(cur, entity["id"], entity["attrs"], now,
                                             no_overwrite=no_overwrite, types=entity.get("type"))
            if not entity["attrs"] and not entity.get("type"):
                outcome.not_updated.append(("", "the entity names no attribute"))
            return (updated if outcome.updated or entity.get("type") else KEEP), outcome
        return fn

    items = [(e["id"], update(e)) for e, _ in entities]
    outcomes = (await broker.store.mutate(tenant, items, writer=writer_of(request))
                if items else [])
    await broker.changed(tenant, [i for (i, _), o in zip(items, outcomes, strict=True)
                                  if not isinstance(o, Exception)])
    for (entity, ctx), outcome in zip(entities, outcomes, strict=True):
        if isinstance(outcome, Exception):
            results.fail(entity["id"], outcome)
        elif outcome.not_updated:
            results.fail(entity["id"], BadRequestData(
                f"not updated: {update_result(outcome, ctx)['notUpdated']}"[:500]))
        else:
            results.success.append(entity["id"])
    return _reply(results)


async def batch_merge(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    entities, results, now = await _read_entities(request, require_type=False, allow_null=True)
    items: list[tuple[str, Mutation]] = [(e["id"], _write(change.merge, e, now))
                                          for e, _ in entities]
    outcomes = (await broker.store.mutate(tenant, items, writer=writer_of(request))
                if items else [])
    await broker.changed(tenant, [i for (i, _), o in zip(items, outcomes, strict=True)
                                  if not isinstance(o, Exception)])
    _collect(results, [e["id"] for e, _ in entities], outcomes)
    return _reply(results)


async def batch_delete(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    body = await read_body(request, broker.settings.max_body_bytes, allow=(JSON, JSONLD),
                           expect=list, items=True)
    if not body.data:
        raise BadRequestData("the batch is empty")
    results = _Results()
    ids: list[str] = []
    for raw in body.data:
        if depth_over(raw):
            results.fail(None, TooDeep())
        elif not is_uri(raw):
            results.fail(raw, BadRequestData(f"{str(raw)[:200]!r} is not an entity id"))
        else:
            ids.append(raw)

    def remove(entity_id: str) -> Any:
        def fn(cur: dict[str, Any] | None) -> tuple[Any, Any]:
            change.must_exist(cur, entity_id)
            return DELETE, None
        return fn

    outcomes = await broker.store.mutate(tenant, [(i, remove(i)) for i in ids],
                                         writer=writer_of(request)) if ids else []
    _collect(results, ids, outcomes)
    return _reply(results)


async def batch_query(request: Request) -> Response:
    """POST /entityOperations/query: a Query object in the body (§5.2.23)."""
    broker = broker_of(request)
    tenant = tenant_of(request)
    ctx, data, sel = await read_query(request)
    media = accept_of(request, geo=True)
    limit, offset, count = entity_page(request, broker.settings)
    view = view_of(request, ctx)
    if "lang" in data and view.lang is None:
        view = replace(view, lang=str(data["lang"]))
    if "geometryProperty" in data:
        view = replace(view, geometry_property=_text(data["geometryProperty"],
                                                     "geometryProperty") or "location")
    headers: dict[str, str] | None = None
    reader = reader_of(request)
    via = "batch"
    if broker.federation.active(tenant):  # registered sources may hold some too
        query = to_store_query(sel, ctx, limit=offset + limit, offset=0, count=count)
        query.reader = reader
        result = await broker.store.query_entities(tenant, query)
        found, warn = await distributed.batch_query_sources(request, broker, tenant, sel, data,
                                                            ctx, result.entities)
        result.entities = found[offset:offset + limit]
        headers = {"NGSILD-Warning": warn} if warn else None
        via = "federation"
    else:
        query = to_store_query(sel, ctx, limit=limit, offset=offset, count=count)
        query.reader = reader
        result = await broker.store.query_entities(tenant, query)
    if count and result.count is not None:
        headers = {**(headers or {}), "NGSILD-Results-Count": str(result.count)}
    if media == GEOJSON:
        released(request, tenant, result.entities, via)
        return ngsi_response(render_feature_collection(result.entities, ctx, view), ctx, media,
                             headers=headers)
    join, level = join_of(request)
    if "join" in data:  # the Query object's own join members win (§5.2.23)
        join = _text(data["join"], "join")
        if join not in ("inline", "flat", "@none"):
            raise BadRequestData("join must be inline, flat or @none")
        join = None if join == "@none" else join
    if "joinLevel" in data:
        level = data["joinLevel"]
        if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level <= 16:
            raise BadRequestData("joinLevel must be an integer from 0 to 16")
    linked: list[dict[str, Any]] = []
    entities = await render_all(broker.store, tenant, result.entities, ctx, view, join, level,
                                reader, linked)
    released(request, tenant, [*result.entities, *linked], via)
    return ngsi_response(entities, ctx, media, headers=headers)


async def read_query(request: Request) -> tuple[Any, dict[str, Any], Selection]:
    """A Query object body (§5.2.23): its @context (else the Link header's), the object, and
    the entities it selects."""
    broker = broker_of(request)
    body = await read_body(request, broker.settings.max_body_bytes)
    ctx = await broker.context(body.context if body.context is not None
                               else link_context(request))
    data = body.data
    if data.get("type") != "Query":
        raise BadRequestData("the body must be a Query object with \"type\": \"Query\"")
    return ctx, data, selection_of_query(data)


def selection_of_query(data: dict[str, Any]) -> Selection:
    """The entities a Query object (§5.2.23) selects: entities, attrs, q, scopeQ, geoQ."""
    sel = Selection()
    selectors = data.get("entities")
    if selectors is not None:
        if not isinstance(selectors, list) or not all(isinstance(s, dict) for s in selectors):
            raise BadRequestData("entities must be a list of {id, idPattern, type} selectors")
        parsed = [_selector(s) for s in selectors]
        if len(parsed) == 1:
            sel = parsed[0]
        elif parsed:
            sel.any_of = parsed
    attrs = data.get("attrs")
    if attrs is not None:
        if not isinstance(attrs, list) or not all(isinstance(a, str) for a in attrs):
            raise BadRequestData("attrs must be a list of attribute names")
        sel.attrs = attrs
    sel.q = _text(data.get("q"), "q")
    sel.scope_q = _text(data.get("scopeQ"), "scopeQ")
    geo = data.get("geoQ")
    if geo is not None:
        if not isinstance(geo, dict):
            raise BadRequestData("geoQ must be an object")
        sel.georel = _text(geo.get("georel"), "geoQ.georel")
        sel.geometry = _text(geo.get("geometry"), "geoQ.geometry")
        sel.coordinates = geo.get("coordinates")
        sel.geoproperty = _text(geo.get("geoproperty"), "geoQ.geoproperty")
        if sel.georel is None or sel.geometry is None or sel.coordinates is None:
            raise BadRequestData("geoQ needs georel, geometry and coordinates")
    return sel


def _selector(s: dict[str, Any]) -> Selection:
    """An EntitySelector (§5.2.33): type is mandatory; with an id, idPattern is ignored."""
    if "type" not in s:
        raise BadRequestData("each entity selector needs a type")
    sel = Selection(type=_text(s["type"], "entities.type"))
    if "id" in s:
        ids = s["id"] if isinstance(s["id"], list) else [s["id"]]
        sel.ids = [_text(i, "entities.id") or "" for i in ids]
    else:
        sel.id_pattern = _text(s.get("idPattern"), "entities.idPattern")
    return sel


def _text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequestData(f"{name} must be a string")
    return value


