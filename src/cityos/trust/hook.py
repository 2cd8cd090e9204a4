"""The trust part's one hook into the write path: every NGSI-LD / NGSI v2 write passes here
after the gate. Writes are refused (503) while time-stamping is down (fail closed); an
organisation's seal (header `CityOS-Seal`) is verified, or demanded by the seal policy; each
accepted write becomes a leaf of the transparency log, naming the entities it changed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from cityos.audit.trail import DURABLE, PRINCIPAL
from cityos.jsonvalue import TooDeep, depth_over, loads
from cityos.ngsi.api.request import tenant_of, url_path
from cityos.ngsi.errors import BadRequestData, NgsiError
from cityos.ngsi.v2.request import tenant_v2
from cityos.operations import Operation
from cityos.tenant import tenant_of as request_tenant
from cityos.trust.private import seal_payload
from cityos.trust.seal import HEADER, SealError
from cityos.trust.writes import entity_ids, entity_key, write_leaf

_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DATA_PREFIXES = ("/ngsi-ld/v1/", "/v2/")
_HEADER = HEADER.lower().encode("latin-1")


class WritesSuspended(NgsiError):
    """Time-stamping has been down too long: writes wait until it is back (fail closed)."""

    title = "ServiceUnavailable"
    status = 503


def is_data_write(op: Operation) -> bool:
    return (op.method in _WRITE_METHODS and op.path.startswith(_DATA_PREFIXES)
            and not op.path.endswith("/query"))  # POST …/entityOperations/query reads


def _types(data: Any) -> list[str]:
    out: list[str] = []
    for item in data if isinstance(data, list) else [data]:
        value = item.get("type") if isinstance(item, dict) else None
        out += [value] if isinstance(value, str) else \
            [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
    return out


def _headers(raw: list[tuple[bytes, bytes]]) -> tuple[str, str | None]:
    """Content-Length (first) and the seal header (last) in one pass over the raw headers."""
    length = seal = None
    for name, value in raw:
        if name == b"content-length":
            length = value.decode("latin-1") if length is None else length
        elif name == _HEADER:
            seal = value.decode("latin-1")
    return length or "", seal


async def _private(request: Request, ids: list[str], payload: bytes
                   ) -> list[dict[str, str]] | None:
    """The sealed payload's boxes when the write touched personal entities (`trust.private`)."""
    personal = getattr(request.app.state, "personal", None)
    if personal is None or not ids:
        return None
    tenant = tenant_v2(request) if request.url.path.startswith("/v2/") else tenant_of(request)
    return await seal_payload(request.app.state.broker.store, personal.catalog, personal.vault,
                              tenant, ids, payload)


def written(response: Response, sent: list[str]) -> list[str]:
    """The entities a write changed, of the `sent` ones its body or path names: none for a
    refusal; for a 207 only those its answer lists as done (a batch's `success`; a one-entity
    partial update when it `updated` anything) — a refused item leaves no write record."""
    status = response.status_code
    if not 200 <= status < 300:
        return []
    if status != 207:
        return sent
    try:
        answer = orjson.loads(bytes(getattr(response, "body", b"") or b"null"))
    except orjson.JSONDecodeError:
        return []
    if not isinstance(answer, dict):
        return []
    if "success" in answer:
        done = {s for s in answer["success"] if isinstance(s, str)} \
            if isinstance(answer["success"], list) else set()
        return [i for i in sent if i in done]
    return sent[:1] if answer.get("updated") else []


def with_trust(op: Operation) -> Operation:
    """`op` with its endpoint behind the trust checks (other operations are returned as is)."""
    if not is_data_write(op):
        return op
    endpoint = op.endpoint

    async def trusted(request: Request) -> Response:
        trust = request.app.state.trust
        if not await trust.stamper.check():
            raise WritesSuspended("time-stamping is unavailable, so writes are suspended; "
                                  "retry later / タイムスタンプを取得できないため書き込みを停止中です",
                                  extra={"retryAfter": 60})
        scope = request.scope
        declared, header = _headers(scope["headers"])
        tenant = request_tenant(scope)  # the Caller's (the gate decided it)
        if declared.isdigit() and int(declared) > request.app.state.settings.ngsi.max_body_bytes:
            return await endpoint(request)  # refused there (413) before it is read
        principal = scope.get(PRINCIPAL)
        org = principal.org if principal is not None and principal.kind == "org" else None
        body = await request.body()
        try:
            data = loads(body, items=True) if body else None  # a batch: items checked there
        except orjson.JSONDecodeError:
            data = None  # the endpoint answers the bad body (in its API's own format)
        except TooDeep:
            if header is not None:
                raise
            data = None
        if header is not None and isinstance(data, list) and any(map(depth_over, data)):
            raise TooDeep()  # a seal covers the whole body: no item of it is written
        try:
            seal = await trust.seals.check(org, header, data, _types(data))
        except SealError as exc:
            raise BadRequestData(exc.detail, extra={"sealError": exc.code}) from None
        response = await endpoint(request)
        path_id = request.path_params.get("entityId")
        sent = entity_ids(data, None if path_id is None else str(path_id))
        ids = written(response, sent)
        if ids or (not sent and response.status_code in range(200, 300)
                   and response.status_code != 207):  # a write whose body names no id
            # a seal signs the whole body: its payload is boxed for every entity it names
            sealed = None if seal is None else await _private(request, sent, seal.payload)
            trust.writes.record(write_leaf(
                tenant=tenant, who=principal.sub if principal is not None else "anonymous",
                org=org or "", op=op.operation_id, method=op.method, path=url_path(request),
                entities=ids, status=response.status_code, body=body, seal=seal,
                sealed=sealed), [entity_key(tenant, i) for i in ids])
            scope.setdefault(DURABLE, []).append(trust.writes.flush)  # before the answer
        return response

    trusted.__name__ = endpoint.__name__
    return dataclasses.replace(op, endpoint=trusted)
