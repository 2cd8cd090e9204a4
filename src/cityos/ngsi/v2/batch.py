"""NGSI v2 batch operations: POST /v2/op/update and POST /v2/op/query (Orion's API)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cityos.ngsi.api.selection import Selection, to_store_query
from cityos.ngsi.model import change
from cityos.ngsi.model.read import read_entity
from cityos.ngsi.model.terms import now_iso
from cityos.ngsi.v2 import qlang
from cityos.ngsi.v2.entities import (
    MAX_LIMIT,
    READ_OPTIONS,
    _ld_pattern,
    broker_of,
    core,
    reader_for,
    released,
    shown_v2,
    write_reader_of,
    writer_of,
)
from cityos.ngsi.v2.request import (
    V2Error,
    int_arg,
    json_body,
    json_response,
    options_v2,
    service_path,
    tenant_v2,
    v2_endpoint,
)
from cityos.ngsi.v2.translate import (
    DEFAULT_TYPE,
    V2Invalid,
    check_name,
    entity_to_ld,
    to_ld_id,
)
from cityos.storage.base import DELETE, Entity, Mutation

ACTIONS = ("append", "appendStrict", "update", "delete", "replace")
MAX_ENTITIES = 1000


@v2_endpoint
async def op_update(request: Request) -> Response:
    """All entities of the body in one transaction; the first refusal (a missing entity for
    update/delete/replace, an existing attribute for appendStrict) writes nothing."""
    broker = broker_of(request)
    tenant = tenant_v2(request)
    options = options_v2(request, frozenset({"keyValues"}))
    body = await json_body(request, broker.settings.max_body_bytes)
    if not isinstance(body, dict) or body.get("actionType") not in ACTIONS:
        raise V2Error(400, f"actionType must be one of {', '.join(ACTIONS)}")
    items = body.get("entities")
    if not isinstance(items, list) or not items or len(items) > MAX_ENTITIES:
        raise V2Error(400, f"entities must be a list of 1 to {MAX_ENTITIES} entities")
    action = body["actionType"]
    ctx = await core(broker)
    now = now_iso()
    scopes = service_path(request, query=False)
    entities: list[Entity] = []
    for item in items:
        ld = entity_to_ld(item, key_values="keyValues" in options)
        if isinstance(item, dict) and "type" not in item:
            ld.pop("type")  # an existing entity keeps its types; a new one becomes a Thing
        if scopes:
            ld["scope"] = scopes
        entities.append(read_entity(ld, ctx, now, require_type=False))
    ids = [e["id"] for e in entities]
    if len(set(ids)) != len(ids):
        raise V2Error(400, "an entity appears twice in one batch")
    reader = write_reader_of(request)
    visible: set[str] = set()
    for entity in entities:  # what the caller may not read, it may not change either
        if await broker.store.get_entity(tenant, entity["id"], reader) is not None:
            visible.add(entity["id"])
        elif action != "append":
            raise V2Error(404, f"entity {entity['id']} does not exist: nothing was changed")
    thing = [ctx.expand_term(DEFAULT_TYPE)]
    results = await broker.store.mutate(
        tenant, [(e["id"], _mutation(action, e, now, e["id"] in visible, thing))
                 for e in entities],
        writer=writer_of(request))
    failed = [r for r in results if isinstance(r, BaseException)]
    if failed:  # each item is its own transaction in the store: report, like Orion, the first
        raise failed[0]
    await broker.changed(tenant, ids)
    return Response(status_code=204)


def _mutation(action: str, entity: Entity, now: str, visible: bool,
              default_type: list[str]) -> Mutation:
    def write(cur: Entity | None) -> tuple[Any, Any]:
        if action == "delete":
            if cur is None:
                raise V2Error(404, f"entity {entity['id']} does not exist")
            if not entity["attrs"]:
                return DELETE, None
            for iri in entity["attrs"]:
                cur["attrs"].pop(iri, None)
            cur["modifiedAt"] = now
            return cur, None
        if action == "append":
            if cur is None or not visible:
                entity.setdefault("type", default_type)
                return change.create(cur, entity, now), None
            return change.append(cur, entity["id"], entity["attrs"], now,
                                 types=entity.get("type"))[0], None
        cur = change.must_exist(cur, entity["id"])
        if action == "appendStrict":
            present = [a for a in entity["attrs"] if a in cur["attrs"]]
            if present:
                raise V2Error(422, "attributes already exist (appendStrict)")
            return change.append(cur, entity["id"], entity["attrs"], now)[0], None
        if action == "update":
            missing = [a for a in entity["attrs"] if a not in cur["attrs"]]
            if missing:
                raise V2Error(422, "attributes do not exist (update)")
            return change.append(cur, entity["id"], entity["attrs"], now)[0], None
        new = {"id": entity["id"], "type": entity.get("type") or cur["type"],
               "attrs": entity["attrs"]}
        return change.replace(cur, new, now), None

    return write


@v2_endpoint
async def op_query(request: Request) -> Response:
    """Entities matching any of `entities` and all of `expression`, with `attrs` shown."""
    broker = broker_of(request)
    tenant = tenant_v2(request)
    options = options_v2(request, READ_OPTIONS)
    body = await json_body(request, broker.settings.max_body_bytes)
    if not isinstance(body, dict):
        raise V2Invalid("the body is a JSON object")
    limit = int_arg(request, "limit", 20, MAX_LIMIT)
    offset = int_arg(request, "offset", 0, 10**9)
    if limit == 0:
        raise V2Error(400, "limit must be at least 1")
    alternatives = [_selector(s) for s in body.get("entities") or []]
    expression = body.get("expression") or {}
    if not isinstance(expression, dict):
        raise V2Invalid("expression is a JSON object")
    geo = qlang.to_ld_geo(expression.get("georel"), expression.get("geometry"),
                          expression.get("coords"))
    scopes = service_path(request, query=True)
    sel = Selection(q=qlang.to_ld_q(expression.get("q"), expression.get("mq")),
                    georel=geo[0] if geo else None, geometry=geo[1] if geo else None,
                    coordinates=geo[2] if geo else None,
                    scope_q=",".join(scopes) if scopes else None,
                    any_of=alternatives or None)
    ctx = await core(broker)
    query = to_store_query(sel, ctx, limit=limit, offset=offset, count="count" in options)
    query.reader = reader_for(request)
    result = await broker.store.query_entities(tenant, query)
    released(request, tenant, result.entities, "batch")
    attrs = body.get("attrs")
    if attrs is not None and not (isinstance(attrs, list) and
                                  all(isinstance(a, str) for a in attrs)):
        raise V2Invalid("attrs is a list of attribute names")
    data = [shown_v2(e, ctx, request, options, attrs or None) for e in result.entities]
    headers = {"Fiware-Total-Count": str(result.count)} if result.count is not None else None
    return json_response(data, headers=headers)


def _selector(item: Any) -> Selection:
    if not isinstance(item, dict):
        raise V2Invalid("each of entities is an object with id or idPattern and type")
    if "typePattern" in item:
        raise V2Error(501, "typePattern is not supported: list the types", "NotImplemented")
    entity_type = item.get("type")
    if entity_type is not None:
        check_name(entity_type, "entity type", is_id=True)
    if "id" in item:
        return Selection(type=entity_type, ids=[to_ld_id(check_name(item["id"], "entity id",
                                                                     is_id=True))])
    pattern = item.get("idPattern")
    if pattern is not None and not isinstance(pattern, str):
        raise V2Invalid("idPattern is a regular expression")
    return Selection(type=entity_type,
                     id_pattern=_ld_pattern(pattern) if pattern is not None else None)
