"""Running the town services inside `cityos serve` (and inside a command, `open_platform`).

At start, for each enabled service: its organisation and grants (`identity.py`), the personal
types its manifest adds to the data catalog, a `PlatformClient` under that organisation, then
its `runtime.start(ctx)` and, in `cityos demo`, its `demo.load(ctx)`. A service that fails to
start is logged and left out; the platform keeps serving.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request

from cityos.services import registry
from cityos.services.client import NGSI, PlatformClient
from cityos.services.identity import ensure_identity
from cityos.services.manifest import Manifest
from cityos.settings import Settings

log = logging.getLogger("cityos.services")
TOKEN_HEADER = "X-Cityos-Service-Token"  # the receiverInfo header of a service's subscriptions


@dataclass
class DemoTown:
    """`cityos demo` only (None in a served town): what a service's demo loader may do for
    the demo town's fictional residents, as the town's own demo loader does (town/story.py):
    find one by login, and give her answer to a consent the service asked her for."""

    app: Any

    async def resident(self, login: str) -> str | None:
        found = await self.app.state.access.residents.by_login(login)
        return str(found["id"]) if found else None

    async def answer(self, consent_id: str, resident: str, state: str = "APPROVED") -> None:
        consents = self.app.state.personal.consents
        consent = await consents.get("", consent_id)
        if consent is not None and consent["subject"] == resident and \
                consent["state"] == "REQUESTED":
            await consents.decide("", consent_id, state, by=resident)


@dataclass
class ServiceContext:
    """What a running service has: its manifest, its own client, its settings and state."""

    manifest: Manifest
    client: PlatformClient
    settings: Settings
    options: dict[str, Any]
    state: dict[str, Any] = field(default_factory=dict)
    notify_secret: str = ""
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    demo: DemoTown | None = None  # cityos demo only

    @property
    def name(self) -> str:
        return self.manifest.name

    def notify_url(self, path: str = "notify") -> str:
        return f"{self.settings.public_url}{self.manifest.api_path}/{path.lstrip('/')}"

    def spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        """A background task of the service, cancelled when the platform stops; its failure
        is logged, never raised into the platform."""
        task = asyncio.create_task(coroutine)
        self.tasks.append(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("service %s: a background task failed: %r", self.name, task.exception())

    async def subscribe(self, types: list[str], path: str = "notify", q: str | None = None,
                        watched: list[str] | None = None, throttling: int = 0,
                        key_values: bool = True) -> str:
        """A real NGSI-LD subscription delivering to this service's `path` (replacing an
        earlier one to the same endpoint); returns its id. `key_values=False`: normalized
        entities (with each attribute's observedAt, unitCode …)."""
        url = self.notify_url(path)
        mine = (await self.client.request("GET", f"{NGSI}/subscriptions",
                                          params={"limit": 1000})).json()
        for sub in mine:
            if sub.get("notification", {}).get("endpoint", {}).get("uri") == url:
                await self.client.request("DELETE", f"{NGSI}/subscriptions/{sub['id']}",
                                          ok=(404,))
        body: dict[str, Any] = {
            "type": "Subscription", "entities": [{"type": t} for t in types],
            "notification": {"format": "keyValues" if key_values else "normalized",
                             "endpoint": {
                "uri": url, "accept": "application/json",
                "receiverInfo": [{"key": TOKEN_HEADER, "value": self.notify_secret}]}}}
        if q:
            body["q"] = q
        if watched:
            body["watchedAttributes"] = watched
        if throttling:
            body["throttling"] = throttling
        response = await self.client.request("POST", f"{NGSI}/subscriptions", json=body)
        return str(response.headers.get("Location", "")).rsplit("/", 1)[-1]


def options_of(manifest: Manifest, settings: Settings) -> dict[str, Any]:
    return {**manifest.settings, **settings.services.options.get(manifest.name, {})}


def enabled(settings: Settings) -> list[Manifest]:
    chosen = set(settings.services.enabled)
    return [m for m in registry.manifests()
            if ("all" in chosen or m.name in chosen) and m.name not in settings.services.disabled]


def contexts(app: Any) -> dict[str, ServiceContext]:
    found: dict[str, ServiceContext] = getattr(app.state, "services", {})
    return found


def context_of(request: Request, name: str) -> ServiceContext:
    """The running service `name` of this platform; 404 when this town does not run it (the
    town chose its services: services.enabled)."""
    ctx = contexts(request.app).get(name)
    if ctx is None:
        raise HTTPException(404, f"この町ではサービス {name} を使っていません / this town does "
                                 f"not run the service {name}")
    return ctx


async def notification_of(request: Request, name: str) -> dict[str, Any]:
    """The body of a notification to service `name`, after checking its secret (401 else)."""
    ctx = context_of(request, name)
    sent = request.headers.get(TOKEN_HEADER, "")
    if not ctx.notify_secret or not hmac.compare_digest(sent, ctx.notify_secret):
        raise HTTPException(401, "通知の合言葉が違います / wrong notification token")
    body = orjson.loads(await request.body() or b"{}")
    return body if isinstance(body, dict) else {"data": body}


async def _catalog(app: Any, manifest: Manifest) -> None:
    catalog = app.state.personal.catalog
    for entry in manifest.catalog:
        if catalog.get(entry.type) is None:  # staff's own entry for the type is kept
            await catalog.put(entry)


async def _context(app: Any, manifest: Manifest) -> ServiceContext:
    settings: Settings = app.state.settings
    client_id, secret = await ensure_identity(app, manifest)
    await _catalog(app, manifest)
    client = PlatformClient.in_process(app, settings.public_url, client_id, secret)
    notify = hmac.new(secret.encode(), b"notify:" + manifest.name.encode(),
                      hashlib.sha256).hexdigest()
    return ServiceContext(manifest, client, settings, options_of(manifest, settings),
                          notify_secret=notify)


def _resident_of_login(app: Any) -> Any:
    """Demo only (`ctx.state["resident_of_login"]` in a demo loader): the demo town's
    resident id of a login, so that a service can make demo data about its fictional
    residents. A real town links IDs with the resident's own consent instead."""
    async def lookup(login: str) -> str | None:
        found = await app.state.access.residents.by_login(login)
        return None if found is None else str(found["id"])
    return lookup


async def start_services(app: Any, *, run_hooks: bool = True) -> None:
    """Make every enabled service's context; with `run_hooks`, start it (and its demo)."""
    app.state.services = {}
    settings: Settings = app.state.settings
    for manifest in enabled(settings):
        try:
            ctx = await _context(app, manifest)
        except Exception:
            log.exception("service %s cannot start: left out", manifest.name)
            continue
        app.state.services[manifest.name] = ctx
        if not run_hooks:
            continue
        start = registry.hook(manifest.name, "runtime", "start")
        try:
            if start is not None:
                await start(ctx)
        except Exception:  # a service's failure never stops the platform
            log.exception("service %s: start failed", manifest.name)
        load = registry.hook(manifest.name, "demo", "load") if settings.services.demo else None
        if load is not None:
            ctx.demo = DemoTown(app)
            ctx.state["resident_of_login"] = _resident_of_login(app)
            ctx.spawn(load(ctx))


async def stop_services(app: Any) -> None:
    for ctx in list(contexts(app).values()):
        stop = registry.hook(ctx.name, "runtime", "stop")
        try:
            if stop is not None:
                await stop(ctx)
        except Exception:
            log.exception("service %s: stop failed", ctx.name)
        for task in ctx.tasks:
            task.cancel()
        await asyncio.gather(*ctx.tasks, return_exceptions=True)
        await ctx.client.aclose()
    app.state.services = {}


@dataclass
class Platform:
    """The whole platform running in this process, for a command (no server, no port)."""

    app: Any

    def context(self, name: str) -> ServiceContext:
        ctx = contexts(self.app).get(name)
        if ctx is None:
            raise LookupError(f"サービス {name} は有効ではありません / the service {name} is not "
                              "enabled")
        return ctx


@asynccontextmanager
async def open_platform(settings: Settings, *names: str) -> AsyncIterator[Platform]:
    """Start the platform of `settings` in process (the contexts of the services `names` —
    default: the enabled ones — made, their background hooks not run) for a command such
    as `cityos evacuation plan`."""
    from dataclasses import replace

    from cityos.app import create_app

    if names:
        settings = replace(settings, services=replace(settings.services, enabled=names))
    app = create_app(settings)
    app.state.services_run_hooks = False
    async with app.router.lifespan_context(app):
        yield Platform(app)
