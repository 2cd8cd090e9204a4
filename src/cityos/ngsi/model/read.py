"""Read NGSI-LD request bodies (normalized or concise) into the internal form of decision 0001.

ETSI GS CIM 009 v1.8 §4.5 (data representation), §5.5.3 (concise form), §4.6 (validation).
"""

from __future__ import annotations

from typing import Any

from cityos.ngsi.errors import BadRequestData
from cityos.ngsi.model.terms import (
    ENTITY_RESERVED,
    GEO_ATTRIBUTES,
    GEOJSON_TYPES,
    INSTANCE_META,
    INSTANCE_RESERVED,
    KIND_OF_KEY,
    NGSI_NULL,
    SYSTEM_ATTRS,
    VALUE_KEY,
    VALUE_KEYS,
    Context,
    is_uri,
    is_valid_name,
    parse_datetime,
)
from cityos.ngsi.query.geo import validate_geometry

Instance = dict[str, Any]
MAX_SUBATTR_DEPTH = 8
# members the broker writes in notifications and temporal answers, never read from clients
_META = frozenset({"datasetId", "observedAt", "unitCode"})
_PLAIN_KEYS = frozenset({"type", "value", *_META})  # a Property's common members
_SCALARS = frozenset({str, int, float, bool})  # a plain value: nothing nested to check
OUTPUT_ONLY = frozenset({"previousValue", "previousObject", "previousLanguageMap",
                         "previousVocab", "previousJson", "previousValueList",
                         "previousObjectList"})


def read_entity(body: Any, ctx: Context, now: str, *, require_type: bool = True,
                allow_null: bool = False) -> dict[str, Any]:
    """A whole entity (create, replace, upsert). `allow_null` keeps urn:ngsi-ld:null (merge)."""
    if not isinstance(body, dict):
        raise BadRequestData("an entity must be a JSON object")
    entity_id = body.get("id", body.get("@id"))
    if entity_id is None:
        raise BadRequestData("the entity has no 'id'")
    if not is_uri(entity_id) or entity_id == NGSI_NULL:
        raise BadRequestData(f"entity id {str(entity_id)[:200]!r} is not a URI")
    entity: dict[str, Any] = {"id": entity_id}
    raw_type = body.get("type", body.get("@type"))
    if raw_type is None:
        if require_type:
            raise BadRequestData("the entity has no 'type'")
    else:
        entity["type"] = read_types(raw_type, ctx)
    if "scope" in body:
        entity["scope"] = read_scope(body["scope"])
    entity["attrs"] = read_attributes(
        {k: v for k, v in body.items() if k not in ENTITY_RESERVED}, ctx, now, allow_null=allow_null)
    return entity


def read_types(raw: Any, ctx: Context) -> list[str]:
    names = raw if isinstance(raw, list) else [raw]
    if not names:
        raise BadRequestData("'type' must not be empty")
    out: list[str] = []
    for name in names:
        if not is_valid_name(name):
            raise BadRequestData(f"entity type {str(name)[:200]!r} is not a valid name")
        iri = ctx.expand_term(name)
        if iri not in out:
            out.append(iri)
    return out


def read_scope(raw: Any) -> list[str]:
    scopes = raw if isinstance(raw, list) else [raw]
    for scope in scopes:
        if (not isinstance(scope, str) or not scope.startswith("/") or (scope.endswith("/")
                and scope != "/") or "//" in scope or "#" in scope or "+" in scope):
            raise BadRequestData(f"scope {str(scope)[:200]!r} is not a valid scope like /a/b")
    return list(dict.fromkeys(scopes))


def read_attributes(members: dict[str, Any], ctx: Context, now: str, *,
                    allow_null: bool = False, depth: int = 0) -> dict[str, list[Instance]]:
    attrs: dict[str, list[Instance]] = {}
    for name, raw in members.items():
        iri = attribute_iri(name, ctx)
        attrs[iri] = read_attribute(name, raw, ctx, now, allow_null=allow_null, depth=depth)
    return attrs


def attribute_iri(name: str, ctx: Context) -> str:
    if name in ENTITY_RESERVED or name in INSTANCE_META:  # core terms are not attributes
        raise BadRequestData(f"{name!r} cannot be used as an attribute name")
    if not is_valid_name(name):
        raise BadRequestData(f"attribute name {name[:200]!r} is not valid")
    return ctx.expand_term(name)


def read_attribute(name: str, raw: Any, ctx: Context, now: str, *, allow_null: bool = False,
                   depth: int = 0) -> list[Instance]:
    """One attribute: a single instance or an array of instances (multi-attribute)."""
    if isinstance(raw, list) and raw and all(_looks_like_instance(item) for item in raw):
        instances = [read_instance(name, item, ctx, now, allow_null=allow_null, depth=depth)
                     for item in raw]
        seen: set[str | None] = set()
        for inst in instances:
            key = inst.get("datasetId")
            if key in seen:
                raise BadRequestData(
                    f"attribute {name!r} has two instances with datasetId {key or '(default)'}")
            seen.add(key)
        return instances
    return [read_instance(name, raw, ctx, now, allow_null=allow_null, depth=depth)]


def _looks_like_instance(item: Any) -> bool:
    return isinstance(item, dict) and (
        item.get("type") in VALUE_KEY or any(k in item for k in KIND_OF_KEY))


def read_instance(name: str, raw: Any, ctx: Context, now: str, *, allow_null: bool = False,
                  depth: int = 0) -> Instance:
    if depth > MAX_SUBATTR_DEPTH:
        raise BadRequestData("sub-attributes are nested too deeply")
    if raw is None:
        if allow_null:
            return {"type": "Property", "value": NGSI_NULL}
        raise BadRequestData(f"attribute {name!r} has a null value")
    if not isinstance(raw, dict):
        return _stamp({"type": "Property", "value": raw}, now)
    if raw.get("type") == "Property" and raw.keys() <= _PLAIN_KEYS and "value" in raw and \
            type(raw["value"]) in _SCALARS and raw["value"] != NGSI_NULL:
        # the common shape, {"type": "Property", "value": 21.5, "unitCode": "CEL"}: the same
        # checks as below, without the generic dispatch (batch upserts read thousands)
        inst: Instance = {"type": "Property", "value": raw["value"]}
        for key, member in raw.items():
            if key in _META:
                _read_meta(inst, name, key, member)
        return _stamp(inst, now)
    kind = raw.get("type", raw.get("@type"))
    if kind is None or kind not in VALUE_KEY:
        if kind in GEOJSON_TYPES and "coordinates" in raw:
            validate_geometry(raw)
            return _stamp({"type": "GeoProperty", "value": raw}, now)
        if kind is not None and not any(k in raw for k in KIND_OF_KEY):
            # a concise Property whose value is an object with its own "type" member
            return _stamp({"type": "Property", "value": raw}, now)
        kind = next((KIND_OF_KEY[k] for k in KIND_OF_KEY if k in raw), None)
        if kind is None:  # a concise Property whose value is a JSON object
            return _stamp({"type": "Property", "value": raw}, now)
        if kind == "Property" and isinstance(raw.get("value"), dict) and \
                raw["value"].get("type") in GEOJSON_TYPES and "coordinates" in raw["value"] \
                and name in GEO_ATTRIBUTES:
            kind = "GeoProperty"
    value_key = VALUE_KEY[kind]
    if value_key not in raw:
        raise BadRequestData(f"attribute {name!r} of type {kind} has no {value_key!r}")
    foreign = [k for k in raw if (k in VALUE_KEYS and k != value_key) or k in OUTPUT_ONLY]
    if foreign:  # e.g. a Property with an object, or previousValue sent by a client (§4.5)
        raise BadRequestData(f"a {kind} such as {name!r} cannot have {foreign[0]!r}")
    if "unitCode" in raw and kind not in ("Property", "ListProperty"):
        raise BadRequestData(f"a {kind} such as {name!r} has no unitCode")
    value = raw[value_key]
    inst = {"type": kind, value_key: _check_value(name, kind, value, ctx, allow_null)}
    skipped = ("type", "@type", value_key, *SYSTEM_ATTRS, "instanceId", "lang")
    for key, member in raw.items():
        if key in skipped:
            continue
        if key in _META:
            _read_meta(inst, name, key, member)
        elif key == "objectType":
            inst["objectType"] = _read_object_type(member, ctx)
        elif key in INSTANCE_RESERVED:
            continue
        else:
            subs = inst.setdefault("subattrs", {})
            subs[attribute_iri(key, ctx)] = read_attribute(
                key, member, ctx, now, allow_null=allow_null, depth=depth + 1)
    return _stamp(inst, now)


def _read_meta(inst: Instance, name: str, key: str, member: Any) -> None:
    """datasetId, observedAt or unitCode of an instance, checked."""
    if key == "datasetId":
        if not is_uri(member):
            raise BadRequestData(f"datasetId of {name!r} must be a URI")
    elif key == "observedAt":
        if parse_datetime(member) is None:
            raise BadRequestData(f"observedAt of {name!r} must be an ISO 8601 date-time")
    elif not isinstance(member, str) or not member:  # unitCode
        raise BadRequestData(f"unitCode of {name!r} must be a string")
    inst[key] = member


def _read_object_type(member: Any, ctx: Context) -> Any:
    names = member if isinstance(member, list) else [member]
    if not names or not all(is_valid_name(n) for n in names):
        raise BadRequestData("objectType must name entity types")
    expanded = [ctx.expand_term(n) for n in names]
    return expanded if isinstance(member, list) else expanded[0]


def _has_null(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_null(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_null(v) for v in value)
    return value == NGSI_NULL


def _check_value(name: str, kind: str, value: Any, ctx: Context, allow_null: bool) -> Any:
    if not allow_null and kind != "JsonProperty" and _has_null(value):
        # NGSI-LD Null only means something in an update: nothing can be created null (§5.5.4)
        raise BadRequestData(f"attribute {name!r} holds urn:ngsi-ld:null")
    if kind == "JsonProperty" and not isinstance(value, dict | list) and value != NGSI_NULL:
        raise BadRequestData(f"the json of {name!r} must be a JSON object or array")
    if value is None or (value == NGSI_NULL and not allow_null):
        # JSON null is never a value; deleting needs NGSI-LD Null (urn:ngsi-ld:null, §4.5.0)
        raise BadRequestData(f"attribute {name!r} has a null {VALUE_KEY[kind]}")
    if allow_null and value == NGSI_NULL:
        return value
    if kind == "Relationship":
        objects = value if isinstance(value, list) else [value]
        if not objects or not all(is_uri(o) for o in objects):
            raise BadRequestData(f"relationship {name!r} must point to URIs")
    elif kind == "ListRelationship":
        items = value if isinstance(value, list) else [value]
        for item in items:
            target = item.get("object") if isinstance(item, dict) else item
            if not is_uri(target):
                raise BadRequestData(f"relationship list {name!r} must hold URIs")
    elif kind == "GeoProperty":
        validate_geometry(value)
    elif kind == "LanguageProperty":
        if not isinstance(value, dict) or not value or not all(
                isinstance(k, str) and isinstance(v, str | list) for k, v in value.items()):
            raise BadRequestData(f"languageMap of {name!r} must map language tags to strings")
    elif kind == "VocabProperty":
        terms = value if isinstance(value, list) else [value]
        if not terms or not all(isinstance(t, str) and t for t in terms):
            raise BadRequestData(f"vocab of {name!r} must be a term or a list of terms")
        expanded = [ctx.expand_vocab_value(t) for t in terms]
        return expanded if isinstance(value, list) else expanded[0]
    elif kind == "ListProperty" and not isinstance(value, list):
        return [value]
    return value


def _stamp(inst: Instance, now: str) -> Instance:
    inst["createdAt"] = now
    inst["modifiedAt"] = now
    return inst
