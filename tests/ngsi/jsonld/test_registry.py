"""Tests for the /jsonldContexts registry, following the ETSI test-suite jsonldContext group.

ETSI GS CIM 009 v1.8 §5.13.2–§5.13.5; test ids (050_xx, 051_xx, …) name the ETSI cases.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cityos.ngsi.errors import BadRequestData, LdContextNotAvailable, ResourceNotFound
from cityos.ngsi.jsonld.context import CORE_CONTEXT_URL, ContextResolver
from cityos.ngsi.jsonld.registry import (
    ContextRegistry,
    ContextReloadFailed,
    MemoryBackend,
    parse_flag,
)

MINIMAL = {"@context": {"A1": "urn:ngsi-ld:attributes:A1", "A2": "urn:ngsi-ld:attributes:A2"}}
REMOTE = "https://contexts.example.org/ctx.jsonld"
REMOTE_DOC = {"@context": {"B1": "urn:ngsi-ld:attributes:B1"}}
DETAIL_KEYS = {"URL", "localId", "kind", "createdAt", "lastUsage", "numberOfHits", "extraInfo",
               "body", "expiresAt"}


def run(coro: Any) -> Any:
    return asyncio.run(coro)


class FakeRemote:
    """Stands in for the HTTP fetch of ContextResolver (no network in these tests)."""

    def __init__(self) -> None:
        self.up = True

    async def fetch(self, url: str) -> Any:
        if not self.up:
            raise LdContextNotAvailable(f"{url} unreachable")
        return REMOTE_DOC


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> tuple[ContextRegistry, ContextResolver, FakeRemote]:
    registry = ContextRegistry(MemoryBackend(), base_url="http://localhost:9090")
    resolver = ContextResolver(allow_remote=["https://contexts.example.org/"], registry=registry)
    remote = FakeRemote()
    monkeypatch.setattr(resolver._fetcher, "fetch", remote.fetch)
    return registry, resolver, remote


def test_050_01_add_hosted(env: Any) -> None:
    registry, _, _ = env
    record = registry.add_context(MINIMAL)
    assert record["kind"] == "Hosted" and record["id"].startswith("urn:ngsi-ld:")
    details = registry.get_context(record["id"], details=True)
    assert details["kind"] == "Hosted" and details["localId"] == record["id"]
    assert details["URL"].endswith("/ngsi-ld/v1/jsonldContexts/" + record["id"])
    assert set(details) <= DETAIL_KEYS
    assert details["createdAt"].endswith("Z")
    listed = registry.add_context({"@context": [REMOTE]})
    assert registry.get_context(listed["id"], details=True)["kind"] == "Hosted"


@pytest.mark.parametrize("body", [
    {"A1": "urn:ngsi-ld:attributes:A1"},           # 050_02_01 no @context member
    [MINIMAL],
    {"@context": 42},                               # 5132_01_01
    {"@context": True},                             # 5132_01_02
    {"@context": ["https://example.org/ctx.jsonld", 7]},  # 5132_01_03
    {"@context": {"a": 5}},
    {"@context": "not-a-url"},
])
def test_050_02_and_5132_invalid_payloads(env: Any, body: Any) -> None:
    registry, _, _ = env
    with pytest.raises(BadRequestData):
        registry.add_context(body)
    assert registry.list_contexts() == [CORE_CONTEXT_URL]


def test_050_03_implicitly_created(env: Any) -> None:
    registry, resolver, _ = env
    record = registry.add_implicit([REMOTE, {"T1": "https://x/T1"}])
    (details,) = registry.list_contexts(details=True, kind="ImplicitlyCreated")
    assert details["kind"] == "ImplicitlyCreated" and details["URL"] == record["url"]
    ctx = run(resolver.resolve(record["url"]))
    assert ctx.expand_term("B1") == "urn:ngsi-ld:attributes:B1"
    assert ctx.expand_term("T1") == "https://x/T1"


def test_050_04_urls_of_a_hosted_context_become_cached(env: Any) -> None:
    registry, resolver, _ = env
    record = registry.add_context({"@context": [REMOTE]})
    run(resolver.resolve(record["url"]))
    assert registry.get_context(REMOTE, details=True)["kind"] == "Cached"
    assert registry.get_context(REMOTE) == REMOTE_DOC


def test_052_list(env: Any) -> None:
    registry, _, _ = env
    assert registry.list_contexts() == [CORE_CONTEXT_URL]
    assert registry.list_contexts(kind="Hosted") == []
    assert registry.list_contexts(kind="ImplicitlyCreated") == []
    ids = [registry.add_context(MINIMAL)["id"] for _ in range(3)]
    urls = registry.list_contexts(kind="Hosted")
    assert [u.rsplit("/", 1)[1] for u in urls] == ids
    detailed = registry.list_contexts(details=True, kind="Hosted")
    assert [d["localId"] for d in detailed] == ids
    assert all(set(d) <= DETAIL_KEYS for d in detailed)
    assert CORE_CONTEXT_URL in registry.list_contexts(kind="Cached")


def test_052_04_bad_parameters(env: Any) -> None:
    registry, _, _ = env
    with pytest.raises(BadRequestData):
        registry.list_contexts(kind="other")
    with pytest.raises(BadRequestData):
        parse_flag("other", "details")
    assert parse_flag(None, "details") is False and parse_flag("", "details") is False
    assert parse_flag("true", "details") is True and parse_flag("false", "details") is False


def test_053_01_serve_body(env: Any) -> None:
    registry, _, _ = env
    record = registry.add_context(MINIMAL)
    assert registry.get_context(record["id"]) == MINIMAL
    assert registry.get_context(record["url"]) == MINIMAL
    assert registry.get_context(CORE_CONTEXT_URL)["@context"]["@vocab"].startswith("https://")


def test_053_03_serve_unknown(env: Any) -> None:
    registry, _, _ = env
    with pytest.raises(ResourceNotFound):
        registry.get_context("wrong_id_context", details=True)


def test_053_hits_and_last_usage(env: Any) -> None:
    registry, resolver, _ = env
    record = registry.add_context(MINIMAL)
    first = registry.get_context(record["id"], details=True)
    assert first["numberOfHits"] == 0 and "lastUsage" not in first
    run(resolver.resolve(record["url"]))
    resolver.resolve_cached(record["url"])
    second = registry.get_context(record["id"], details=True)
    assert second["numberOfHits"] == 3  # one serve, one resolve, one fast-path resolve
    assert second["lastUsage"].endswith("Z")


def test_051_01_delete_hosted(env: Any) -> None:
    registry, _, _ = env
    record = registry.add_context(MINIMAL)
    run(registry.delete_context(record["id"]))
    with pytest.raises(ResourceNotFound):
        registry.get_context(record["id"])


def test_051_02_and_051_04_delete_unknown(env: Any) -> None:
    registry, _, _ = env
    with pytest.raises(ResourceNotFound):
        run(registry.delete_context("1234567890123456"))
    with pytest.raises(BadRequestData):
        run(registry.delete_context("wrong_id_context", reload=True))


def test_051_04_05_and_051_07_reload_only_for_cached(env: Any) -> None:
    registry, _, _ = env
    hosted = registry.add_context(MINIMAL)
    implicit = registry.add_implicit([REMOTE])
    for record in (hosted, implicit):
        with pytest.raises(BadRequestData):
            run(registry.delete_context(record["id"], reload=True))
        assert registry.get_context(record["id"], details=True)["kind"] == record["kind"]


def test_051_03_delete_cached_and_reload(env: Any) -> None:
    registry, resolver, _ = env
    run(resolver.resolve(REMOTE))
    run(registry.delete_context(REMOTE, reload=True))
    assert registry.get_context(REMOTE, details=True)["kind"] == "Cached"
    run(registry.delete_context(REMOTE))
    with pytest.raises(ResourceNotFound):
        registry.get_context(REMOTE)
    assert resolver.resolve_cached(REMOTE) is None


def test_051_05_and_5135_failed_reload_keeps_the_cached_context(env: Any) -> None:
    registry, resolver, remote = env
    run(resolver.resolve(REMOTE))
    remote.up = False
    with pytest.raises(ContextReloadFailed) as info:
        run(registry.delete_context(REMOTE, reload=True))
    assert info.value.status == 504 and info.value.title == "LdContextNotAvailable"
    assert registry.get_context(REMOTE, details=True)["kind"] == "Cached"
    run(registry.delete_context(REMOTE))
    with pytest.raises(ResourceNotFound):
        registry.get_context(REMOTE, details=True)


def test_051_06_delete_implicit(env: Any) -> None:
    registry, _, _ = env
    record = registry.add_implicit([REMOTE])
    run(registry.delete_context(record["id"]))
    assert registry.list_contexts(kind="ImplicitlyCreated") == []


def test_051_08_and_051_09_core_context(env: Any) -> None:
    registry, _, _ = env
    with pytest.raises(BadRequestData):
        run(registry.delete_context(CORE_CONTEXT_URL))
    run(registry.delete_context(CORE_CONTEXT_URL, reload=True))
    details = registry.get_context(CORE_CONTEXT_URL, details=True)
    assert details["URL"] == CORE_CONTEXT_URL and details["kind"] == "Cached"
