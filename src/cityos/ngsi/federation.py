"""Distributed retrieval and query: asking the registered context sources as well (§5.5.x).

ETSI GS CIM 009 v1.8 §4.3.6 (distributed operations), §5.9 (registrations). A retrieval or a
query that is not `local=true` goes to every registration that may hold what is asked
(entity types, ids, attributes; `operations` allowing it), in parallel, each with its own
timeout (`management.timeout` in ms, else `ngsi.forward_timeout`), so one dead source costs
at most its timeout. A query is narrowed to what each registration holds (its entity types
and ids, and the asked attributes it registers). What comes back is merged with the local
entities by id: attribute instances by datasetId; an instance held here is replaced only by
the newer `observedAt` (else `modifiedAt`) of one of the town's registrations (staff-made or
approved, not `auxiliary`) — a company's own registration adds what is not held here but never
replaces local data (issue #18). A registration serves only its owner's requests unless it is
the town's (`registration.serves`). Forwarded requests carry a `Via` header
that names this broker after the ones before it; a request whose `Via` already names it is
answered locally, so brokers registered with each other never loop. A source that did not
answer is named in an `NGSILD-Warning` header of the response.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from cityos import egress
from cityos.ngsi.model.read import read_entity
from cityos.ngsi.model.registration import (
    CONTEXT_KEY,
    OWNER_KEY,
    info_matches,
    is_towns,
    serves,
)
from cityos.ngsi.model.terms import now_iso, parse_datetime
from cityos.storage.base import Store

log = logging.getLogger("cityos.ngsi.federation")
Doc = dict[str, Any]
INSTANCE = f"cityos-{uuid.uuid4().hex[:12]}"  # this process, in Via headers
# operations a registration may name (§5.2.9 `operations`, §4.3.6.2 operation groups)
_GROUPS = {"retrieveOps", "federationOps", "redirectionOps"}
GET_ONE = {"retrieveEntity", *_GROUPS}
GET_MANY = {"queryEntity", *_GROUPS}
POST_QUERY = {"queryBatch", *_GROUPS}


def how(reg: Doc, op: str) -> str | None:
    """How to ask this source: "get" (GET /entities/{id}), "query" (GET /entities) or
    "batch" (POST /entityOperations/query), by the operations it registered; None: not."""
    ops = set(reg.get("operations") or ("federationOps",))
    if op == "retrieve" and ops & GET_ONE:
        return "get"
    if ops & GET_MANY:
        return "query"
    if ops & POST_QUERY:
        return "batch"
    return None


def registrations_space(tenant: str) -> str:
    return f"ngsi.registrations/{tenant}"


class Federation:
    """The registrations of each tenant in memory (reloaded when one changes) and a client."""

    def __init__(self, store: Store, timeout: float = 3.0) -> None:
        self.store = store
        self.timeout = timeout
        self._regs: dict[str, list[Doc]] = {}
        self._cooling: dict[str, float] = {}  # registration id -> monotonic time it may be asked
        # every connection passes the egress policy (cityos.egress) at connect time
        self._client = egress.client(timeout=timeout, limits=httpx.Limits(max_connections=64))

    async def aclose(self) -> None:
        await self._client.aclose()

    def forget(self, tenant: str) -> None:
        self._regs.pop(tenant, None)

    def active(self, tenant: str) -> bool:
        """May this tenant have registrations? (True until they have been read once.)"""
        regs = self._regs.get(tenant)
        return regs is None or bool(regs)

    async def _registrations(self, tenant: str) -> list[Doc]:
        regs = self._regs.get(tenant)
        if regs is None:
            regs = [r for _, r in await self.store.kv_list(registrations_space(tenant))
                    if CONTEXT_KEY in r]
            self._regs[tenant] = regs
        return regs

    async def sources(self, tenant: str, op: str, types: set[str] | None,
                      ids: set[str] | None, pattern: str | None,
                      attrs: set[str] | None, principal: str) -> list[Doc]:
        """The live registrations that may hold what is asked, for this operation, among
        those that serve `principal` (a company's own serve only it, issue #18)."""
        regs = await self._registrations(tenant)
        if not regs:
            return []
        compiled = re.compile(pattern) if pattern else None
        now = parse_datetime(now_iso())
        found = []
        for reg in regs:
            if _expired(reg, now) or not serves(reg, principal):
                continue
            if how(reg, op) is None:
                continue
            if any(info_matches(i, types, ids, compiled, attrs) for i in reg["information"]):
                found.append(reg)
        return found

    async def writable(self, tenant: str) -> list[Doc]:
        """The live registrations that writes may go to (forward.py picks among them)."""
        regs = await self._registrations(tenant)
        if not regs:
            return []
        now = parse_datetime(now_iso())
        return [r for r in regs if not _expired(r, now) and r.get("mode") != "auxiliary"]

    def _timeout(self, reg: Doc) -> float:
        management = reg.get("management")
        if isinstance(management, dict) and isinstance(management.get("timeout"), int | float):
            return max(0.05, float(management["timeout"]) / 1000)
        return self.timeout

    async def send(self, reg: Doc, method: str, path: str, params: list[tuple[str, str]],
                   headers: dict[str, str], content: bytes | None) -> tuple[int, bytes]:
        """One forwarded write: (status, body); raises when the source does not answer within
        its timeout or is cooling down after a failure (the caller reports it)."""
        url = str(reg["endpoint"]).rstrip("/") + path
        self._check_cooldown(reg)
        egress.policy().target(url, ("http", "https"))  # EgressRefused: reported by the caller
        try:
            response = await self._client.request(
                method, url, params=httpx.QueryParams(list[tuple[str, Any]](params)),
                content=content, headers=_with_info(reg, headers), timeout=self._timeout(reg))
        except Exception:
            self._failed(reg)
            raise
        if response.status_code >= 500:
            self._failed(reg)
        return response.status_code, response.content

    def _check_cooldown(self, reg: Doc) -> None:
        until = self._cooling.get(str(reg.get("id")))
        if until is not None and time.monotonic() < until:
            raise CoolingDown(f"{reg.get('endpoint')} failed lately: cooling down")

    def _failed(self, reg: Doc) -> None:
        """`management.cooldown` (ms): no request goes to a failed source for that long."""
        management = reg.get("management")
        cooldown = management.get("cooldown") if isinstance(management, dict) else None
        if isinstance(cooldown, int | float) and cooldown > 0:
            self._cooling[str(reg.get("id"))] = time.monotonic() + float(cooldown) / 1000

    async def fetch(self, reg: Doc, path: str, params: list[tuple[str, str]],
                    headers: dict[str, str], body: Any = None) -> Any:
        """One forwarded GET (a POST when `body` is given); raises on failure (the caller
        reports it)."""
        timeout = self._timeout(reg)
        url = str(reg["endpoint"]).rstrip("/") + path
        send = _with_info(reg, {**headers, "Via": via_after(headers.get("Via"))})
        query = httpx.QueryParams(list[tuple[str, Any]](params))
        self._check_cooldown(reg)
        egress.policy().target(url, ("http", "https"))  # EgressRefused: reported by the caller
        try:
            if body is None:
                response = await self._client.get(url, params=query, headers=send,
                                                  timeout=timeout)
            else:
                response = await self._client.post(
                    url, params=query, content=orjson.dumps(body), timeout=timeout,
                    headers={**send, "Content-Type": "application/json"})
            if response.status_code == 404:
                return None
            response.raise_for_status()
        except Exception:
            self._failed(reg)
            raise
        return orjson.loads(response.content)


class CoolingDown(Exception):
    """A source that failed lately is not asked again before its cooldown has passed."""


def _with_info(reg: Doc, headers: dict[str, str]) -> dict[str, str]:
    """The registration's `contextSourceInfo` key-values go with every request as headers
    (§5.2.9), without overriding the ones the protocol needs."""
    info = reg.get("contextSourceInfo")
    if not isinstance(info, list):
        return headers
    extra = {str(i["key"]): str(i["value"]) for i in info
             if isinstance(i, dict) and "key" in i and "value" in i}
    return {**egress.without_forbidden(extra), **headers}


def _expired(reg: Doc, now: Any) -> bool:
    expires = parse_datetime(reg.get("expiresAt"))
    return expires is not None and now is not None and expires <= now


def via_after(previous: str | None) -> str:
    mine = f"1.1 {INSTANCE}"
    return f"{previous}, {mine}" if previous else mine


def seen_by_us(via: str | None) -> bool:
    return via is not None and INSTANCE in via


def forward_headers(request_headers: Any, tenant: str) -> dict[str, str]:
    """The headers a forwarded request keeps (Link, Via) and its tenant (the Caller's)."""
    out = {k.title(): v for k, v in request_headers.items() if k in ("link", "via")}
    if tenant:
        out["NGSILD-Tenant"] = tenant
    out["Accept"] = "application/json"
    return out


async def gather(federation: Federation, regs: Iterable[Doc], path: str,
                 params: list[tuple[str, str]], headers: dict[str, str],
                 parse: Callable[[Any], Awaitable[list[Doc]] | list[Doc]],
                 body: Any = None) -> tuple[list[tuple[Doc, Doc]], list[str]]:
    """Ask every source at once; (registration, entity) pairs and the sources that failed."""
    regs = list(regs)

    async def one(reg: Doc) -> tuple[Doc, list[Doc]] | str:
        try:
            answer = await federation.fetch(reg, path, params, headers, body)
        except Exception as exc:  # any failure of a peer is reported, never raised
            log.info("context source %s failed: %s", reg.get("endpoint"), exc)
            return f"{reg.get('endpoint')}: {type(exc).__name__}"
        if answer is None:
            return reg, []
        items = answer if isinstance(answer, list) else [answer]
        parsed = parse(items)
        if asyncio.iscoroutine(parsed):
            parsed = await parsed
        return reg, parsed  # type: ignore[return-value]

    results = await asyncio.gather(*(one(r) for r in regs))
    pairs: list[tuple[Doc, Doc]] = []
    failed: list[str] = []
    for result in results:
        if isinstance(result, str):
            failed.append(result)
        else:
            reg, entities = result
            pairs += [(reg, e) for e in entities]
    return pairs, failed


def to_internal(items: list[Any], ctx: Any) -> list[Doc]:
    """Remote entities (normalized, the request's @context) in the store's form; what does
    not read as an entity is skipped."""
    out = []
    now = now_iso()
    for item in items:
        if not isinstance(item, dict):
            continue
        body = {k: v for k, v in item.items() if k != "@context"}
        try:
            out.append(read_entity(body, ctx, now))
        except Exception:  # a source's bad entity is left out, not our error
            log.info("context source sent an entity that does not read: %.200s", item)
    return out


def _time(inst: Doc) -> str:
    return str(inst.get("observedAt") or inst.get("modifiedAt") or "")


def merge(local: Doc | None, remote: Doc, *, local_wins: bool) -> Doc:
    """One entity from two holders: types joined, each attribute instance (by datasetId)
    from whoever has the newer one."""
    if local is None:
        return remote
    out = {**local, "type": list(dict.fromkeys([*local["type"], *remote["type"]])),
           "attrs": {k: list(v) for k, v in local.get("attrs", {}).items()}}
    for iri, instances in remote.get("attrs", {}).items():
        mine = out["attrs"].setdefault(iri, [])
        for inst in instances:
            same = [i for i, m in enumerate(mine) if m.get("datasetId") == inst.get("datasetId")]
            if not same:
                mine.append(inst)
            elif not local_wins and _time(inst) > _time(mine[same[0]]):
                mine[same[0]] = inst
    return out


def local_wins(reg: Doc) -> bool:
    """Does what is held here win over this registration's answer? Yes, unless it is the
    town's registration (staff-made or approved) and not `auxiliary`: a company's source never
    replaces local data, whoever's it is (issue #18). Registrations made without a principal
    (open NGSI-LD conformance runs, where nobody is anybody) keep the standard rule."""
    town = is_towns(reg) or not reg.get(OWNER_KEY)
    return reg.get("mode") == "auxiliary" or not town


def merged(local: list[Doc], pairs: list[tuple[Doc, Doc]]) -> list[Doc]:
    """Local entities first, in their order, then those only sources hold."""
    by_id: dict[str, Doc] = {e["id"]: e for e in local}
    order = [e["id"] for e in local]
    for reg, entity in pairs:
        if entity["id"] not in by_id:
            order.append(entity["id"])
        by_id[entity["id"]] = merge(by_id.get(entity["id"]), entity, local_wins=local_wins(reg))
    return [by_id[i] for i in order]


def warning(failed: list[str]) -> str:
    """NGSILD-Warning: which sources did not answer (the answer holds what the rest gave)."""
    return ", ".join(f'199 cityos "context source {quote(f, safe=":/ ")} did not answer"'
                     for f in failed)
