"""Compile JSON-LD @context documents into flat term tables (the subset NGSI-LD needs).

JSON-LD 1.1 §4.1 context processing, §4.2 term definitions, §5.2 IRI expansion, as used by
ETSI GS CIM 009 v1.8 §5.5.7; pyld is the oracle in tests/ngsi/jsonld/test_pyld_agreement.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cityos.ngsi.errors import BadRequestData

_KEYWORD_FORM = re.compile(r"^@[a-zA-Z]+$")
_ABSOLUTE_IRI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:")
_GEN_DELIM_END = re.compile(r"[:/?#\[\]@]$")
_CONTAINERS = {"@list", "@set", "@index", "@language", "@id", "@type", "@graph"}
_CONTEXT_KEYWORDS = {"@version", "@base", "@vocab", "@language", "@direction", "@protected",
                     "@propagate", "@import"}

# Loaded context documents by URL; the resolver fetches them before compiling.
Documents = Mapping[str, Any]


@dataclass(slots=True)
class TermDef:
    """One term definition: IRI mapping plus what matters for term selection."""

    iri: str | None
    prefix: bool = False
    type: str | None = None
    container: str | None = None
    reverse: bool = False
    protected: bool = False


@dataclass(slots=True)
class Compiled:
    """An active context: the term table and the vocabulary mapping."""

    terms: dict[str, TermDef] = field(default_factory=dict)
    vocab: str | None = None


def invalid(detail: str) -> BadRequestData:
    return BadRequestData(f"Invalid JSON-LD @context: {detail}")


def process(active: Compiled, local: Any, docs: Documents, _depth: int = 0) -> Compiled:
    """Process a local context (URL, object, null or array) onto `active`; returns a new one."""
    if _depth > 16:
        raise invalid("context nesting too deep (recursive context inclusion?)")
    items = local if isinstance(local, list) else [local]
    result = Compiled(dict(active.terms), active.vocab)
    for item in items:
        if item is None:
            if any(d.protected for d in result.terms.values()):
                raise invalid("cannot reset a context holding protected terms")
            result = Compiled()
        elif isinstance(item, str):
            doc = docs.get(item)
            if not isinstance(doc, dict) or "@context" not in doc:
                raise invalid(f"{item} is not a JSON-LD context document")
            result = process(result, doc["@context"], docs, _depth + 1)
        elif isinstance(item, dict):
            _process_object(result, item)
        else:
            raise invalid(f"a context must be a URL, an object or null, not {type(item).__name__}")
    return result


def _process_object(active: Compiled, local: dict[str, Any]) -> None:
    version = local.get("@version")
    if version is not None and version != 1.1:
        raise invalid("@version must be 1.1")
    if "@import" in local:
        raise invalid("@import is not supported")
    if "@vocab" in local:
        vocab = local["@vocab"]
        if vocab is None:
            active.vocab = None
        elif isinstance(vocab, str):
            expanded = expand_iri(active, vocab, vocab=True)
            if expanded is None or not (_ABSOLUTE_IRI.match(expanded) or expanded.startswith("_:")):
                raise invalid(f"@vocab must be an IRI, not {vocab!r}")
            active.vocab = expanded
        else:
            raise invalid("@vocab must be a string or null")
    protected = local.get("@protected", False)
    if not isinstance(protected, bool):
        raise invalid("@protected must be a boolean")
    defined: dict[str, bool] = {}
    for term in local:
        if term not in _CONTEXT_KEYWORDS:
            _define(active, local, term, defined, protected)


def _define(active: Compiled, local: dict[str, Any], term: str, defined: dict[str, bool],
            protected: bool) -> None:
    if defined.get(term) is True:
        return
    if term in defined:
        raise invalid(f"cyclic IRI mapping for {term!r}")
    defined[term] = False
    value = local[term]
    if term == "":
        raise invalid("empty term")
    if term.startswith("@"):
        if term == "@type" and isinstance(value, dict):
            defined[term] = True  # JSON-LD 1.1 allows {"@container": "@set"} for @type
            return
        if _KEYWORD_FORM.match(term):
            raise invalid(f"keyword redefinition {term!r}")
        defined[term] = True  # looks like a keyword: ignored (JSON-LD 1.1 §4.2.2 step 4)
        return
    previous = active.terms.pop(term, None)
    simple = isinstance(value, str)
    if value is None:
        spec: dict[str, Any] = {"@id": None}
    elif isinstance(value, str):
        spec = {"@id": value}
    elif isinstance(value, dict):
        spec = value
    else:
        raise invalid(f"term {term!r} must map to a string, an object or null")
    d = TermDef(iri=None, protected=bool(spec.get("@protected", protected)))
    if "@type" in spec:
        t = spec["@type"]
        if not isinstance(t, str):
            raise invalid(f"@type of {term!r} must be a string")
        d.type = expand_iri(active, t, vocab=True, local=local, defined=defined)
        if d.type is None or not (d.type in ("@id", "@json", "@none", "@vocab")
                                  or _ABSOLUTE_IRI.match(d.type)):
            raise invalid(f"@type of {term!r} must be an IRI, @id, @json, @none or @vocab")
    if "@reverse" in spec:
        rev = spec["@reverse"]
        if not isinstance(rev, str) or "@id" in spec:
            raise invalid(f"invalid @reverse for {term!r}")
        d.iri, d.reverse = expand_iri(active, rev, vocab=True, local=local, defined=defined), True
    elif "@id" in spec and spec["@id"] != term:
        iri = spec["@id"]
        if iri is not None:
            if not isinstance(iri, str):
                raise invalid(f"@id of {term!r} must be a string")
            if not _is_keyword(iri) and _KEYWORD_FORM.match(iri):
                defined[term] = True  # keyword-like @id: term ignored
                return
            iri = expand_iri(active, iri, vocab=True, local=local, defined=defined)
            if iri is None or not (_is_keyword(iri) or _ABSOLUTE_IRI.match(iri)
                                   or iri.startswith("_:")):
                raise invalid(f"term {term!r} does not map to an IRI")
            if iri == "@context":
                raise invalid("invalid keyword alias @context")
            if ":" in term[1:-1] or "/" in term:
                defined[term] = True
                if expand_iri(active, term, vocab=True, local=local, defined=defined) != iri:
                    raise invalid(f"term {term!r} in the form of an IRI must expand to itself")
            d.prefix = simple and ":" not in term and "/" not in term and bool(
                iri.startswith("_:") or _GEN_DELIM_END.search(iri))
        d.iri = iri
    elif ":" in term[1:]:
        prefix, suffix = term.split(":", 1)
        if prefix in local:
            _define(active, local, prefix, defined, protected)
        pdef = active.terms.get(prefix)
        d.iri = pdef.iri + suffix if pdef is not None and pdef.iri else term
    elif "/" in term:
        d.iri = term
    elif active.vocab is not None:
        d.iri = active.vocab + term
    else:
        raise invalid(f"term {term!r} has no IRI mapping and there is no @vocab")
    if "@container" in spec:
        d.container = _container(term, spec["@container"])
    if "@prefix" in spec:
        if not isinstance(spec["@prefix"], bool) or ":" in term or "/" in term:
            raise invalid(f"invalid @prefix for {term!r}")
        d.prefix = spec["@prefix"]
    if previous is not None and previous.protected and not _same(previous, d):
        raise invalid(f"protected term {term!r} cannot be redefined")
    active.terms[term] = d
    defined[term] = True


def _container(term: str, c: Any) -> str:
    parts = c if isinstance(c, list) else [c]
    if not parts or any(not isinstance(p, str) or p not in _CONTAINERS for p in parts):
        raise invalid(f"invalid @container for {term!r}")
    return "".join(sorted(parts))


def _same(a: TermDef, b: TermDef) -> bool:
    return (a.iri, a.type, a.container, a.reverse) == (b.iri, b.type, b.container, b.reverse)


def _is_keyword(v: str) -> bool:
    return v.startswith("@") and _KEYWORD_FORM.match(v) is not None and v in _ALL_KEYWORDS


_ALL_KEYWORDS = {"@base", "@container", "@context", "@direction", "@graph", "@id", "@import",
                 "@included", "@index", "@json", "@language", "@list", "@nest", "@none",
                 "@prefix", "@propagate", "@protected", "@reverse", "@set", "@type", "@value",
                 "@version", "@vocab"}


def expand_iri(active: Compiled, value: str, *, vocab: bool,
               local: dict[str, Any] | None = None,
               defined: dict[str, bool] | None = None) -> str | None:
    """JSON-LD 1.1 IRI expansion (§5.2); document-relative resolution is not needed here."""
    if _is_keyword(value):
        return value
    if _KEYWORD_FORM.match(value):
        return None
    if local is not None and defined is not None and value in local \
            and defined.get(value) is not True:
        _define(active, local, value, defined, False)
    if vocab and value in active.terms:
        return active.terms[value].iri
    colon = value.find(":")
    if colon > 0:
        prefix, suffix = value[:colon], value[colon + 1:]
        if prefix == "_" or suffix.startswith("//"):
            return value
        if local is not None and defined is not None and prefix in local \
                and not defined.get(prefix):
            _define(active, local, prefix, defined, False)
        pdef = active.terms.get(prefix)
        if pdef is not None and pdef.iri and pdef.prefix:
            return pdef.iri + suffix
        if _ABSOLUTE_IRI.match(value):
            return value
    if vocab and active.vocab is not None:
        return active.vocab + value
    return value


def compact_iri(active: Compiled, iri: str) -> str:
    """JSON-LD 1.1 IRI compaction (§6.2) with vocab=true for a node value or an @type value.

    Term selection is reduced to what NGSI-LD attribute names and entity types meet: terms
    with an @id or no type coercion, and a @set or no container; ties go to the shortest,
    then lexicographically least term, as in the inverse context.
    """
    best: tuple[int, int, int, str] | None = None
    for term, d in active.terms.items():
        if d.iri != iri or d.reverse or d.container not in (None, "@set"):
            continue
        if d.type not in (None, "@id"):
            continue
        rank = (0 if d.container == "@set" else 1, 0 if d.type == "@id" else 1, len(term), term)
        if best is None or rank < best:
            best = rank
    if best is not None:
        return best[3]
    vocab = active.vocab
    if vocab is not None and iri.startswith(vocab) and iri != vocab:
        suffix = iri[len(vocab):]
        if suffix not in active.terms:
            return suffix
    candidate: str | None = None
    for term, d in active.terms.items():
        if ":" in term or not d.iri or d.iri == iri or not iri.startswith(d.iri):
            continue
        curie = term + ":" + iri[len(d.iri):]
        other = active.terms.get(curie)
        usable = (d.prefix and other is None) or (other is not None and other.iri == iri)
        if usable and (candidate is None or (len(curie), curie) < (len(candidate), candidate)):
            candidate = curie
    return candidate if candidate is not None else iri
