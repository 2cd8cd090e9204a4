"""NGSI v2 (FIWARE Orion) entities ⇄ NGSI-LD entities in the normalized form, compacted with
the core @context, so that a v2 client and an NGSI-LD client see the same store.

The mapping (docs/ngsi-v2.md):
- ids: a v2 id that is not a URI is kept as `urn:ngsi-v2:<id>`; a URI id is kept as it is.
- types and attribute names: the same short names; under the core @context both expand to
  the default vocabulary (`https://uri.etsi.org/ngsi-ld/default-context/<name>`).
- attributes: `Relationship` → Relationship (its value an entity id), `geo:json` →
  GeoProperty, `geo:point` ("lat, lon") → GeoProperty Point, `DateTime` → Property with a
  DateTime value, anything else → Property. A v2 type other than the one v2 would infer
  from the value (Number, Text, Boolean, StructuredValue) is kept in a sub-property
  `ngsiV2Type`; metadata become sub-properties.
"""

from __future__ import annotations

import math
import re
from typing import Any

from cityos.ngsi.model.terms import is_uri

V2_ID_PREFIX = "urn:ngsi-v2:"
V2_TYPE = "ngsiV2Type"  # sub-property keeping a v2 attribute type that inference would lose
DEFAULT_TYPE = "Thing"  # Orion's type for an entity created without one
_FORBIDDEN = re.compile(r"[<>\"'=;()\s]")  # Orion's forbidden characters in names and values
_FORBIDDEN_ID = re.compile(r"[<>\"'=;()\s?/#&]")
_LD_MEMBERS = frozenset({"type", "value", "object", "languageMap", "json", "vocab",
                         "valueList", "objectList", "datasetId", "createdAt", "modifiedAt",
                         "observedAt", "unitCode", "instanceId", "@context", "deletedAt",
                         "objectType"})
_DATETIME = "DateTime"


class V2Invalid(ValueError):
    """A v2 payload or parameter that Orion would refuse with 400 BadRequest."""


def check_name(value: Any, what: str, *, is_id: bool = False) -> str:
    """An id, type or attribute name as Orion accepts it (1–256 chars, no forbidden ones)."""
    if not isinstance(value, str) or not 0 < len(value) <= 256:
        raise V2Invalid(f"{what} must be a string of 1 to 256 characters")
    if (_FORBIDDEN_ID if is_id else _FORBIDDEN).search(value):
        raise V2Invalid(f"{what} {value[:100]!r} has a forbidden character")
    return value


def to_ld_id(v2_id: str) -> str:
    return v2_id if is_uri(v2_id) else V2_ID_PREFIX + v2_id


def to_v2_id(ld_id: str) -> str:
    return ld_id[len(V2_ID_PREFIX):] if ld_id.startswith(V2_ID_PREFIX) else ld_id


def inferred_type(value: Any) -> str:
    """The attribute type Orion gives a value whose type was not stated."""
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int | float):
        return "Number"
    if isinstance(value, str):
        return "Text"
    if value is None:
        return "None"
    return "StructuredValue"


# v2 → NGSI-LD ---------------------------------------------------------------------------
def entity_to_ld(body: Any, *, key_values: bool = False, need_id: bool = True) -> dict[str, Any]:
    """A v2 entity (normalized or keyValues) as an NGSI-LD entity in compacted form."""
    if not isinstance(body, dict):
        raise V2Invalid("an entity is a JSON object")
    out: dict[str, Any] = {}
    if need_id or "id" in body:
        out["id"] = to_ld_id(check_name(body.get("id"), "entity id", is_id=True))
    out["type"] = check_name(body.get("type", DEFAULT_TYPE), "entity type", is_id=True)
    out.update(attrs_to_ld({k: v for k, v in body.items() if k not in ("id", "type")},
                           key_values=key_values))
    return out


def attrs_to_ld(attrs: Any, *, key_values: bool = False) -> dict[str, Any]:
    if not isinstance(attrs, dict):
        raise V2Invalid("attributes are a JSON object")
    return {check_name(name, "attribute name"): attr_to_ld(name, raw, key_values=key_values)
            for name, raw in attrs.items()}


def attr_to_ld(name: str, raw: Any, *, key_values: bool = False) -> dict[str, Any]:
    """One v2 attribute ({"type", "value", "metadata"}, or a bare value in keyValues)."""
    if name in ("id", "type") or name in _LD_MEMBERS or name.startswith("@"):
        raise V2Invalid(f"{name!r} is a reserved name, not an attribute name")
    if key_values or not isinstance(raw, dict):
        if not key_values:
            raise V2Invalid(f"attribute {name!r} must be an object with a value")
        raw = {"value": raw}
    unknown = set(raw) - {"type", "value", "metadata"}
    if unknown:
        raise V2Invalid(f"attribute {name!r} has unknown member {sorted(unknown)[0]!r}")
    value = raw.get("value")
    v2type = raw.get("type")
    if v2type is not None:
        check_name(v2type, f"type of attribute {name!r}")
    out = _ld_value(name, v2type, value)
    if v2type is not None and v2type != inferred_type(value) and v2type not in (
            "Relationship", "geo:json", _DATETIME):
        out[V2_TYPE] = {"type": "Property", "value": v2type}
    metadata = raw.get("metadata", {})
    if not isinstance(metadata, dict):
        raise V2Invalid(f"metadata of attribute {name!r} must be an object")
    for meta, item in metadata.items():
        check_name(meta, "metadata name")
        if meta in _LD_MEMBERS or meta == V2_TYPE or meta.startswith("@"):
            raise V2Invalid(f"{meta!r} is a reserved name, not a metadata name")
        if not isinstance(item, dict) or "value" not in item:
            raise V2Invalid(f"metadata {meta!r} must be an object with a value")
        out[meta] = _ld_value(meta, item.get("type"), item["value"])
    return out


def _ld_value(name: str, v2type: Any, value: Any) -> dict[str, Any]:
    if v2type in ("Relationship", "Reference"):
        if not isinstance(value, str):
            raise V2Invalid(f"relationship {name!r} must name an entity id")
        return {"type": "Relationship", "object": to_ld_id(value)}
    if v2type == "geo:json":
        if not isinstance(value, dict) or "type" not in value:
            raise V2Invalid(f"{name!r}: geo:json needs a GeoJSON geometry")
        return {"type": "GeoProperty", "value": value}
    if v2type == "geo:point":
        return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": _point(value)}}
    if v2type == _DATETIME:
        if not isinstance(value, str):
            raise V2Invalid(f"{name!r}: a DateTime is an ISO 8601 string")
        return {"type": "Property", "value": {"@type": _DATETIME, "@value": value}}
    if value is None:  # NGSI-LD has no null property value: keep an empty string, typed None
        return {"type": "Property", "value": ""}
    if isinstance(value, float) and not math.isfinite(value):
        raise V2Invalid(f"{name!r}: a number must be finite")
    return {"type": "Property", "value": value}


def _point(value: Any) -> list[float]:
    try:
        lat, lon = (float(p) for p in str(value).split(","))
    except ValueError:
        raise V2Invalid("geo:point is 'latitude, longitude'") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise V2Invalid("geo:point is out of range")
    return [lon, lat]


# NGSI-LD → v2 ---------------------------------------------------------------------------
def entity_to_v2(ld: dict[str, Any], *, attrs: list[str] | None = None,
                 key_values: bool = False, metadata: list[str] | None = None,
                 dates: frozenset[str] = frozenset()) -> dict[str, Any]:
    """An NGSI-LD entity (normalized, compacted, sysAttrs) in v2's normalized or keyValues form.

    `dates` may hold dateCreated/dateModified (Orion's options) to add them as attributes.
    """
    types = ld.get("type")
    out: dict[str, Any] = {"id": to_v2_id(ld["id"]),
                           "type": types[0] if isinstance(types, list) else types}
    for name, raw in ld.items():
        if name in ("id", "type", "@context", "scope", "createdAt", "modifiedAt"):
            continue
        if attrs is not None and name not in attrs and "*" not in attrs:
            continue
        attr = attr_to_v2(raw, metadata)
        out[name] = attr["value"] if key_values else attr
    for name, key in (("dateCreated", "createdAt"), ("dateModified", "modifiedAt")):
        if name in dates and key in ld:
            out[name] = ld[key] if key_values else {"type": _DATETIME, "value": ld[key],
                                                    "metadata": {}}
    return out


def attr_to_v2(raw: Any, metadata: list[str] | None = None) -> dict[str, Any]:
    """One NGSI-LD attribute as {"type", "value", "metadata"}; of several instances (datasetId)
    the default one, else the first."""
    if isinstance(raw, list):
        raw = next((i for i in raw if isinstance(i, dict) and "datasetId" not in i), raw[0])
    if not isinstance(raw, dict):
        return {"type": inferred_type(raw), "value": raw, "metadata": {}}
    kept = raw.get(V2_TYPE, {}).get("value") if isinstance(raw.get(V2_TYPE), dict) else None
    v2type, value = _v2_value(raw)
    if kept == "geo:point" and isinstance(value, dict) and value.get("type") == "Point":
        lon, lat = value["coordinates"][:2]
        value = f"{lat}, {lon}"
    if kept == "None" and value == "":
        value = None
    meta: dict[str, Any] = {}
    for name, item in raw.items():
        if name in _LD_MEMBERS or name == V2_TYPE:
            if name in ("observedAt", "unitCode") and (metadata is None or name in metadata):
                meta[name] = {"type": _DATETIME if name == "observedAt" else "Text",
                              "value": item}
            continue
        if metadata is not None and name not in metadata and "*" not in metadata:
            continue
        if isinstance(item, dict):
            meta_type, meta_value = _v2_value(item)
            meta[name] = {"type": meta_type, "value": meta_value}
    return {"type": kept or v2type, "value": value, "metadata": meta}


def _v2_value(raw: dict[str, Any]) -> tuple[str, Any]:
    kind = raw.get("type")
    if kind == "Relationship":
        obj = raw.get("object")
        ids = [to_v2_id(o) for o in obj] if isinstance(obj, list) else to_v2_id(str(obj))
        return "Relationship", ids
    if kind == "GeoProperty":
        return "geo:json", raw.get("value")
    if kind == "LanguageProperty":
        return "StructuredValue", raw.get("languageMap")
    if kind == "JsonProperty":
        return "StructuredValue", raw.get("json")
    if kind == "VocabProperty":
        return "Text", raw.get("vocab")
    if kind == "ListProperty":
        return "StructuredValue", raw.get("valueList")
    value = raw.get("value")
    if isinstance(value, dict) and "@value" in value:
        return (_DATETIME if value.get("@type") == _DATETIME else
                inferred_type(value["@value"])), value["@value"]
    return inferred_type(value), value
