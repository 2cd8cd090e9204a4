"""Names the NGSI-LD information model reserves (ETSI GS CIM 009 v1.8 §4.5, §5.2).

One place for the attribute kinds, their value keys and the reserved member names.
"""

from __future__ import annotations

import re
import time
import unicodedata
from datetime import UTC, datetime
from typing import Protocol, TypeGuard

# attribute kind -> the member that holds its value
VALUE_KEY = {
    "Property": "value",
    "GeoProperty": "value",
    "Relationship": "object",
    "LanguageProperty": "languageMap",
    "VocabProperty": "vocab",
    "JsonProperty": "json",
    "ListProperty": "valueList",
    "ListRelationship": "objectList",
}
# the member that, in concise form, tells the kind
KIND_OF_KEY = {
    "object": "Relationship",
    "languageMap": "LanguageProperty",
    "vocab": "VocabProperty",
    "json": "JsonProperty",
    "valueList": "ListProperty",
    "objectList": "ListRelationship",
    "value": "Property",
}
VALUE_KEYS = frozenset(VALUE_KEY.values())
SYSTEM_ATTRS = ("createdAt", "modifiedAt", "deletedAt")
INSTANCE_META = frozenset({"datasetId", "observedAt", "unitCode", "objectType", "lang",
                           "instanceId", "previousValue", "previousObject", "previousLanguageMap",
                           "previousVocab", "previousJson", "previousValueList",
                           "previousObjectList", *SYSTEM_ATTRS})
INSTANCE_RESERVED = frozenset({"type", "@type", *VALUE_KEYS, *INSTANCE_META})
ENTITY_RESERVED = frozenset({"id", "@id", "type", "@type", "scope", "@context", *SYSTEM_ATTRS})
GEOJSON_TYPES = frozenset({"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
                           "MultiPolygon"})
GEO_ATTRIBUTES = frozenset({"location", "observationSpace", "operationSpace"})
NGSI_NULL = "urn:ngsi-ld:null"

_FORBIDDEN_NAME = re.compile(r"[\s<>\"'=;()\\\x00-\x1f]")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`\x00-\x1f\x7f]*$")  # no controls


class Context(Protocol):
    """What the model needs of a resolved @context (see ngsi.jsonld.context.ActiveContext)."""

    def expand_term(self, term: str) -> str: ...

    def compact_iri(self, iri: str) -> str: ...

    def expand_vocab_value(self, v: str) -> str: ...

    def compact_vocab_value(self, iri: str) -> str: ...


def is_null_instance(inst: dict[str, object]) -> bool:
    """An instance that asks to delete what it names (NGSI-LD Null, §4.5.0)."""
    kind = inst.get("type")
    value = inst.get(VALUE_KEY.get(kind, "value") if isinstance(kind, str) else "value")
    if value == NGSI_NULL:
        return True
    if kind == "LanguageProperty" and isinstance(value, dict):
        return value == {"@none": NGSI_NULL}
    return isinstance(value, list) and value == [NGSI_NULL]


# invisible code points no reader can tell apart (RFC 3987 §4.1 bidi controls, §8 spoofing)
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})
_INVISIBLE = frozenset({0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800})


def _visible(value: str) -> bool:
    for ch in value:
        cp = ord(ch)
        if cp < 0x80:
            continue
        if (cp in _INVISIBLE or 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF
                or 0xFDD0 <= cp <= 0xFDEF or (cp & 0xFFFE) == 0xFFFE
                or unicodedata.category(ch) in _INVISIBLE_CATEGORIES):
            return False
    return True


def is_uri(value: object) -> TypeGuard[str]:
    """An absolute URI or IRI (RFC 3987) without invisible or non-character code points."""
    return (isinstance(value, str) and len(value) < 2048 and _URI.match(value) is not None
            and (value.isascii() or _visible(value)))


def is_valid_name(name: object) -> bool:
    """A term or an IRI: not empty, no forbidden characters, not a path (leading `/`, `.`, `..`)."""
    return (isinstance(name, str) and 0 < len(name) <= 512 and not _FORBIDDEN_NAME.search(name)
            and not name.startswith("/") and name not in (".", ".."))


_second: tuple[int, str] = (-1, "")  # the last whole second formatted, and its text


def now_iso() -> str:
    """The current time as NGSI-LD writes system attributes: UTC, milliseconds, `Z`.

    The date and time of day are formatted once per second (strftime took 3 µs of every write)."""
    global _second
    second, ms = divmod(time.time_ns() // 1_000_000, 1000)
    held = _second  # one read: another thread may replace it meanwhile
    if held[0] != second:
        held = _second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{held[1]}.{ms:03d}Z"


def parse_datetime(value: object) -> datetime | None:
    """An ISO 8601 date-time with a zone (or naive = UTC); None if it is not one."""
    if not isinstance(value, str) or len(value) < 16 or "T" not in value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        parsed.astimezone(UTC)  # 9999-12-31T23:00-05:00 is past what a date-time holds
    except (ValueError, OverflowError):
        return None
    return parsed
