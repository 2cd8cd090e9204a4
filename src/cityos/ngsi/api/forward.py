"""Distributed provision: writes forwarded to the context sources registered for them.

ETSI GS CIM 009 v1.8 §4.3.6 (registration modes), §5.6.x.4 (each operation's distributed
behaviour), Table 4.20-2 (operation groups), §6.3.17 (loops). For a write that is not
`local=true`, every live registration whose information matches the entity (id, idPattern,
type) and the written attributes, in mode

- `inclusive`: receives its part of the write, which is also applied here;
- `exclusive`: receives its part, which is taken out of the local write; a registration that
  does not support the operation answers Conflict for its part instead;
- `redirect`: like exclusive; one without attributes takes the whole entity away from here;
- `auxiliary`: is never written to.

The local part runs through the unchanged local handler (a request with the reduced body);
the parts go out in parallel, each with its registration's timeout. All succeeded: the
operation's own answer. One party only and it failed: its error. Otherwise 207 with what
succeeded and what failed (`registrationId` naming the source). A request whose `Via`
already names this broker is done locally, or refused with 508 LoopDetected when the data
is held only by the sources.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import orjson
from starlette.requests import Request
from starlette.responses import Response

from cityos.jsonvalue import TooDeep, loads
from cityos.ngsi.api.entities import broker_of
from cityos.ngsi.api.forward_plan import (
    ENTITY_KEYS,
    Part,
    entity_types,
    only,
    split,
    supports,
    with_body,
    without_context,
)
from cityos.ngsi.api.release import principal_sub, writer_of
from cityos.ngsi.api.request import bool_param, link_context, tenant_of
from cityos.ngsi.api.respond import problem_response
from cityos.ngsi.errors import Conflict, LoopDetected, NgsiError
from cityos.ngsi.federation import Doc, seen_by_us, via_after
from cityos.ngsi.model.registration import may_take_writes
from cityos.ngsi.model.terms import is_uri
from cityos.storage.base import Writer

Endpoint = Callable[[Request], Awaitable[Response]]
V1 = "/ngsi-ld/v1"
@dataclass(frozen=True)
class Shape:
    """How one write operation looks: its name and where its parts go."""

    op: str
    kind: str  # entity | fragment | attr | whole | batch | purge
    method: str
    success: int = 204


@dataclass
class Outcome:
    """One party's result: the local handler's, or a source's."""

    ok: bool
    status: int
    problem: dict[str, Any] | None = None
    reg: Doc | None = None
    body: Any = None
    entities: list[str] = field(default_factory=list)


def distributed(endpoint: Endpoint, shape: Shape) -> Endpoint:
    """`endpoint` (the local write) with its forwarding to registered context sources."""

    async def handler(request: Request) -> Response:
        broker = broker_of(request)
        tenant = tenant_of(request)
        if bool_param(request, "local") or not broker.federation.active(tenant):
            return await endpoint(request)
        looping = seen_by_us(request.headers.get("via"))
        try:
            work = await _Work.make(request, shape)
        except NgsiError:
            return await endpoint(request)  # the local handler answers bad input itself
        if work is None:
            return await endpoint(request)
        if looping:
            if work.skip_local:
                return problem_response(LoopDetected(
                    "this request came back here for data held only by a context source"))
            return await endpoint(request)
        return await work.run(endpoint)

    handler.__name__ = endpoint.__name__
    handler.__doc__ = endpoint.__doc__
    return handler


def _may_forward(writer: Writer, types: set[str] | None) -> bool:
    """Whether a write may go to context sources (issue 18): a writer with type grants only
    for types it may write, known ones (unknown types: the local write decides, and
    refuses or does not find it)."""
    if writer.types is None:
        return True
    return types is not None and types <= writer.types


class _Work:
    """A write split into its local part and its sources' parts."""

    def __init__(self, request: Request, shape: Shape, body: Any, ctx: Any,
                 parts: list[Part], local_body: Any, skip_local: bool) -> None:
        self.request = request
        self.shape = shape
        self.body = body
        self.ctx = ctx
        self.parts = parts
        self.local_body = local_body
        self.skip_local = skip_local
        self.item_ctx: dict[str, Any] = {}  # batch: entity id -> its own @context
        self.context_url: str | None = None  # the body's @context, sent in a Link header

    @classmethod
    async def make(cls, request: Request, shape: Shape) -> _Work | None:
        work = await cls._make(request, shape)
        if work is not None:
            first = work.body[0] if isinstance(work.body, list) and work.body else work.body
            inline = first.get("@context") if isinstance(first, dict) else None
            if inline is not None:
                work.context_url = (await broker_of(request).context_url(inline))[0]
        return work

    @classmethod
    async def _make(cls, request: Request, shape: Shape) -> _Work | None:
        broker = broker_of(request)
        tenant = tenant_of(request)
        writer = principal_sub(request)
        regs = [r for r in await broker.federation.writable(tenant) if may_take_writes(r, writer)]
        if not regs:
            return None
        body: Any = None
        if shape.kind not in ("whole", "purge") and shape.method != "DELETE":
            raw = await request.body()
            try:
                body = loads(raw) if raw else None  # too deep: answered here
            except (orjson.JSONDecodeError, TooDeep):
                return None
        context = body.get("@context") if isinstance(body, dict) else None
        ctx = await broker.context(context if context is not None else link_context(request))
        if shape.kind == "batch":
            return await cls._batch(request, shape, regs, body, ctx)
        if shape.kind == "purge":
            return cls._purge(request, shape, regs, ctx)
        entity_id = request.path_params.get("entityId") or (
            body.get("id", body.get("@id")) if isinstance(body, dict) else None)
        if not is_uri(entity_id):
            return None  # the local handler refuses it (400) before anything is forwarded
        types = await entity_types(broker, tenant, entity_id, body, ctx)
        if not _may_forward(writer_of(request), types):
            return None  # not forwarded: the local write refuses it (issue 18)
        if shape.kind == "attr":
            attrs: set[str] | None = {ctx.expand_term(request.path_params["attrId"])}
        elif shape.kind == "whole":
            attrs = None
        else:
            if not isinstance(body, dict):
                return None
            attrs = {ctx.expand_term(k) for k in body if k not in ENTITY_KEYS}
        parts, local_attrs, whole_away = split(regs, shape.op, entity_id, types, attrs)
        if not parts:
            return None
        if shape.kind in ("entity", "fragment"):
            local_body = only(body, local_attrs, ctx)
            removed = bool(attrs) and local_attrs is not None and local_attrs != attrs
            skip = whole_away or (removed and not local_attrs)
        elif shape.kind == "attr":
            local_body = body
            skip = whole_away or not local_attrs
        else:
            local_body = body
            skip = whole_away
        return cls(request, shape, body, ctx, parts, local_body, skip)

    @classmethod
    async def _batch(cls, request: Request, shape: Shape, regs: list[Doc], body: Any,
                     ctx: Any) -> _Work | None:
        if not isinstance(body, list):
            return None
        broker = broker_of(request)
        tenant = tenant_of(request)
        by_reg: dict[int, Part] = {}
        local_items: list[Any] = []
        item_ctxs: dict[str, Any] = {}
        for item in body:
            entity_id = item if isinstance(item, str) else (
                item.get("id", item.get("@id")) if isinstance(item, dict) else None)
            if not is_uri(entity_id):
                local_items.append(item)
                continue
            item_ctx = ctx
            if isinstance(item, dict) and item.get("@context") is not None:
                item_ctx = await broker.context(item["@context"])  # application/ld+json
            item_ctxs[entity_id] = item_ctx
            types = await entity_types(broker, tenant, entity_id, item if isinstance(item, dict)
                                 else None, item_ctx)
            if not _may_forward(writer_of(request), types):
                local_items.append(item)  # not forwarded: the local write refuses it
                continue
            attrs = None if isinstance(item, str) else {
                item_ctx.expand_term(k) for k in item if k not in ENTITY_KEYS}
            parts, local_attrs, whole_away = split(regs, shape.op, entity_id, types, attrs)
            for part in parts:
                key = id(part.reg)
                merged = by_reg.setdefault(key, Part(part.reg, set(), refused=part.refused))
                merged.entities.append(entity_id)
                if merged.attrs is not None:
                    merged.attrs = None if part.attrs is None else merged.attrs | part.attrs
            if isinstance(item, str):
                if not whole_away:
                    local_items.append(item)
                continue
            removed = bool(attrs) and local_attrs is not None and local_attrs != attrs
            if whole_away or (removed and not local_attrs):
                continue
            local_items.append(only(item, local_attrs, item_ctx))
        if not by_reg:
            return None
        work = cls(request, shape, body, ctx, list(by_reg.values()), local_items,
                   not local_items)
        work.item_ctx = item_ctxs
        return work

    @classmethod
    def _purge(cls, request: Request, shape: Shape, regs: list[Doc], ctx: Any) -> _Work | None:
        wanted = request.query_params.get("type")
        types = {ctx.expand_term(t) for t in wanted.split(",")} if wanted else None
        parts = []
        for reg in regs:
            for info in reg["information"]:
                selectors = info.get("entities") or [{}]
                if types is None or any(s.get("type") in types or "type" not in s
                                        for s in selectors):
                    parts.append(Part(reg, None, refused=not supports(reg, shape.op)))
                    break
        if not parts:
            return None
        return cls(request, shape, None, ctx, parts, None, False)

    # running it ------------------------------------------------------------------------
    async def run(self, endpoint: Endpoint) -> Response:
        remote = [p for p in self.parts if not p.refused]
        refused = [p for p in self.parts if p.refused]
        tasks = [asyncio.ensure_future(self._send(p)) for p in remote]
        outcomes: list[Outcome] = []
        local: Outcome | None = None
        response: Response | None = None
        if not self.skip_local:
            response = await self._local(endpoint)
            local = await _outcome_of(response)
            outcomes.append(local)
        outcomes += await asyncio.gather(*tasks)
        outcomes += [Outcome(False, 409, Conflict(
            f"the registration {p.reg.get('id')} holds this data exclusively but does not "
            f"support {self.shape.op}").problem(), reg=p.reg, entities=p.entities)
            for p in refused]
        if self.shape.kind == "purge" and local is not None and not local.ok \
                and local.status == 404 and any(o.ok for o in outcomes if o is not local):
            outcomes.remove(local)  # nothing to purge here is no failure of the whole
        if all(o.ok for o in outcomes):
            if response is not None and local is not None and local.ok:
                return response
            return self._success()
        if len(outcomes) == 1:
            only = outcomes[0]
            if only is local and response is not None:
                return response
            return Response(orjson.dumps(only.problem), status_code=only.status,
                            media_type="application/json")
        if self.shape.op in ("updateEntity", "appendAttrs") and self._attrs_done(outcomes):
            return Response(status_code=204)
        return Response(orjson.dumps(self._multi(outcomes)), status_code=207,
                        media_type="application/json")

    def _attrs_done(self, outcomes: list[Outcome]) -> bool:
        """An attribute not updated here but updated by a source is updated (§5.6.2.4)."""
        failed_remote = [o for o in outcomes if not o.ok and o.reg is not None]
        local = next((o for o in outcomes if o.reg is None), None)
        if failed_remote or local is None or local.ok:
            return False
        missing = {n["attributeName"] for n in (local.body or {}).get("notUpdated", ())
                   if isinstance(n, dict) and "attributeName" in n}
        covered: set[str] = set()
        for part in self.parts:
            if not part.refused:
                covered |= {self.ctx.compact_iri(a) for a in part.attrs or ()}
        return bool(missing) and missing <= covered

    def _success(self) -> Response:
        if self.shape.success == 201 and self.shape.kind == "entity":
            entity_id = (self.body or {}).get("id", (self.body or {}).get("@id", ""))
            return Response(status_code=201, headers={
                "Location": f"{V1}/entities/{quote(str(entity_id), safe=':')}"})
        if self.shape.kind == "batch" and self.shape.op == "createBatch":
            ids = [i.get("id") if isinstance(i, dict) else i for i in self.body or ()]
            return Response(orjson.dumps(ids), status_code=201, media_type="application/json")
        return Response(status_code=self.shape.success if self.shape.kind != "batch" else 204)

    def _multi(self, outcomes: list[Outcome]) -> dict[str, Any]:
        """207: what succeeded and what failed, each failure with its problem and source."""
        entity_id = self.request.path_params.get("entityId") or (
            (self.body or {}).get("id") if isinstance(self.body, dict) else None)
        success: list[Any] = []
        errors: list[dict[str, Any]] = []
        for o in outcomes:
            names: list[str | None] = [*(o.entities or ([entity_id] if entity_id else []))]
            if o.ok:
                success += [n for n in names if n not in success]
                continue
            if self.shape.kind == "batch" and o.reg is None and isinstance(o.body, dict):
                errors += list(o.body.get("errors", ()))
                success += [s for s in o.body.get("success", ()) if s not in success]
                continue
            for name in names or [None]:  # None: the error names no entity
                item: dict[str, Any] = {"error": o.problem or {"status": o.status}}
                if name is not None:
                    item["entityId"] = name
                if o.reg is not None:
                    item["registrationId"] = o.reg.get("id")
                errors.append(item)
        return {"success": success, "errors": errors}

    async def _local(self, endpoint: Endpoint) -> Response:
        """The local handler on the local part of the request."""
        body = self.local_body
        request = self.request if body is self.body else with_body(self.request,
                                                                    orjson.dumps(body))
        try:
            return await endpoint(request)
        except NgsiError as exc:
            return problem_response(exc)

    async def _send(self, part: Part) -> Outcome:
        federation = broker_of(self.request).federation
        path, params = self._target(part)
        body = self._part_body(part)
        # §6.3.5: forwarded as application/json with the @context in a Link header
        headers = {k.title(): v for k, v in self.request.headers.items() if k == "link"}
        tenant = tenant_of(self.request)
        if tenant:
            headers["NGSILD-Tenant"] = tenant
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self.context_url is not None:
            headers["Link"] = (f'<{self.context_url}>; rel="http://www.w3.org/ns/json-ld#context";'
                               ' type="application/ld+json"')
        if isinstance(part.reg.get("tenant"), str):
            headers["NGSILD-Tenant"] = part.reg["tenant"]
        headers["Via"] = via_after(self.request.headers.get("via"))
        try:
            answer = await federation.send(part.reg, self.shape.method, path, params, headers,
                                           None if body is None else orjson.dumps(body))
        except Exception as exc:  # a dead or slow source is reported, never raised
            return Outcome(False, 504, {"type": "https://uri.etsi.org/ngsi-ld/errors/"
                                                "InternalError", "title": "GatewayTimeout",
                                        "status": 504,
                                        "detail": f"context source did not answer: "
                                                  f"{type(exc).__name__}"},
                           reg=part.reg, entities=part.entities)
        status, content = answer
        parsed: Any = None
        if content:
            try:
                parsed = orjson.loads(content)
            except orjson.JSONDecodeError:
                parsed = None
        if 200 <= status < 300 and status != 207:
            return Outcome(True, status, reg=part.reg, entities=part.entities)
        problem = parsed if isinstance(parsed, dict) and "status" in parsed else {
            "type": "https://uri.etsi.org/ngsi-ld/errors/InternalError",
            "title": "PartialSuccess" if status == 207 else "ContextSourceError",
            "status": status, "detail": f"the context source answered {status}"}
        return Outcome(False, status, problem, reg=part.reg, body=parsed,
                       entities=part.entities)

    def _target(self, part: Part) -> tuple[str, list[tuple[str, str]]]:
        params = [(k, v) for k, v in self.request.query_params.multi_items() if k != "local"]
        path = self.request.url.path
        entity_id = self.request.path_params.get("entityId")
        if entity_id is not None:
            eid = quote(entity_id, safe=":")
            if self.shape.kind == "attr":
                path = f"{V1}/entities/{eid}/attrs/{quote(self.request.path_params['attrId'])}"
            elif self.shape.op in ("updateEntity", "appendAttrs"):
                path = f"{V1}/entities/{eid}/attrs/"
            else:
                path = f"{V1}/entities/{eid}"
        return path, params

    def _part_body(self, part: Part) -> Any:
        return without_context(self._part(part))

    def _part(self, part: Part) -> Any:
        if self.body is None:
            return None
        if self.shape.kind == "batch":
            out = []
            for item in self.body:
                entity_id = item if isinstance(item, str) else (
                    item.get("id", item.get("@id")) if isinstance(item, dict) else None)
                if entity_id in part.entities:
                    out.append(item if isinstance(item, str) else
                               only(item, part.attrs, self.item_ctx.get(entity_id, self.ctx)))
            return out
        if self.shape.kind == "attr":
            return self.body
        return only(self.body, part.attrs, self.ctx)


async def _outcome_of(response: Response) -> Outcome:
    body: Any = None
    raw = getattr(response, "body", b"")
    if raw:
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
    ok = 200 <= response.status_code < 300 and response.status_code != 207
    problem = body if not ok and isinstance(body, dict) and "status" in body else (
        None if ok else {"status": response.status_code, "title": "PartialSuccess",
                         "detail": body})
    return Outcome(ok, response.status_code, problem, body=body)

