"""NGSI v2 entities, attributes and types (FIWARE Orion's API) on the NGSI-LD store.

The same entities as /ngsi-ld/v1 (see translate.py for the mapping); reads pass the same
consent filter (Personal-Link's Reader) and are told to the data tracker.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from cityos.ngsi.api.release import reader_of as reader_for
from cityos.ngsi.api.release import released, write_reader_of, writer_of
from cityos.ngsi.api.selection import Selection, to_store_query
from cityos.ngsi.broker import Broker
from cityos.ngsi.errors import ResourceNotFound
from cityos.ngsi.jsonld.context import ActiveContext
from cityos.ngsi.model import change
from cityos.ngsi.model.read import read_attributes, read_entity
from cityos.ngsi.model.terms import now_iso
from cityos.ngsi.model.write import View, render_entity
from cityos.ngsi.v2 import qlang
from cityos.ngsi.v2.request import (
    V2Error,
    int_arg,
    json_body,
    json_response,
    listed,
    options_v2,
    service_path,
    tenant_v2,
    v2_endpoint,
)
from cityos.ngsi.v2.translate import (
    V2Invalid,
    attr_to_v2,
    attrs_to_ld,
    check_name,
    entity_to_ld,
    entity_to_v2,
    to_ld_id,
)
from cityos.storage.base import DELETE, Entity

BASE = "/v2/entities"
READ_OPTIONS = frozenset({"keyValues", "values", "unique", "count", "dateCreated",
                          "dateModified", "sysAttrs"})
SHOWN = View(sys_attrs=True)
MAX_LIMIT = 1000


def broker_of(request: Request) -> Broker:
    return request.app.state.broker  # type: ignore[no-any-return]


async def core(broker: Broker) -> ActiveContext:
    """The core @context: v2 names are the default vocabulary's terms."""
    return await broker.context(None)


def shown_v2(entity: Entity, ctx: ActiveContext, request: Request, options: set[str],
             attrs: list[str] | None = None) -> Any:
    """An entity as v2 shows it (normalized, keyValues or values)."""
    metadata = listed(request, "metadata")
    dates = frozenset(o for o in options if o in ("dateCreated", "dateModified"))
    if attrs:
        dates |= {a for a in attrs if a in ("dateCreated", "dateModified")}
    v2 = entity_to_v2(render_entity(entity, ctx, SHOWN), attrs=attrs,
                      key_values="keyValues" in options or "values" in options,
                      metadata=metadata, dates=dates)
    if "values" in options:
        names = attrs or [k for k in v2 if k not in ("id", "type")]
        return [v2.get(n) for n in names if n not in ("id", "type")]
    return v2


async def stored(request: Request, broker: Broker, tenant: str) -> Entity:
    """The entity of the path (and of `type` when given) as the caller may see it (what it may
    not read, it may not change either); NotFound as Orion says it."""
    v2_id = check_name(request.path_params["entityId"], "entity id", is_id=True)
    reader = reader_for(request) if request.method == "GET" else write_reader_of(request)
    entity = await broker.store.get_entity(tenant, to_ld_id(v2_id), reader)
    wanted = request.query_params.get("type")
    if entity is None or (wanted is not None and
                          (await core(broker)).expand_term(wanted) not in entity["type"]):
        raise V2Error(404, "The requested entity has not been found. Check type and id")
    return entity


# /v2/entities -----------------------------------------------------------------------------
@v2_endpoint
async def list_entities(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_v2(request)
    ctx = await core(broker)
    options = options_v2(request, READ_OPTIONS)
    limit = int_arg(request, "limit", 20, MAX_LIMIT)
    offset = int_arg(request, "offset", 0, 10**9)
    if limit == 0:
        raise V2Error(400, "limit must be at least 1")
    if request.query_params.get("typePattern") is not None:
        raise V2Error(501, "typePattern is not supported: list the types", "NotImplemented")
    sel = _selection(request)
    query = to_store_query(sel, ctx, limit=limit, offset=offset, count="count" in options)
    query.reader = reader_for(request)
    result = await broker.store.query_entities(tenant, query)
    released(request, tenant, result.entities, "query")
    attrs = listed(request, "attrs")
    body = [shown_v2(e, ctx, request, options, attrs) for e in result.entities]
    headers = {"Fiware-Total-Count": str(result.count)} if result.count is not None else None
    return json_response(body, headers=headers)


def _selection(request: Request) -> Selection:
    params = request.query_params
    ids = listed(request, "id")
    pattern = params.get("idPattern")
    if ids is not None and pattern is not None:
        raise V2Error(400, "id and idPattern cannot be used together")
    q = qlang.to_ld_q(params.get("q"), params.get("mq"))
    geo = qlang.to_ld_geo(params.get("georel"), params.get("geometry"), params.get("coords"))
    scopes = service_path(request, query=True)
    types = qlang.type_list(params.get("type"))
    for t in types or ():
        check_name(t, "entity type", is_id=True)
    return Selection(
        type=",".join(types) if types else None,
        ids=[to_ld_id(check_name(i, "entity id", is_id=True)) for i in ids] if ids else None,
        id_pattern=_ld_pattern(pattern) if pattern is not None else None,
        q=q, georel=geo[0] if geo else None, geometry=geo[1] if geo else None,
        coordinates=geo[2] if geo else None, scope_q=",".join(scopes) if scopes else None)


def _ld_pattern(pattern: str) -> str:
    """v2's idPattern searches the v2 id; the store matches the whole stored id."""
    return f"(?:urn:ngsi-v2:)?.*?(?:{pattern}).*" if not pattern.startswith("^") else \
        f"(?:urn:ngsi-v2:)?(?:{pattern[1:]}).*"


@v2_endpoint
async def create_entity(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_v2(request)
    options = options_v2(request, frozenset({"keyValues", "upsert"}))
    body = await json_body(request, broker.settings.max_body_bytes)
    ld = entity_to_ld(body, key_values="keyValues" in options)
    scopes = service_path(request, query=False)
    if scopes:
        ld["scope"] = scopes
    now = now_iso()
    entity = read_entity(ld, await core(broker), now)
    # an upsert changes only what the caller may read; anything else is "Already Exists"
    visible = "upsert" in options and await broker.store.get_entity(
        tenant, entity["id"], write_reader_of(request)) is not None

    def write(cur: Entity | None) -> tuple[Any, Any]:
        if cur is not None and visible:
            updated, _ = change.append(cur, entity["id"], entity["attrs"], now,
                                       types=entity["type"])
            return updated, "updated"
        return change.create(cur, entity, now), "created"

    [result] = await broker.store.mutate(tenant, [(entity["id"], write)],
                                         writer=writer_of(request))
    if isinstance(result, BaseException):
        raise result
    await broker.changed(tenant, [entity["id"]])
    if result == "updated":
        return Response(status_code=204)
    v2_type = ld["type"]
    location = f"{BASE}/{quote(str(body.get('id')), safe='')}?type={quote(v2_type, safe='')}"
    return Response(status_code=201, headers={"Location": location})


@v2_endpoint
async def retrieve_entity(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_v2(request)
    options = options_v2(request, READ_OPTIONS)
    entity = await stored(request, broker, tenant)
    released(request, tenant, [entity], "retrieve")
    return json_response(shown_v2(entity, await core(broker), request, options,
                                  listed(request, "attrs")))


@v2_endpoint
async def retrieve_attrs(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_v2(request)
    options = options_v2(request, READ_OPTIONS)
    entity = await stored(request, broker, tenant)
    released(request, tenant, [entity], "retrieve")
    shown = shown_v2(entity, await core(broker), request, options, listed(request, "attrs"))
    if isinstance(shown, dict):
        shown = {k: v for k, v in shown.items() if k not in ("id", "type")}
    return json_response(shown)


@v2_endpoint
async def delete_entity(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_v2(request)
    entity = await stored(request, broker, tenant)
    await _write(request, broker, tenant, entity["id"], lambda cur: (DELETE, None))
    return Response(status_code=204)


async def _write(request: Request, broker: Broker, tenant: str, entity_id: str,
                 fn: Any) -> Any:
    [result] = await broker.store.mutate(tenant, [(entity_id, fn)], writer=writer_of(request))
    if isinstance(result, BaseException):
        raise result
    await broker.changed(tenant, [entity_id])
    return result


async def _attrs_body(request: Request, broker: Broker, *, key_values: bool,
                      now: str) -> dict[str, list[dict[str, Any]]]:
    body = await json_body(request, broker.settings.max_body_bytes)
    if not isinstance(body, dict):
        raise V2Invalid("attributes are a JSON object")
    if "id" in body or "type" in body:
        raise V2Error(400, "id and type are not attributes: they cannot be changed here")
    if not body:
        raise V2Error(400, "no attributes were given")
    return read_attributes(attrs_to_ld(body, key_values=key_values), await core(broker), now)


@v2_endpoint
async def append_attrs(request: Request) -> Response:
    """POST …/attrs: add or replace attributes; options=append refuses existing ones."""
    broker = broker_of(request)
    tenant = tenant_v2(request)
    options = options_v2(request, frozenset({"keyValues", "append"}))
    entity = await stored(request, broker, tenant)
    now = now_iso()
    attrs = await _attrs_body(request, broker, key_values="keyValues" in options, now=now)
    if "append" in options:
        present = [a for a in attrs if a in entity["attrs"]]
        if present:
            ctx = await core(broker)
            raise V2Error(422, "attribute(s) already exist: "
                               + ", ".join(ctx.compact_iri(a) for a in present))

    def write(cur: Entity | None) -> tuple[Any, Any]:
        return change.append(cur, entity["id"], attrs, now)

    await _write(request, broker, tenant, entity["id"], write)
    return Response(status_code=204)


@v2_endpoint
async def update_attrs(request: Request) -> Response:
    """PATCH …/attrs: update existing attributes; any missing one → 422, nothing written."""
    broker = broker_of(request)
    tenant = tenant_v2(request)
    options = options_v2(request, frozenset({"keyValues"}))
    entity = await stored(request, broker, tenant)
    now = now_iso()
    attrs = await _attrs_body(request, broker, key_values="keyValues" in options, now=now)
    missing = [a for a in attrs if a not in entity["attrs"]]
    if missing:
        ctx = await core(broker)
        raise V2Error(422, "do not exist: " + ", ".join(ctx.compact_iri(a) for a in missing))

    def write(cur: Entity | None) -> tuple[Any, Any]:
        cur = change.must_exist(cur, entity["id"])
        if any(a not in cur["attrs"] for a in attrs):
            raise V2Error(422, "an attribute was deleted meanwhile")
        return change.append(cur, entity["id"], attrs, now)

    await _write(request, broker, tenant, entity["id"], write)
    return Response(status_code=204)


@v2_endpoint
async def replace_attrs(request: Request) -> Response:
    """PUT …/attrs: the entity's attributes become these."""
    broker = broker_of(request)
    tenant = tenant_v2(request)
    options = options_v2(request, frozenset({"keyValues"}))
    entity = await stored(request, broker, tenant)
    now = now_iso()
    body = await json_body(request, broker.settings.max_body_bytes)
    if not isinstance(body, dict) or "id" in body or "type" in body:
        raise V2Error(400, "a JSON object of attributes (without id and type) is expected")
    attrs = read_attributes(attrs_to_ld(body, key_values="keyValues" in options),
                            await core(broker), now)
    new = {"id": entity["id"], "type": entity["type"], "attrs": attrs}
    if "scope" in entity:
        new["scope"] = entity["scope"]
    await _write(request, broker, tenant, entity["id"],
                 lambda cur: (change.replace(cur, new, now), None))
    return Response(status_code=204)


# /v2/entities/{id}/attrs/{attrName}[/value] ---------------------------------------------
async def _attribute(request: Request) -> tuple[Broker, str, ActiveContext, Entity, str]:
    """(broker, tenant, @context, entity, attribute IRI) of a request naming an attribute the
    caller may read; NotFound for the entity or the attribute as Orion says it."""
    broker = broker_of(request)
    tenant = tenant_v2(request)
    ctx = await core(broker)
    entity = await stored(request, broker, tenant)
    iri = ctx.expand_term(check_name(request.path_params["attrName"], "attribute name"))
    if iri not in entity["attrs"]:
        raise V2Error(404, "The entity does not have such an attribute")
    return broker, tenant, ctx, entity, iri


def _attr_v2(entity: Entity, iri: str, ctx: ActiveContext,
             metadata: list[str] | None = None) -> dict[str, Any]:
    """One attribute of a stored entity as v2 shows it."""
    rendered = render_entity({**entity, "attrs": {iri: entity["attrs"][iri]}}, ctx, SHOWN)
    return attr_to_v2(rendered[ctx.compact_iri(iri)], metadata)


@v2_endpoint
async def retrieve_attr(request: Request) -> Response:
    return await _retrieve_attr(request, value=False)


@v2_endpoint
async def retrieve_attr_value(request: Request) -> Response:
    return await _retrieve_attr(request, value=True)


async def _retrieve_attr(request: Request, *, value: bool) -> Response:
    _, tenant, ctx, entity, iri = await _attribute(request)
    released(request, tenant, [entity], "retrieve")
    attr = _attr_v2(entity, iri, ctx, listed(request, "metadata"))
    if value:
        return _value_response(attr["value"])
    return json_response(attr)


def _value_response(value: Any) -> Response:
    if isinstance(value, dict | list):
        return json_response(value)
    if isinstance(value, str):
        text = f'"{value}"'
    elif isinstance(value, bool) or value is None:
        text = {True: "true", False: "false", None: "null"}[value]
    else:
        text = repr(value)
    return Response(text, media_type="text/plain")


@v2_endpoint
async def update_attr(request: Request) -> Response:
    """PUT …/attrs/{attrName}: the attribute (it must exist) becomes this one."""
    return await _update_attr(request, value=False)


@v2_endpoint
async def update_attr_value(request: Request) -> Response:
    """PUT …/attrs/{attrName}/value: a new value (JSON or text/plain), same type and metadata."""
    return await _update_attr(request, value=True)


async def _update_attr(request: Request, *, value: bool) -> Response:
    broker, tenant, ctx, entity, iri = await _attribute(request)
    name = ctx.compact_iri(iri)
    now = now_iso()
    if value:
        raw = await _plain_or_json(request, broker)
        old = _attr_v2(entity, iri, ctx)
        attr = {"type": old["type"], "value": raw, "metadata": old["metadata"]}
    else:
        attr = await json_body(request, broker.settings.max_body_bytes)
    attrs = read_attributes(attrs_to_ld({name: attr}), ctx, now)

    def write(cur: Entity | None) -> tuple[Any, Any]:
        return change.append(cur, entity["id"], attrs, now)

    await _write(request, broker, tenant, entity["id"], write)
    return Response(status_code=204)


async def _plain_or_json(request: Request, broker: Broker) -> Any:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "text/plain":
        text = (await request.body()).decode("utf-8", "replace").strip()
        if len(text) > broker.settings.max_body_bytes:
            raise V2Error(413, "the body is too large")
        if text in ("true", "false"):
            return text == "true"
        if text == "null":
            return None
        if len(text) >= 2 and text[0] == text[-1] == '"':
            return text[1:-1]
        try:
            number = float(text)
        except ValueError:
            raise V2Error(400, "a text/plain value is a number, true, false, null or a "
                               "quoted string") from None
        return int(number) if number.is_integer() and "." not in text else number
    return await json_body(request, broker.settings.max_body_bytes)


@v2_endpoint
async def delete_attr(request: Request) -> Response:
    broker, tenant, _, entity, iri = await _attribute(request)
    now = now_iso()

    def write(cur: Entity | None) -> tuple[Any, Any]:
        cur = change.must_exist(cur, entity["id"])
        if cur["attrs"].pop(iri, None) is None:
            raise ResourceNotFound("the attribute was deleted meanwhile")
        cur["modifiedAt"] = now
        return cur, None

    await _write(request, broker, tenant, entity["id"], write)
    return Response(status_code=204)


# /v2/types --------------------------------------------------------------------------------
@v2_endpoint
async def list_types(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_v2(request)
    options = options_v2(request, frozenset({"count", "values", "noAttrDetail"}))
    ctx = await core(broker)
    infos = await broker.store.entity_types(tenant)
    limit = int_arg(request, "limit", 20, MAX_LIMIT)
    offset = int_arg(request, "offset", 0, 10**9)
    page = infos[offset:offset + limit]
    headers = {"Fiware-Total-Count": str(len(infos))} if "count" in options else None
    if "values" in options:
        return json_response([ctx.compact_iri(i.type) for i in page], headers=headers)
    return json_response([{"type": ctx.compact_iri(i.type), "attrs": _attr_types(i, ctx),
                           "count": i.count} for i in page], headers=headers)


def _attr_types(info: Any, ctx: ActiveContext) -> dict[str, Any]:
    kinds = {"Relationship": "Relationship", "GeoProperty": "geo:json"}
    return {ctx.compact_iri(iri): {"types": sorted({kinds.get(k, "Property") for k in ks})}
            for iri, ks in info.attrs.items()}


@v2_endpoint
async def retrieve_type(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_v2(request)
    ctx = await core(broker)
    wanted = ctx.expand_term(check_name(request.path_params["entityType"], "entity type",
                                        is_id=True))
    for info in await broker.store.entity_types(tenant):
        if info.type == wanted:
            return json_response({"attrs": _attr_types(info, ctx), "count": info.count})
    raise V2Error(404, "Entity type not found")
