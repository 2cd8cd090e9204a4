"""JSON-LD @context resolution with a fast path: compiled contexts cached by their key.

ETSI GS CIM 009 v1.8 §5.5.7 (JSON-LD @context resolution); the core context applies last.
"""

from __future__ import annotations

import json
import re
from collections.abc import Hashable, Iterable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from cityos.ngsi.errors import BadRequestData, LdContextNotAvailable
from cityos.ngsi.jsonld import _compile
from cityos.ngsi.jsonld._fetch import RemoteFetcher

if TYPE_CHECKING:
    from cityos.ngsi.jsonld.registry import ContextRegistry

CORE_CONTEXT_URL = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
DEFAULT_VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
HOSTED_PATH = "/ngsi-ld/v1/jsonldContexts/"
# Any version of the core context named by a client is replaced by the bundled v1.8 one.
_CORE_URL = re.compile(r"^https?://uri\.etsi\.org/ngsi-ld/v1/ngsi-ld-core-context(-v[0-9.]+)?\.jsonld$")

ContextValue = None | str | dict[str, Any] | list[Any]


def is_core_url(url: str) -> bool:
    return url == CORE_CONTEXT_URL or _CORE_URL.match(url) is not None


def _load_core() -> dict[str, Any]:
    ref = resources.files("cityos.ngsi.jsonld") / "contexts" / "ngsi-ld-core-context-v1.8.jsonld"
    doc: dict[str, Any] = json.loads(ref.read_text(encoding="utf-8"))
    return doc


CORE_DOCUMENT = _load_core()


class ActiveContext:
    """A compiled user context + core context; every term lookup is a cached dict hit."""

    __slots__ = ("_cmp", "_compiled", "_exp", "hit_ids", "key", "urls", "user_context")

    def __init__(self, key: Hashable, user_context: list[Any], compiled: _compile.Compiled,
                 hit_ids: tuple[str, ...] = ()) -> None:
        self.key = key
        self.user_context = user_context  # as echoed in a body @context (core excluded)
        self.urls = [c for c in user_context if isinstance(c, str)]
        self.hit_ids = hit_ids  # registry entries whose numberOfHits this context counts
        self._compiled = compiled
        self._exp: dict[str, str] = {}
        self._cmp: dict[str, str] = {}
        for term, d in compiled.terms.items():
            if d.iri is not None and not d.reverse and not d.iri.startswith("@"):
                self._exp[term] = d.iri  # keyword aliases (id, type) are not names

    def expand_term(self, term: str) -> str:
        """Attribute name or entity type → IRI (terms, compact IRIs, absolute IRIs, @vocab)."""
        try:
            return self._exp[term]
        except KeyError:
            pass
        iri = _compile.expand_iri(self._compiled, term, vocab=True)
        if iri is None or iri.startswith("@"):
            raise BadRequestData(f"{term!r} cannot be used as a name or type")
        if len(self._exp) < 65536:
            self._exp[term] = iri
        return iri

    def compact_iri(self, iri: str) -> str:
        """IRI → the term a JSON-LD processor would pick for a node value or an @type value."""
        try:
            return self._cmp[iri]
        except KeyError:
            pass
        term = _compile.compact_iri(self._compiled, iri)
        if len(self._cmp) < 65536:
            self._cmp[iri] = term
        return term

    expand_vocab_value = expand_term      # VocabProperty values are @vocab-coerced IRIs
    compact_vocab_value = compact_iri

    @property
    def vocab(self) -> str | None:
        return self._compiled.vocab

    def __repr__(self) -> str:
        return f"ActiveContext({self.user_context!r})"


def context_key(ctx: ContextValue) -> Hashable:
    """The cache key of a context value: itself for None or a URL, canonical JSON otherwise."""
    if ctx is None or isinstance(ctx, str):
        return ctx
    if isinstance(ctx, list) and len(ctx) == 1 and isinstance(ctx[0], str):
        return ctx[0]
    try:
        return orjson.dumps(ctx, option=orjson.OPT_SORT_KEYS)
    except TypeError as exc:
        raise BadRequestData(f"Invalid JSON-LD @context: {exc}") from exc


def user_context(ctx: ContextValue) -> list[Any]:
    """The context as a list of items, with any core context URL removed."""
    items = [] if ctx is None else ctx if isinstance(ctx, list) else [ctx]
    out: list[Any] = []
    for item in items:
        if isinstance(item, str):
            if not is_core_url(item):
                out.append(item)
        elif isinstance(item, dict):
            out.append(item)
        else:
            raise BadRequestData(
                f"Invalid JSON-LD @context: item must be a URL or an object, not {item!r}")
    return out


class ContextResolver:
    """Resolves @context values to ActiveContexts; URLs come from the bundled core context,
    the registry (/jsonldContexts), `preload_dir` or, for `allow_remote` prefixes, HTTP(S).

    `preload_dir` holds a `contexts.json` index mapping each URL to a file name in that
    directory, e.g. {"https://smartdatamodels.org/context.jsonld": "sdm.jsonld"}.
    """

    def __init__(self, allow_remote: Iterable[str] = (), preload_dir: Path | None = None,
                 timeout: float = 5.0, registry: ContextRegistry | None = None,
                 max_contexts: int = 4096, max_bytes: int = 1 << 20) -> None:
        self.allow_remote = tuple(allow_remote)
        self.registry = registry
        self._fetcher = RemoteFetcher(timeout=timeout, max_bytes=max_bytes)
        self._preload: dict[str, Path] = _read_index(preload_dir) if preload_dir else {}
        self._docs: dict[str, Any] = {}  # remote/preloaded documents not kept by a registry
        self._max = max_contexts
        self._active: dict[Hashable, ActiveContext] = {}
        self._core = _compile.process(_compile.Compiled(), CORE_DOCUMENT["@context"], {})
        self._active[None] = ActiveContext(None, [], self._core)
        if registry is not None:
            registry.attach(self)

    def resolve_cached(self, ctx: ContextValue) -> ActiveContext | None:
        """Synchronous fast path: the compiled context if this exact ctx was resolved before."""
        if ctx is None or type(ctx) is str:
            active = self._active.get(ctx)
        else:
            try:
                active = self._active.get(context_key(ctx))
            except BadRequestData:
                return None
        if active is not None and active.hit_ids and self.registry is not None:
            self.registry.count_hits(active.hit_ids)
        return active

    async def resolve(self, ctx: ContextValue) -> ActiveContext:
        """Resolve ctx (None, URL, object or list); LdContextNotAvailable if a URL cannot be had."""
        active = self.resolve_cached(ctx)
        if active is not None:
            return active
        key = context_key(ctx)
        items = user_context(ctx)
        docs: dict[str, Any] = {}
        hit_ids: list[str] = []
        await self._load(items, docs, hit_ids, 0)
        compiled = _compile.process(_compile.Compiled(), items, docs)
        compiled = _compile.process(compiled, CORE_DOCUMENT["@context"], {})
        active = ActiveContext(key, items, compiled, tuple(dict.fromkeys(hit_ids)))
        if len(self._active) >= self._max:
            self._active.pop(next(k for k in self._active if k is not None))
        self._active[key] = active
        if active.hit_ids and self.registry is not None:
            self.registry.count_hits(active.hit_ids)
        return active

    async def _load(self, local: Any, docs: dict[str, Any], hit_ids: list[str],
                    depth: int) -> None:
        if depth > 8:
            raise BadRequestData("Invalid JSON-LD @context: remote contexts nested too deep")
        for item in local if isinstance(local, list) else [local]:
            if isinstance(item, str) and item not in docs:
                doc, hit_id = await self.document(item)
                docs[item] = doc
                if hit_id is not None:
                    hit_ids.append(hit_id)
                if isinstance(doc, dict):
                    await self._load(doc.get("@context"), docs, hit_ids, depth + 1)

    async def document(self, url: str) -> tuple[Any, str | None]:
        """The context document at `url` and the registry id that served it, if any."""
        if is_core_url(url):
            return CORE_DOCUMENT, None
        reg = self.registry
        if reg is not None:
            found = reg.lookup_url(url)
            if found is not None:
                return found
        if url in self._docs:
            return self._docs[url], None
        path = self._preload.get(url)
        if path is not None:
            doc = _read_json(path, url)
            if reg is not None:  # preloaded stands in for downloaded: a Cached @context
                record = reg.add_cached(url, doc)
                return doc, record["id"]
            self._docs[url] = doc
            return doc, None
        if not url.startswith(self.allow_remote) or not self.allow_remote:
            raise LdContextNotAvailable(f"@context {url} is not available: remote fetching of "
                                        "this URL is not allowed")
        doc = await self.fetch(url)
        if reg is not None:
            record = reg.add_cached(url, doc)
            return doc, record["id"]
        if len(self._docs) >= self._max:
            self._docs.pop(next(iter(self._docs)))
        self._docs[url] = doc
        return doc, None

    async def fetch(self, url: str) -> Any:
        """Download a remote context (allow-listed prefixes only); LdContextNotAvailable on error."""
        if not self.allow_remote or not url.startswith(self.allow_remote):
            raise LdContextNotAvailable(f"remote fetching of @context {url} is not allowed")
        return await self._fetcher.fetch(url)

    def invalidate(self, url: str | None = None) -> None:
        """Forget compiled contexts (after a registry change); the core-only one stays."""
        self._active = {None: self._active[None]}
        if url is not None:
            self._docs.pop(url, None)

    async def aclose(self) -> None:
        await self._fetcher.aclose()


def _read_index(preload_dir: Path) -> dict[str, Path]:
    index = preload_dir / "contexts.json"
    try:
        mapping = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{index}: cannot read the preloaded @context index: {exc}") from exc
    if not isinstance(mapping, dict):
        raise ValueError(f"{index}: must be an object {{url: filename}}")
    return {str(url): preload_dir / str(name) for url, name in mapping.items()}


def _read_json(path: Path, url: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LdContextNotAvailable(f"@context {url}: preloaded file unreadable: {exc}") from exc
    except ValueError as exc:
        raise BadRequestData(f"@context {url}: preloaded file is not JSON: {exc}") from exc
