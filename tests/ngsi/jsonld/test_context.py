"""Tests for ContextResolver and ActiveContext: sources, core-last, fast path, remote fetch.

ETSI GS CIM 009 v1.8 §5.5.7 (JSON-LD @context resolution).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cityos.ngsi.errors import BadRequestData, LdContextNotAvailable
from cityos.ngsi.jsonld.context import CORE_CONTEXT_URL, ContextResolver
from cityos.ngsi.jsonld.registry import ContextRegistry

NGSI = "https://uri.etsi.org/ngsi-ld/"
DEFAULT = "https://uri.etsi.org/ngsi-ld/default-context/"
REMOTE_DOC = {"@context": {"Shelter": "https://example.org/ns#Shelter",
                           "occupancy": "https://example.org/ns#occupancy"}}


def run(coro: Any) -> Any:
    return asyncio.run(coro)


class _Handler(BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        if self.path == "/slow.jsonld":
            time.sleep(1.5)
        if self.path in ("/ctx.jsonld", "/slow.jsonld"):
            body = json.dumps(REMOTE_DOC).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/ld+json")
        elif self.path == "/big.jsonld":
            body = b'{"@context": {"x": "' + b"a" * 4096 + b'"}}'
            self.send_response(200)
        else:
            body = b"not found"
            self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):  # the client gave up (timeout test)
            self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_core_only_context() -> None:
    ctx = run(ContextResolver().resolve(None))
    assert ctx.urls == [] and ctx.user_context == []
    assert ctx.expand_term("temperature") == DEFAULT + "temperature"
    assert ctx.expand_term("location") == NGSI + "location"
    assert ctx.expand_term("Property") == NGSI + "Property"
    assert ctx.expand_term("https://schema.org/name") == "https://schema.org/name"
    assert ctx.expand_term("urn:x:y") == "urn:x:y"
    assert ctx.expand_term("ngsi-ld:foo") == NGSI + "foo"
    assert ctx.compact_iri(NGSI + "location") == "location"
    assert ctx.compact_iri(DEFAULT + "temperature") == "temperature"
    assert ctx.compact_iri(NGSI + "somethingElse") == "ngsi-ld:somethingElse"
    assert ctx.compact_iri("https://schema.org/name") == "https://schema.org/name"


def test_core_url_named_by_client_is_the_bundled_one() -> None:
    resolver = ContextResolver()
    for url in (CORE_CONTEXT_URL, "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld",
                "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.7.jsonld"):
        ctx = run(resolver.resolve(url))
        assert ctx.urls == []
        assert ctx.expand_term("location") == NGSI + "location"


def test_inline_context_and_core_applies_last() -> None:
    user = {"Shelter": "https://example.org/ns#Shelter", "ex": "https://example.org/ns#",
            "location": "https://example.org/ns#where", "@vocab": "https://example.org/v/"}
    ctx = run(ContextResolver().resolve([user, CORE_CONTEXT_URL]))
    assert ctx.user_context == [user] and ctx.urls == []
    assert ctx.expand_term("Shelter") == "https://example.org/ns#Shelter"
    assert ctx.expand_term("ex:capacity") == "https://example.org/ns#capacity"
    assert ctx.expand_term("location") == NGSI + "location"  # the core context wins
    assert ctx.expand_term("other") == DEFAULT + "other"     # and so does its @vocab
    assert ctx.compact_iri("https://example.org/ns#Shelter") == "Shelter"
    assert ctx.compact_iri("https://example.org/ns#capacity") == "ex:capacity"


def test_keywords_are_not_names() -> None:
    ctx = run(ContextResolver().resolve(None))
    for name in ("id", "type", "@id", "@context"):
        with pytest.raises(BadRequestData):
            ctx.expand_term(name)


def test_later_user_context_overrides_earlier() -> None:
    ctx = run(ContextResolver().resolve([{"a": "https://one/a"}, {"a": "https://two/a"}]))
    assert ctx.expand_term("a") == "https://two/a"


def test_vocab_values() -> None:
    ctx = run(ContextResolver().resolve({"Open": "https://example.org/status#Open"}))
    assert ctx.expand_vocab_value("Open") == "https://example.org/status#Open"
    assert ctx.compact_vocab_value("https://example.org/status#Open") == "Open"
    assert ctx.expand_vocab_value("closed") == DEFAULT + "closed"


@pytest.mark.parametrize("bad", [42, True, ["https://example.org/c.jsonld", 7],
                                 {"a": 5}, {"@vocab": 3}, {"a": {"@id": "https://x/a",
                                                                 "@container": "@bogus"}},
                                 {"a": "b", "b": "a"}])
def test_invalid_contexts(bad: Any) -> None:
    with pytest.raises(BadRequestData):
        run(ContextResolver().resolve(bad))


def test_protected_terms_cannot_be_redefined() -> None:
    protected = {"@protected": True, "a": "https://x/a"}
    with pytest.raises(BadRequestData):
        run(ContextResolver().resolve([protected, {"a": "https://y/a"}]))
    ctx = run(ContextResolver().resolve([protected, {"a": "https://x/a"}]))
    assert ctx.expand_term("a") == "https://x/a"


def test_resolve_cached_fast_path() -> None:
    resolver = ContextResolver()
    inline = {"a": "https://x/a"}
    assert resolver.resolve_cached(inline) is None
    resolved = run(resolver.resolve(inline))
    assert resolver.resolve_cached({"a": "https://x/a"}) is resolved
    assert resolver.resolve_cached(None) is run(resolver.resolve(None))
    n = 100_000
    for key in (None, CORE_CONTEXT_URL):
        run(resolver.resolve(key))
        start = time.perf_counter()
        for _ in range(n):
            resolver.resolve_cached(key)
        per_call = (time.perf_counter() - start) / n
        assert per_call < 2e-6, f"resolve_cached({key!r}) took {per_call * 1e6:.2f} µs"


def test_term_lookup_is_cached() -> None:
    ctx = run(ContextResolver().resolve({"ex": "https://example.org/"}))
    first = ctx.expand_term("ex:thing")
    assert ctx.expand_term("ex:thing") is first
    assert ctx.compact_iri(first) is ctx.compact_iri(first)


def test_no_allow_list_refuses_remote_urls(server: str) -> None:
    with pytest.raises(LdContextNotAvailable):
        run(ContextResolver().resolve(f"{server}/ctx.jsonld"))
    other = ContextResolver(allow_remote=["https://example.org/"])
    with pytest.raises(LdContextNotAvailable):
        run(other.resolve(f"{server}/ctx.jsonld"))


def test_remote_fetch_and_memory_cache(server: str) -> None:
    resolver = ContextResolver(allow_remote=[server + "/"])
    _Handler.hits = 0
    ctx = run(resolver.resolve(f"{server}/ctx.jsonld"))
    assert ctx.urls == [f"{server}/ctx.jsonld"]
    assert ctx.expand_term("Shelter") == "https://example.org/ns#Shelter"
    assert ctx.compact_iri("https://example.org/ns#occupancy") == "occupancy"
    run(resolver.resolve([f"{server}/ctx.jsonld", {"b": "https://x/b"}]))
    assert _Handler.hits == 1
    assert resolver.resolve_cached(f"{server}/ctx.jsonld") is ctx


def test_remote_timeout_missing_and_too_large(server: str) -> None:
    resolver = ContextResolver(allow_remote=[server], timeout=0.3, max_bytes=1024)
    start = time.perf_counter()
    with pytest.raises(LdContextNotAvailable):
        run(resolver.resolve(f"{server}/slow.jsonld"))
    assert time.perf_counter() - start < 1.2
    with pytest.raises(LdContextNotAvailable):
        run(resolver.resolve(f"{server}/missing.jsonld"))
    with pytest.raises(LdContextNotAvailable):
        run(resolver.resolve(f"{server}/big.jsonld"))


def test_remote_fetch_becomes_a_cached_registry_entry(server: str) -> None:
    registry = ContextRegistry()
    resolver = ContextResolver(allow_remote=[server], registry=registry)
    url = f"{server}/ctx.jsonld"
    run(resolver.resolve(url))
    run(resolver.resolve(url))
    details = registry.get_context(url, details=True)
    assert details["kind"] == "Cached" and details["URL"] == url
    assert details["numberOfHits"] == 2


def test_preload_dir(tmp_path: Path) -> None:
    (tmp_path / "sdm.jsonld").write_text(json.dumps(REMOTE_DOC))
    (tmp_path / "contexts.json").write_text(
        json.dumps({"https://smartdatamodels.org/context.jsonld": "sdm.jsonld"}))
    resolver = ContextResolver(preload_dir=tmp_path)
    ctx = run(resolver.resolve("https://smartdatamodels.org/context.jsonld"))
    assert ctx.expand_term("Shelter") == "https://example.org/ns#Shelter"
    with pytest.raises(LdContextNotAvailable):
        run(resolver.resolve("https://smartdatamodels.org/other.jsonld"))


def test_nested_url_contexts_are_loaded(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps({"@context": ["https://c/b", {"a": "https://x/a"}]}))
    (tmp_path / "b.json").write_text(json.dumps({"@context": {"b": "https://x/b"}}))
    (tmp_path / "contexts.json").write_text(json.dumps({"https://c/a": "a.json",
                                                        "https://c/b": "b.json"}))
    ctx = run(ContextResolver(preload_dir=tmp_path).resolve("https://c/a"))
    assert ctx.expand_term("b") == "https://x/b" and ctx.expand_term("a") == "https://x/a"


def test_hosted_context_resolves_from_the_registry() -> None:
    registry = ContextRegistry(base_url="http://localhost:9090")
    resolver = ContextResolver(registry=registry)
    record = registry.add_context({"@context": {"A1": "urn:ngsi-ld:attributes:A1"}})
    assert record["url"] == f"http://localhost:9090/ngsi-ld/v1/jsonldContexts/{record['id']}"
    ctx = run(resolver.resolve(record["url"]))
    assert ctx.expand_term("A1") == "urn:ngsi-ld:attributes:A1"
    assert resolver.resolve_cached(record["url"]) is ctx
    assert registry.get_context(record["id"], details=True)["numberOfHits"] == 2
    run(registry.delete_context(record["id"]))
    assert resolver.resolve_cached(record["url"]) is None
    with pytest.raises(LdContextNotAvailable):
        run(resolver.resolve(record["url"]))
