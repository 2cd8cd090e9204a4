"""Assemble the cityos ASGI app from its parts' declared operations.

Routing, OpenAPI, error rendering and the deny-by-default gate all read `OPERATIONS`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from cityos import __version__, egress
from cityos.access import routes as access_routes
from cityos.access.cors import add_cors
from cityos.access.gate import Gate
from cityos.access.service import AccountGrants, close_access
from cityos.audit.trail import audited, close_trail
from cityos.body_limit import BodyLimit
from cityos.catalog import routes as catalog_routes
from cityos.catalog.usage import UsageMeter
from cityos.iot import routes as iot_routes
from cityos.iot.service import Iot
from cityos.keystore import KeyStore
from cityos.ngsi.api import routes as ngsi_routes
from cityos.ngsi.api.respond import plain_json, problem_response
from cityos.ngsi.broker import Broker
from cityos.ngsi.errors import (
    BadRequestData,
    Forbidden,
    InternalError,
    InvalidRequest,
    MethodNotAllowed,
    NgsiError,
    ResourceNotFound,
)
from cityos.ngsi.v2 import routes as ngsi_v2_routes
from cityos.ngsi.v2.errors import OrionErrors
from cityos.openapi import build_openapi
from cityos.operations import STAFF_READ, Endpoint, Operation
from cityos.personal import routes as personal_routes
from cityos.personal.service import install as install_personal
from cityos.router import IndexedRouter
from cityos.services import registry as services_registry
from cityos.services.runtime import start_services, stop_services
from cityos.settings import Settings
from cityos.storage import open_store
from cityos.storage.base import NotOwner
from cityos.tenant import tenant_of
from cityos.trust import cert_routes
from cityos.trust import routes as trust_routes
from cityos.trust.hook import with_trust
from cityos.trust.service import Trust
from cityos.trust.state import record_baseline
from cityos.web import routes as web_routes
from cityos.web.console import routes as console_routes
from cityos.web.middleware import PageSession

log = logging.getLogger("cityos")


async def version(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    return plain_json({
        "name": "cityos", "version": __version__,
        "ngsi-ld": {"apiVersion": "1.8.1", "spec": "ETSI GS CIM 009 V1.8.1",
                    "coreContext": "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"},
        "storage": settings.database_url.split(":", 1)[0],
        "openNgsi": settings.ngsi.open_ngsi,
    })


async def home(request: Request) -> Response:
    """The address `cityos demo` prints: a browser gets a page pointing to the resident app,
    the staff console and the API description; a program gets where everything is."""
    if "text/html" in request.headers.get("accept", ""):
        from cityos.web.render import render

        return render(request, "root.html", {})
    return plain_json({"name": "cityos", "app": "/app/", "console": "/console/",
                       "ngsi-ld": "/ngsi-ld/v1", "ngsi-v2": "/v2", "openapi": "/openapi.json"})


async def healthz(request: Request) -> Response:
    broker: Broker = request.app.state.broker
    ok = await broker.store.tenant_exists("")
    return plain_json({"status": "ok" if ok else "degraded"}, status=200 if ok else 503)


async def openapi(request: Request) -> Response:
    return plain_json(request.app.state.openapi)


async def metrics(request: Request) -> Response:
    """Delivery counters of this process in the Prometheus text format (staff only)."""
    broker: Broker = request.app.state.broker
    lines = []
    for name, value in broker.notifier.metrics().items():
        metric = "cityos_notify_" + "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
        lines += [f"# TYPE {metric} gauge", f"{metric} {value}"]
    return Response("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")


PLATFORM = [
    Operation("GET", "/", home, "Where things are: the app, the console, the API", "platform",
              public=True, responses={200: "links (HTML for a browser, JSON otherwise)"}),
    Operation("GET", "/version", version, "Describe this platform", "platform", public=True),
    Operation("GET", "/healthz", healthz, "Liveness and readiness", "platform", public=True,
              responses={200: "healthy", 503: "not ready"}),
    Operation("GET", "/openapi.json", openapi, "This API description", "platform", public=True),
    Operation("GET", "/metrics", metrics, "Notification delivery counters (Prometheus text)",
              "platform", responses={200: "metrics"}, policy=STAFF_READ),
]


def all_operations() -> list[Operation]:
    return [*PLATFORM, *ngsi_routes.OPERATIONS, *ngsi_v2_routes.OPERATIONS,
            *access_routes.OPERATIONS,
            *trust_routes.OPERATIONS, *cert_routes.OPERATIONS, *iot_routes.OPERATIONS,
            *web_routes.OPERATIONS, *catalog_routes.OPERATIONS, *console_routes.OPERATIONS,
            *personal_routes.OPERATIONS, *services_registry.operations()]


class TolerantPaths:
    """Accept what common clients send: a trailing slash on any path, `//` doubled."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if len(path) > 1 and path.endswith("/"):
                scope = dict(scope, path=path.rstrip("/") or "/")
        await self.app(scope, receive, send)


async def _ngsi_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NgsiError)
    response = problem_response(exc)
    tenant = tenant_of(request.scope)  # as named, even when not valid
    if tenant and request.url.path.startswith(ngsi_routes.V1):
        response.headers["NGSILD-Tenant"] = tenant  # the tenant the answer is about (§6.3.14)
    return response


async def _not_owner(request: Request, exc: Exception) -> Response:
    return await _ngsi_error(request, Forbidden(str(exc)))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    path = request.url.path
    ngsi = path.startswith(ngsi_routes.V1 + "/")
    if exc.status_code == 404:
        raw = request.scope.get("raw_path", b"").split(b"?")[0]
        if ngsi and b"//" in raw:  # e.g. /entities//attrs/x: the id is missing
            return problem_response(BadRequestData(f"{path} has an empty path segment: "
                                                   "an id is missing"))
        return problem_response(ResourceNotFound(f"no resource at {path}"))
    if exc.status_code == 405:
        if ngsi and request.method in ("PUT", "PATCH") and path.rstrip("/").endswith("/entities"):
            return problem_response(BadRequestData(f"{request.method} needs an entity id "
                                                   "in the path"))
        return problem_response(MethodNotAllowed(
            f"{request.method} is not allowed on {request.url.path}"), exc.headers)
    error = NgsiError(str(exc.detail))
    error.status = exc.status_code
    return problem_response(error, exc.headers)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem_response(InternalError("the platform failed to process the request; "
                                          "the error was logged"))


def _route_path(path: str) -> str:
    """A trailing {contextId}, {type} or {attrId} may be a full IRI whose slashes clients do not
    always percent-encode: let it span segments."""
    for name in ("{contextId}", "{type}", "{attrId}", "{asset}"):
        if path.endswith(name):
            return path[: -len(name)] + name[:-1] + ":path}"
    return path


def _strict(op: Operation, endpoint: Endpoint) -> Endpoint:
    """NGSI-LD operations refuse query parameters they do not declare (§6.3.20 InvalidRequest)
    and echo the tenant they served (§6.3.14)."""
    if not op.path.startswith(ngsi_routes.V1):
        return endpoint
    known = frozenset(p.name for p in op.params if p.where == "query")

    needs_length = op.method in ("POST", "PATCH", "PUT")

    async def strict(request: Request) -> Response:
        present = {name for name, _ in request.scope["headers"]}  # cheaper than Headers.get
        if needs_length and b"content-length" not in present:
            # §6.3.4: a body must announce its length (chunked uploads are refused), bare 411
            return Response(status_code=411)
        if request.scope.get("query_string"):
            unknown = [name for name in request.query_params if name not in known]
            if unknown:
                raise InvalidRequest(f"unknown query parameter {unknown[0][:100]!r} for "
                                     f"{op.method} {op.path}")
        response = await endpoint(request)
        await request.app.state.broker.flush()  # hosted/cached @contexts durable before answering
        tenant = tenant_of(request.scope)
        if tenant:
            response.headers["NGSILD-Tenant"] = tenant
        return response

    strict.__name__ = endpoint.__name__
    return strict


def create_app(settings: Settings) -> Starlette:
    operations = all_operations()
    # every outbound request of this process passes one policy (issue #18)
    egress.configure(egress.EgressPolicy(settings.egress.allow, settings.egress.timeout))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        store = open_store(settings.database_url,
                           synchronous=settings.storage.sqlite_synchronous,
                           group_commit_max=settings.storage.group_commit_max,
                           keep_history_on_delete=settings.storage.keep_history_on_delete)
        await store.open()
        broker = Broker.create(store, settings.ngsi, base_url=settings.public_url)
        await broker.open()
        app.state.broker = broker
        broker.notifier.state = app.state  # notifications tell app.state.tracker (issue 6)
        app.state.type_grants = AccountGrants(app)  # notifications' read grants (issue 18)
        app.state.trust = await Trust.open(store, settings.trust, settings.public_url,
                                           KeyStore.at(settings.data_dir),
                                           settings.access.alert_webhook)
        await record_baseline(store)  # once: accounts and grants made before their history
        app.state.trust.start()
        await install_personal(app)  # classifier, sealer, tracker (issue 6)
        app.state.iot = await Iot.open(app)
        app.state.iot.start()
        if settings.ngsi.open_ngsi:
            log.warning("*** OPEN NGSI-LD: the NGSI-LD API accepts requests WITHOUT tokens "
                        "(conformance mode). Never run a town like this. ***")
        await start_services(app, run_hooks=getattr(app.state, "services_run_hooks", True))
        try:
            yield {}
        finally:
            await stop_services(app)  # first: they are clients of the rest
            await app.state.iot.aclose()
            await close_access(app)  # its exchange of counts with other processes
            await close_trail(app)
            await app.state.trust.close()  # the last audit records into the log
            await broker.aclose()
            await app.state.personal.close()  # the tracker's last releases, then keys
            await store.close()

    gate = Gate(settings)
    routes = [Route(_route_path(op.path), audited(op, _strict(op, gate.wrap(with_trust(op)))), methods=[op.method],
                    name=op.operation_id) for op in operations]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={NgsiError: _ngsi_error, NotOwner: _not_owner,
                            HTTPException: _http_error, Exception: _unexpected},
    )
    app.router = IndexedRouter(routes=routes, lifespan=lifespan, redirect_slashes=False)
    app.state.settings = settings
    app.state.openapi = build_openapi(operations, __version__)
    add_cors(app, settings)
    app.add_middleware(UsageMeter)  # innermost: it sees the scope the gate marks
    app.add_middleware(PageSession)  # pages: session cookie → bearer token for the gate
    app.add_middleware(TolerantPaths)
    app.add_middleware(BodyLimit, limit=settings.ngsi.max_body_bytes)
    app.add_middleware(OrionErrors)  # outermost: every /v2 error in Orion's shape
    return app
