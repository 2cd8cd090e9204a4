"""The broker's @context store behind /jsonldContexts: Hosted, Cached, ImplicitlyCreated.

ETSI GS CIM 009 v1.8 §5.13.2–§5.13.5 (add, list, serve, delete @context); storage-agnostic.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote

from cityos.ngsi.errors import BadRequestData, LdContextNotAvailable, ResourceNotFound
from cityos.ngsi.jsonld import _compile
from cityos.ngsi.jsonld.context import (
    CORE_CONTEXT_URL,
    CORE_DOCUMENT,
    DEFAULT_VOCAB,
    HOSTED_PATH,
    is_core_url,
)

if TYPE_CHECKING:
    from cityos.ngsi.jsonld.context import ContextResolver

HOSTED, CACHED, IMPLICIT = "Hosted", "Cached", "ImplicitlyCreated"
KINDS = (HOSTED, CACHED, IMPLICIT)


class ContextReloadFailed(LdContextNotAvailable):
    """A Cached @context could not be downloaded again on DELETE ?reload=true (HTTP 504, as
    every LdContextNotAvailable; the ETSI test-suite's 051_05 and 5135_01)."""


class ContextBackend(Protocol):
    """Where registry records live; the storage part provides a persistent one."""

    def get(self, id: str) -> dict[str, Any] | None: ...
    def put(self, id: str, record: dict[str, Any]) -> None: ...
    def delete(self, id: str) -> None: ...
    def list(self) -> list[dict[str, Any]]: ...


class MemoryBackend:
    """Records in a dict: tests and single-process use."""

    def __init__(self) -> None:
        self._records: dict[str, dict[str, Any]] = {}

    def get(self, id: str) -> dict[str, Any] | None:
        return self._records.get(id)

    def put(self, id: str, record: dict[str, Any]) -> None:
        self._records[id] = record

    def delete(self, id: str) -> None:
        self._records.pop(id, None)

    def list(self) -> list[dict[str, Any]]:
        return list(self._records.values())


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_flag(value: str | None, name: str) -> bool:
    """A boolean URL parameter (`details`, `reload`): absent/empty is false, else true|false."""
    if value is None or value == "":
        return False
    if value in ("true", "false"):
        return value == "true"
    raise BadRequestData(f"{name} must be true or false, not {value!r}")


def validate_context_value(value: Any) -> None:
    """Raise BadRequestData unless `value` is a usable @context (URL, object or array)."""
    items = value if isinstance(value, list) else [value]
    for item in items:
        if not isinstance(item, str | dict):
            raise BadRequestData("@context must be a URL, an object or an array of those, "
                                 f"not {type(item).__name__}")
        if isinstance(item, str) and not _compile._ABSOLUTE_IRI.match(item):
            raise BadRequestData(f"@context URL {item!r} is not absolute")
    dicts = [i for i in items if isinstance(i, dict)]
    if dicts:  # term definitions alone; URL contexts are checked when first used
        _compile.process(_compile.Compiled(vocab=DEFAULT_VOCAB), dicts, {})


class ContextRegistry:
    """Registry records: {id, url, kind, createdAt, lastUsage, numberOfHits, extraInfo, body}.

    `base_url` (e.g. "http://localhost:8000") prefixes the URLs of Hosted and
    ImplicitlyCreated contexts: `{base_url}/ngsi-ld/v1/jsonldContexts/{id}`.
    Hits are counted in memory on the hot path and written to the backend when read.
    """

    def __init__(self, backend: ContextBackend | None = None, base_url: str = "") -> None:
        self.backend: ContextBackend = backend if backend is not None else MemoryBackend()
        self.base_url = base_url.rstrip("/")
        self.created_at = now_iso()
        self._hits: dict[str, int] = {}
        self._last: dict[str, float] = {}
        self._resolver: ContextResolver | None = None

    def attach(self, resolver: ContextResolver) -> None:
        """Called by ContextResolver: it fetches on reload and drops compiled contexts."""
        self._resolver = resolver

    def hosted_url(self, id: str) -> str:
        return f"{self.base_url}{HOSTED_PATH}{id}"

    # -- used by the resolver ----------------------------------------------------------
    def count_hits(self, ids: tuple[str, ...]) -> None:
        ts = time.time()
        for i in ids:
            self._hits[i] = self._hits.get(i, 0) + 1
            self._last[i] = ts

    def lookup_url(self, url: str) -> tuple[Any, str] | None:
        """(document, id) for a URL this broker serves or has cached, else None."""
        record = self.backend.get(url)
        if record is None and HOSTED_PATH in url:
            local_id = unquote(url.split(HOSTED_PATH, 1)[1].split("?", 1)[0])
            record = self.backend.get(local_id)
        if record is None:
            return None
        return record["body"], record["id"]

    def add_cached(self, url: str, document: Any) -> dict[str, Any]:
        """Keep a downloaded context (kind Cached, id = its URL)."""
        record = self._new(url, url, CACHED, document)
        self.backend.put(url, record)
        return record

    # -- used by routes and subscriptions ----------------------------------------------
    def add_context(self, body: Any) -> dict[str, Any]:
        """POST /jsonldContexts: body {"@context": …} becomes a Hosted context (§5.13.2)."""
        if not isinstance(body, dict) or "@context" not in body:
            raise BadRequestData("the payload must be a JSON object with an @context member")
        validate_context_value(body["@context"])
        local_id = f"urn:ngsi-ld:jsonldContext:{uuid.uuid4()}"
        record = self._new(local_id, self.hosted_url(local_id), HOSTED,
                           {"@context": body["@context"]})
        self.backend.put(local_id, record)
        return record

    def add_implicit(self, context: Any) -> dict[str, Any]:
        """An ImplicitlyCreated context wrapping `context` (e.g. a subscription's array)."""
        validate_context_value(context)
        local_id = f"urn:ngsi-ld:jsonldContext:{uuid.uuid4()}"
        record = self._new(local_id, self.hosted_url(local_id), IMPLICIT, {"@context": context})
        self.backend.put(local_id, record)
        return record

    def list_contexts(self, details: bool = False, kind: str | None = None) -> list[Any]:
        """GET /jsonldContexts (§5.13.3): URLs, or detail objects, optionally of one kind."""
        if kind is not None and kind != "" and kind not in KINDS:
            raise BadRequestData(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        stored = sorted((self._flush(r) for r in self.backend.list()),
                        key=lambda r: r["createdAt"])
        records = [self._core_record(), *stored]
        records = [r for r in records if not kind or r["kind"] == kind]
        if details:
            return [self._details(r) for r in records]
        return [r["url"] for r in records]

    def get_context(self, id: str, details: bool = False) -> dict[str, Any]:
        """GET /jsonldContexts/{id} (§5.13.4): the context document, or its details."""
        if is_core_url(id):
            record = self._core_record()
            return self._details(record) if details else CORE_DOCUMENT
        found = self._find(id)
        if found is None:
            raise ResourceNotFound(f"no @context {id}")
        record = self._flush(found)
        out = self._details(record) if details else record["body"]
        self.count_hits((record["id"],))  # serving is a use; counted after it is reported
        return out

    async def delete_context(self, id: str, reload: bool = False) -> None:
        """DELETE /jsonldContexts/{id} (§5.13.5); reload=true downloads a Cached one again."""
        if is_core_url(id):
            if not reload:
                raise BadRequestData("the core @context cannot be deleted")
            return  # the core context is bundled: reloading it is a no-op
        record = self._find(id)
        if record is None:
            if reload:
                raise BadRequestData(f"no Cached @context {id} to reload")
            raise ResourceNotFound(f"no @context {id}")
        if reload:
            if record["kind"] != CACHED:
                raise BadRequestData(f"only Cached @contexts can be reloaded, {id} is "
                                     f"{record['kind']}")
            await self._reload(record)
            return
        self.backend.delete(record["id"])
        self._hits.pop(record["id"], None)
        self._last.pop(record["id"], None)
        if self._resolver is not None:
            self._resolver.invalidate(record["url"])

    async def _reload(self, record: dict[str, Any]) -> None:
        if self._resolver is None:
            raise ContextReloadFailed(f"@context {record['url']} cannot be downloaded")
        try:
            document = await self._resolver.fetch(record["url"])
        except (LdContextNotAvailable, BadRequestData) as exc:
            raise ContextReloadFailed(f"@context {record['url']} could not be reloaded: "
                                      f"{exc.detail}") from exc
        self._hits.pop(record["id"], None)
        self._last.pop(record["id"], None)
        self.backend.put(record["id"], self._new(record["id"], record["url"], CACHED, document))
        self._resolver.invalidate(record["url"])

    # -- helpers -----------------------------------------------------------------------
    def _find(self, id: str) -> dict[str, Any] | None:
        record = self.backend.get(id)
        if record is None and HOSTED_PATH in id:
            record = self.backend.get(unquote(id.split(HOSTED_PATH, 1)[1]))
        return record

    def _new(self, id: str, url: str, kind: str, body: Any) -> dict[str, Any]:
        return {"id": id, "url": url, "kind": kind, "createdAt": now_iso(), "lastUsage": None,
                "numberOfHits": 0, "extraInfo": None, "body": body}

    def _flush(self, record: dict[str, Any]) -> dict[str, Any]:
        hits = self._hits.pop(record["id"], 0)
        if not hits:
            return record
        record = dict(record, numberOfHits=record.get("numberOfHits", 0) + hits,
                      lastUsage=_iso(self._last.pop(record["id"])))
        self.backend.put(record["id"], record)
        return record

    def _core_record(self) -> dict[str, Any]:
        return {"id": CORE_CONTEXT_URL, "url": CORE_CONTEXT_URL, "kind": CACHED,
                "createdAt": self.created_at, "extraInfo": {"bundled": True}}

    @staticmethod
    def _details(record: dict[str, Any]) -> dict[str, Any]:
        out = {"URL": record["url"], "localId": record["id"], "kind": record["kind"],
               "createdAt": record["createdAt"]}
        for key in ("lastUsage", "numberOfHits", "extraInfo"):
            if record.get(key) is not None:
                out[key] = record[key]
        return out
