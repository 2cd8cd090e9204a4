"""Per-entity-type grants of organisations: which company may read or write which types.

Data linkage (MIC guideline データ連携②): a grant names a type (short name, matched by the
local name of the expanded type IRI, or a full IRI); `*` grants every type.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from starlette.requests import Request

from cityos.jsonvalue import loads
from cityos.operations import NGSI_READ, NGSI_WRITE, Operation
from cityos.storage.base import EVERYTHING, Store

_TYPE_NAMES = re.compile(r"[^,;|()\s]+")
_LOCAL = re.compile(r"[/#:]")
_ENTITY_PATH = "/ngsi-ld/v1/entit"  # /entities… and /entityOperations/…
_V2_PATHS = ("/v2/entities", "/v2/op/")  # NGSI v2: the same grants, v2's way of naming types


def mode_of(op: Operation) -> str | None:
    """`read` or `write` for NGSI-LD operations that organisations may call, else None."""
    policy = op.access
    return "read" if policy == NGSI_READ else "write" if policy == NGSI_WRITE else None


def local_name(type_name: str) -> str:
    return _LOCAL.split(type_name)[-1]


def granted(grants: list[str], type_name: str) -> bool:
    return "*" in grants or type_name in grants or local_name(type_name) in grants


def _types_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return _TYPE_NAMES.findall(value)
    if isinstance(value, list):
        return [t for v in value if isinstance(v, str) for t in _TYPE_NAMES.findall(v)]
    return []


async def _stored_types(store: Store, tenant: str, entity_id: Any) -> list[str]:
    if not isinstance(entity_id, str):
        return []
    entity = await store.get_entity(tenant, entity_id, EVERYTHING)  # types, personal or not
    return [] if entity is None else list(entity.get("type", []))


async def _body(request: Request, limit: int) -> Any:
    """The JSON body, or None when it is too large or not JSON (the operation then refuses it)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    try:
        return loads(await request.body())
    except orjson.JSONDecodeError:
        return None


async def refusal(op: Operation, request: Request, grants: dict[str, list[str]],
                  store: Store, tenant: str, body_limit: int) -> str | None:
    """Why the organisation may not do this (None when its grants allow it)."""
    mode = mode_of(op)
    if mode is None:
        return None
    allowed = grants.get(mode, [])
    if "*" in allowed:
        return None
    if op.path.startswith(_V2_PATHS):
        return await _v2_refusal(op, request, allowed, mode, store, tenant, body_limit)
    if not op.path.startswith(_ENTITY_PATH):
        return f"{op.method} {op.path} needs a {mode} grant on every entity type ('*')"
    types: list[str] = []
    determined = False
    if "entityId" in request.path_params:
        types += await _stored_types(store, tenant, request.path_params["entityId"])
        determined = True
    if op.method == "GET" or (op.method == "DELETE" and "entityId" not in request.path_params):
        names = _types_in(request.query_params.get("type"))
        types += names
        determined = determined or bool(names)
    if op.body is not None:
        body = await _body(request, body_limit)
        if body is None:
            return None  # unreadable: the operation answers 400/413 without touching data
        items = body if isinstance(body, list) else [body]
        if op.path.endswith("/entityOperations/query") and isinstance(body, dict):
            items = [*items, *(body.get("entities") or [])]
            body_types = [t for i in items if isinstance(i, dict) and i.get("type") != "Query"
                          for t in _types_in(i.get("type"))]
            types += body_types
            determined = determined or bool(body_types)
        else:
            for item in items:
                entity = item if isinstance(item, dict) else {"id": item}
                types += _types_in(entity.get("type"))
                if "entityId" not in request.path_params:
                    types += await _stored_types(store, tenant, entity.get("id"))
            determined = True
    if not determined:
        return f"name the entity types (type=…): this organisation may {mode} only {allowed}"
    denied = sorted({local_name(t) for t in types if not granted(allowed, t)})
    if denied:
        return f"this organisation has no {mode} grant for entity type(s) {', '.join(denied)}"
    return None


async def _v2_refusal(op: Operation, request: Request, allowed: list[str], mode: str,
                      store: Store, tenant: str, body_limit: int) -> str | None:
    """The same grants over NGSI v2 (/v2/entities…, /v2/op/…): types named by `type`, by the
    body's entities, or by the stored entity a path or a batch item names."""
    from cityos.ngsi.v2.translate import DEFAULT_TYPE, to_ld_id

    types: list[str] = []
    determined = False
    if "entityId" in request.path_params:
        types += await _stored_types(store, tenant, to_ld_id(request.path_params["entityId"]))
        determined = True
    names = _types_in(request.query_params.get("type"))
    types += names
    determined = determined or bool(names)
    if op.body is not None and "entityId" not in request.path_params:
        body = await _body(request, body_limit)
        if body is None:
            return None  # unreadable: the operation answers 400/413 without touching data
        items = body.get("entities") if isinstance(body, dict) and op.path.startswith(
            "/v2/op/") else [body]
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            named = _types_in(item.get("type"))
            types += named
            if op.path == "/v2/op/query":
                determined = determined or bool(named)
                continue
            stored = await _stored_types(store, tenant, to_ld_id(str(item.get("id", ""))))
            types += stored
            if not named and not stored:
                types.append(DEFAULT_TYPE)  # a new entity without a type is a Thing
            determined = True
    if not determined:
        return f"name the entity types (type=…): this organisation may {mode} only {allowed}"
    denied = sorted({local_name(t) for t in types if not granted(allowed, t)})
    if denied:
        return f"this organisation has no {mode} grant for entity type(s) {', '.join(denied)}"
    return None
