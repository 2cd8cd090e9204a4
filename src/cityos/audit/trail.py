"""The audit trail of every request: who, organisation, IP, tenant, operation, entity ids,
outcome and sizes — never secrets, query values or attribute values (guideline 都市OS③-3).

Records are buffered and appended in batches (one durable transaction every few hundred ms),
so answering a read never waits for the log; a write to data is answered only once its audit
record and its write record (see trust/hook.py, `DURABLE`) are in the store, so that a crash
loses no record of an acknowledged write. `close` flushes what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Callable, MutableMapping
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from cityos.audit.chain import canonical, link
from cityos.operations import Endpoint, Operation
from cityos.storage.base import Store
from cityos.tenant import tenant_of

LOG = "audit"
PRINCIPAL = "cityos.principal"  # scope key where the gate leaves who is calling
SUBJECTS = "cityos.subjects"  # scope key: resident ids whose data a handler touched
DURABLE = "cityos.durable"  # scope key: flushes to await (with the audit record's) before answering
HEAD = ("audit.head", "audit")  # kv space and key of the last anchored (seq, hash)
FLUSH_SECONDS = 0.25
PRUNE_SECONDS = 3600.0
MAX_IDS = 100  # entity ids kept per record

log = logging.getLogger("cityos.audit")


class AuditTrail:
    """Buffers records and appends them to the store's `audit` log in the background."""

    def __init__(self, store: Store, retention_days: float = 0.0) -> None:
        self.store = store
        self.retention_days = retention_days  # > 0: prune older records about once an hour
        self._pruned = float("-inf")  # the first flush prunes
        self._pending: list[bytes] = []
        self.watchers: list[Callable[[dict[str, Any]], None]] = []  # see each record as made
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._head: int | None = None  # seq of the last append, not yet kept as the head

    def record(self, record: dict[str, Any]) -> None:
        self._pending.append(canonical(record))
        for watch in self.watchers:  # e.g. the catalog's usage meter (billing per organisation)
            watch(record)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(FLUSH_SECONDS)
        await self.flush()

    async def flush(self) -> None:
        """Append what is pending, keep the trail's head, prune when due."""
        await self.commit()
        await self._anchor()

    async def commit(self) -> None:
        """Return when every record made before the call is in the store (what a write waits
        for). One at a time: the requests waiting meanwhile share the next append."""
        async with self._lock:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    self._head = await self.store.append_log(LOG, batch, link)
                except Exception:  # the store is gone: say so loudly, never fail the requests
                    log.exception("could not append %d audit records", len(batch))
                    return

    async def _anchor(self) -> None:
        """Keep the last appended (seq, hash) as the trail's head, and prune now and then
        (in the background: an acknowledged write waits for neither)."""
        seq, self._head = self._head, None
        if seq is not None:
            try:
                [last] = await self.store.read_log(LOG, after=seq - 1, limit=1)
                await self.store.kv_put(*HEAD, {"seq": last.seq, "hash": last.hash})
            except Exception:
                log.exception("could not keep the audit trail's head")
        if self.retention_days > 0 and time.monotonic() - self._pruned > PRUNE_SECONDS:
            self._pruned = time.monotonic()
            from cityos.audit.retention import prune_audit  # it needs LOG from here

            try:
                await prune_audit(self.store, self.retention_days)
            except Exception:
                log.exception("could not prune the audit trail")

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()


UNAUDITED = {("GET", "/healthz")}  # polled by load balancers every few seconds


def audited(op: Operation, endpoint: Endpoint) -> Endpoint:
    """Record every call of `endpoint` in the audit trail, whatever its outcome."""
    if (op.method, op.path) in UNAUDITED:
        return endpoint

    async def call(request: Request) -> Response:
        started = time.perf_counter()
        try:
            response = await endpoint(request)
        except Exception as exc:
            handled = await handled_response(request, exc)
            if handled is None:  # the server error handler answers 500 (and logs it)
                trail_of(request.app).record(build_record(op, request, 500, 0, started))
                raise
            response = handled
        body = getattr(response, "body", None)  # a streamed response has none: its header
        if isinstance(body, bytes):
            out = len(body)
        else:
            size = response.headers.get("content-length", "0")
            out = int(size) if size.isdigit() else 0
        trail = trail_of(request.app)
        trail.record(build_record(op, request, response.status_code, out, started))
        waits = request.scope.get(DURABLE)
        if waits:  # a write to data: its records are in the store before it is acknowledged
            await asyncio.gather(trail.commit(), *(flush() for flush in waits))
        return response

    call.__name__ = endpoint.__name__
    return call


async def handled_response(request: Request, exc: Exception) -> Response | None:
    """The response the app's exception handlers make of `exc` (None: no handler but the
    server error one, i.e. a 500), chosen as Starlette chooses, so that the trail records the
    status the client receives whatever the exception (a `NotOwner` is a 403, not a 500)."""
    handlers, by_status = request.scope.get("starlette.exception_handlers", ({}, {}))
    handler = by_status.get(exc.status_code) if isinstance(exc, HTTPException) else None
    if handler is None:
        handler = next((handlers[cls] for cls in type(exc).__mro__ if cls in handlers), None)
    if handler is None:
        return None
    response = handler(request, exc)
    if inspect.isawaitable(response):
        response = await response
    return response if isinstance(response, Response) else None


def trail_of(app: Any) -> AuditTrail:
    """The app's trail, made on first use (for the store the app has open now)."""
    store = app.state.broker.store
    trail: AuditTrail | None = getattr(app.state, "audit", None)
    if trail is None or trail.store is not store:
        trail = AuditTrail(store, app.state.settings.access.audit_retention_days)
        trail.watchers = list(getattr(app.state, "audit_watchers", ()))
        app.state.audit = trail
    return trail


async def close_trail(app: Any) -> None:
    """Flush the app's trail before its store closes (called from the app's lifespan)."""
    trail: AuditTrail | None = getattr(app.state, "audit", None)
    if trail is not None:
        await trail.close()


def _entity_ids(op: Operation, entity_id: str | None, body: bytes) -> list[str]:
    ids = [] if entity_id is None else [entity_id]
    if body and op.body is not None and op.path.startswith("/ngsi-ld/v1/entit"):
        with contextlib.suppress(orjson.JSONDecodeError):
            data = orjson.loads(body)
            for item in data if isinstance(data, list) else [data]:
                value = item.get("id") if isinstance(item, dict) else item
                if isinstance(value, str) and value not in ids:
                    ids.append(value)
    return [i[:256] for i in ids[:MAX_IDS]]


def touch_subjects(request: Request, *resident_ids: str) -> None:
    """Name the residents whose personal data this request reads or changes (Personal-Link's
    handlers call it), so that the audit record lists them as data subjects."""
    request.scope.setdefault(SUBJECTS, []).extend(resident_ids)


def _subjects(scope: MutableMapping[str, Any], principal: Any) -> list[str]:
    """Data subjects of a request: the acting resident, and those a handler named."""
    named: list[str] = scope.get(SUBJECTS, [])
    own = [principal.name] if principal is not None and principal.kind == "resident" else []
    if not named:
        return own
    return list(dict.fromkeys(own + [str(s)[:64] for s in named]))[:MAX_IDS]


# scope key: the owner of another's resource (subscription, registration) a staff admin acted
# on; the record then names it as `owner` (issue #18)
ACTING_FOR = "cityos.acting_for"

_second: tuple[int, str] = (0, "")


def _timestamp(at: float) -> str:
    """ISO 8601 UTC with milliseconds; the formatted second is reused (this is per request)."""
    global _second
    whole = int(at)
    if _second[0] != whole:
        _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{_second[1]}.{int((at - whole) * 1000):03d}Z"


def build_record(op: Operation, request: Request, status: int, bytes_out: int,
                 started: float) -> dict[str, Any]:
    """What the trail keeps of one request (ids and sizes, never values or secrets)."""
    scope = request.scope
    principal = scope.get(PRINCIPAL)
    client = scope.get("client")
    # one pass over the raw headers (the first of a repeated name wins, as in Headers.get)
    declared = ""
    for name, value in reversed(scope["headers"]):
        if name == b"content-length":
            declared = value.decode("latin-1")
    tenant = tenant_of(scope)  # the Caller's; a refused or open request's, decided the same
    # only a body the operation already read (Starlette keeps it on the request) is looked at
    body: bytes = getattr(request, "_body", b"") if op.body is not None else b""
    entity_id = scope.get("path_params", {}).get("entityId")
    record: dict[str, Any] = {
        "at": _timestamp(time.time()),
        "who": principal.sub if principal is not None else "anonymous",
        "org": principal.org if principal is not None else "",
        "ip": client[0] if client else "",
        "tenant": tenant[:64],
        "op": op.operation_id, "method": op.method, "path": scope["path"][:512],
        "entities": _entity_ids(op, None if entity_id is None else str(entity_id), body)
        if body or entity_id is not None else [],
        "subjects": _subjects(scope, principal),
        "status": status,
        "bytes_in": len(body) or (int(declared) if declared.isdigit() else 0),
        "bytes_out": bytes_out,
        "ms": round((time.perf_counter() - started) * 1000, 3),
    }
    owner = scope.get(ACTING_FOR)
    if owner is not None:
        record["owner"] = str(owner)[:256]
    return record
