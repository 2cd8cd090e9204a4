"""pyld (a full JSON-LD 1.1 processor) is the oracle for expand_term and compact_iri.

JSON-LD 1.1 expansion/compaction of NGSI-LD entities, ETSI GS CIM 009 v1.8 §5.5.7; no network.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyld import jsonld

from cityos.ngsi.errors import BadRequestData
from cityos.ngsi.jsonld.context import CORE_CONTEXT_URL, CORE_DOCUMENT, ContextResolver
from cityos.ngsi.jsonld.registry import ContextRegistry

NGSI = "https://uri.etsi.org/ngsi-ld/"
CORE_KEYS = {NGSI + k for k in ("hasValue", "hasObject", "observedAt", "unitCode",
                                "datasetId")} | {"@id", "@type"}
BASES = ["https://example.org/ns/", "http://vocab.example/v#", "urn:x:", "https://schema.org/",
         NGSI, NGSI + "default-context/"]
LOCALS = ["a", "b", "temp", "Shelter", "occupancy", "x1", "location", "Property"]
PREFIXES = ["p0", "p1", "p2"]
TERMS = ["temp", "Shelter", "occupancy", "kind", "t", "location", "owner", "a", "Property"]

iris = st.builds(lambda b, name: b + name, st.sampled_from(BASES), st.sampled_from(LOCALS))
compact = st.builds(lambda p, name: f"{p}:{name}", st.sampled_from(PREFIXES),
                    st.sampled_from(LOCALS))
term_value = st.one_of(
    iris, compact,
    st.builds(lambda i: {"@id": i}, st.one_of(iris, compact)),
    st.builds(lambda i: {"@id": i, "@type": "@id"}, iris),
    st.builds(lambda i: {"@id": i, "@container": "@set"}, iris),
    st.sampled_from(TERMS),  # a reference to another term (may be cyclic: then both fail)
)
# Coerced terms change how values expand, so entities never use them as names; they only
# compete with plain terms for the same IRIs when compacting.
coerced_value = st.one_of(
    st.builds(lambda i, t: {"@id": i, "@type": t}, iris,
              st.sampled_from(["@vocab", "@json", "DateTime", "https://example.org/ns/a"])),
    st.builds(lambda i, c: {"@id": i, "@container": c}, iris,
              st.sampled_from(["@list", "@language"])),  # @index: see compact_iri
)
COERCED = ["cA", "cB", "cC"]
prefix_defs = st.dictionaries(st.sampled_from(PREFIXES), st.sampled_from(BASES), max_size=3)
term_defs = st.builds(lambda a, b: {**a, **b},
                      st.dictionaries(st.sampled_from(TERMS), term_value, max_size=6),
                      st.dictionaries(st.sampled_from(COERCED), coerced_value, max_size=2))
vocab = st.one_of(st.none(), st.sampled_from(BASES))


@st.composite
def user_contexts(draw: Any) -> list[dict[str, Any]]:
    prefixes, terms = draw(prefix_defs), draw(term_defs)
    first: dict[str, Any] = dict(prefixes)
    v = draw(vocab)
    if v is not None:
        first["@vocab"] = v
    if draw(st.booleans()):
        return [{**first, **terms}]
    return [first, terms]


names = st.one_of(st.sampled_from(TERMS + LOCALS), compact, iris,
                  st.sampled_from(["speed", "hasPart", "ngsi-ld:foo"]))


@st.composite
def attribute(draw: Any) -> dict[str, Any]:
    if draw(st.booleans()):
        attr: dict[str, Any] = {"type": "Property", "value": draw(st.integers(0, 9) | st.text(
            "abc", max_size=3))}
    else:
        attr = {"type": "Relationship", "object": f"urn:ngsi-ld:Thing:{draw(st.integers(0, 9))}"}
    for sub in draw(st.lists(names, max_size=2, unique=True)):
        attr[sub] = {"type": "Property", "value": 1}
    return attr


@st.composite
def entities(draw: Any) -> dict[str, Any]:
    types = draw(st.lists(names, min_size=1, max_size=2, unique=True))
    entity: dict[str, Any] = {"id": "urn:ngsi-ld:Thing:1",
                              "type": types[0] if len(types) == 1 else types}
    for name in draw(st.lists(names, max_size=4, unique=True)):
        entity[name] = draw(attribute())
    return entity


def _loader(docs: dict[str, Any]) -> Any:
    def load(url: str, options: Any = None) -> dict[str, Any]:
        return {"contextUrl": None, "documentUrl": url, "document": copy.deepcopy(docs[url])}
    return load


def _attr_keys(node: dict[str, Any]) -> set[str]:
    return {k for k in node if k not in CORE_KEYS}


def _as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(user_contexts(), entities(), st.booleans())
def test_expand_and_compact_agree_with_pyld(user: list[dict[str, Any]], entity: dict[str, Any],
                                            hosted: bool) -> None:
    registry = ContextRegistry(base_url="http://broker.test")
    resolver = ContextResolver(registry=registry)
    docs: dict[str, Any] = {CORE_CONTEXT_URL: CORE_DOCUMENT}
    options = {"documentLoader": _loader(docs)}
    items: list[Any] = list(user)
    try:
        jsonld.expand({"@context": [*items, CORE_CONTEXT_URL], **entity}, options)
    except jsonld.JsonLdError:
        with pytest.raises(BadRequestData):
            asyncio.run(resolver.resolve(items))
        return  # (the registry checks hosted contexts leniently: URLs may bring an @vocab)
    if hosted:  # serve the first part as a URL, the way /jsonldContexts hosts it
        record = registry.add_context({"@context": user[0]})
        docs[record["url"]] = record["body"]
        items[0] = record["url"]
    ctx = asyncio.run(resolver.resolve(items))
    (expanded,) = jsonld.expand({"@context": [*items, CORE_CONTEXT_URL], **entity}, options)

    names_ = [n for n in entity if n not in ("id", "type")]
    assert expanded["@type"] == [ctx.expand_term(t) for t in _as_list(entity["type"])]
    assert _attr_keys(expanded) == {ctx.expand_term(n) for n in names_}
    for name in names_:
        subs = [k for k in entity[name] if k not in ("type", "value", "object")]
        (instance,) = expanded[ctx.expand_term(name)] if len(
            [n for n in names_ if ctx.expand_term(n) == ctx.expand_term(name)]) == 1 else [None]
        if instance is not None:
            assert _attr_keys(instance) == {ctx.expand_term(s) for s in subs}

    compacted = jsonld.compact(expanded, {"@context": [*items, CORE_CONTEXT_URL]}, options)
    want_types = [ctx.compact_iri(t) for t in expanded["@type"]]
    assert _as_list(compacted["type"]) == want_types
    got = {k for k in compacted if k not in ("@context", "id", "type")}
    assert got == {ctx.compact_iri(iri) for iri in _attr_keys(expanded)}
    for iri in _attr_keys(expanded):
        instances = _as_list(compacted[ctx.compact_iri(iri)])
        sub_got = {k for i in instances for k in i if k not in ("type", "value", "object")}
        sub_iris = {k for x in expanded[iri] for k in _attr_keys(x)}
        assert sub_got == {ctx.compact_iri(s) for s in sub_iris}


def test_core_only_agrees_on_core_terms() -> None:
    ctx = asyncio.run(ContextResolver().resolve(None))
    docs = {CORE_CONTEXT_URL: CORE_DOCUMENT}
    options = {"documentLoader": _loader(docs)}
    for term in CORE_DOCUMENT["@context"]:
        if term.startswith("@") or term in ("id", "type"):
            continue
        (expanded,) = jsonld.expand({"@context": CORE_CONTEXT_URL, "@id": "urn:x",
                                     term: {"@id": "urn:y"}}, options) or [{}]
        iris_ = [k for k in expanded if k != "@id"]
        if iris_:
            assert iris_ == [ctx.expand_term(term)], term
