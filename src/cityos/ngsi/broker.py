"""The NGSI-LD broker's shared state: the store, the @context resolver and the settings.

One `Broker` per app; handlers reach it through `request.app.state.broker`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cityos.ngsi.csource import CsourceNotifier
from cityos.ngsi.federation import Federation
from cityos.ngsi.jsonld.context import CORE_CONTEXT_URL, ActiveContext, ContextResolver
from cityos.ngsi.jsonld.persist import StoreBackend
from cityos.ngsi.jsonld.registry import ContextRegistry
from cityos.ngsi.notify import Notifier
from cityos.ngsi.retention import Retention
from cityos.settings import NgsiSettings
from cityos.storage.base import Store


@dataclass
class Broker:
    store: Store
    resolver: ContextResolver
    settings: NgsiSettings
    registry: ContextRegistry
    base_url: str = ""
    notifier: Notifier = field(init=False)
    retention: Retention = field(init=False)
    csource: CsourceNotifier = field(init=False)
    federation: Federation = field(init=False)

    def __post_init__(self) -> None:
        self.notifier = Notifier(self.store, self.context)
        self.retention = Retention(self.store, self.settings.history_retention)
        self.csource = CsourceNotifier(self.store, self.context)
        self.federation = Federation(self.store, self.settings.forward_timeout)

    async def registrations_changed(self, tenant: str, before: dict[str, Any] | None,
                                    after: dict[str, Any] | None) -> None:
        """A context source registration was created (no `before`), updated or deleted (no
        `after`): registration subscriptions notify (§5.11.7)."""
        self.federation.forget(tenant)
        await self.csource.changed(tenant, before, after)

    async def changed(self, tenant: str, entity_ids: list[str]) -> None:
        """Entities were written: let the subscriptions that match them notify."""
        await self.notifier.changed(tenant, entity_ids)

    @classmethod
    def create(cls, store: Store, settings: NgsiSettings, base_url: str = "") -> Broker:
        registry = ContextRegistry(StoreBackend(store), base_url=base_url)
        resolver = ContextResolver(
            allow_remote=settings.allow_remote_contexts,
            preload_dir=Path(settings.context_dir) if settings.context_dir else None,
            timeout=settings.context_timeout,
            registry=registry,
        )
        return cls(store=store, resolver=resolver, settings=settings, registry=registry,
                   base_url=base_url)

    async def open(self) -> None:
        """Load what the broker keeps in the store (hosted @contexts); resume deliveries."""
        backend = self.registry.backend
        if isinstance(backend, StoreBackend):
            await backend.load()
        await self.notifier.start()
        self.retention.start()
        await self.csource.start()

    async def flush(self) -> None:
        """Wait until registry changes made by this request are durable."""
        backend = self.registry.backend
        if isinstance(backend, StoreBackend):
            await backend.flush()

    async def context(self, value: Any) -> ActiveContext:
        """The active context for a request's @context value (fast path when seen before)."""
        cached = self.resolver.resolve_cached(value)
        if cached is not None:
            return cached
        return await self.resolver.resolve(value)

    async def context_url(self, value: Any) -> tuple[str, ActiveContext]:
        """A request's @context as one URL, for what keeps it (jsonldContext of subscriptions
        and registrations): a single URL as is, anything else an ImplicitlyCreated @context."""
        ctx = await self.context(value)  # resolvable now, or LdContextNotAvailable
        if value is None:
            return CORE_CONTEXT_URL, ctx
        if isinstance(value, str):
            return value, ctx
        if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
            return value[0], ctx
        return str(self.registry.add_implicit(value)["url"]), ctx

    async def aclose(self) -> None:
        await self.retention.aclose()
        await self.csource.aclose()
        await self.federation.aclose()
        await self.notifier.aclose()
        await self.flush()
        await self.resolver.aclose()
