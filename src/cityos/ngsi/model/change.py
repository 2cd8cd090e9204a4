"""How writes change an entity: create, replace, append, update, partial update, merge, delete.

ETSI GS CIM 009 v1.8 §5.6 (entity and attribute operations). Pure functions over the internal
form; the API layer wraps them into store mutations so each runs atomically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cityos.ngsi.errors import AlreadyExists, BadRequestData, ResourceNotFound
from cityos.ngsi.model.terms import NGSI_NULL, VALUE_KEY, is_null_instance

Entity = dict[str, Any]
Instance = dict[str, Any]


@dataclass
class AttrOutcome:
    """Per-attribute result of append/update (§5.2.18 UpdateResult)."""

    updated: list[str] = field(default_factory=list)
    not_updated: list[tuple[str, str]] = field(default_factory=list)



def must_exist(current: Entity | None, entity_id: str) -> Entity:
    """The entity a write changes; it must exist. The store hands each mutation its own
    decoded copy, so changing it in place is safe."""
    if current is None:
        raise ResourceNotFound(f"entity {entity_id} not found")
    return current

def new_entity(entity: Entity, now: str) -> Entity:
    entity["createdAt"] = now
    entity["modifiedAt"] = now
    entity.setdefault("attrs", {})
    return entity


def create(current: Entity | None, entity: Entity, now: str) -> Entity:
    if current is not None:
        raise AlreadyExists(f"entity {entity['id']} already exists")
    return new_entity(entity, now)


def replace(current: Entity | None, entity: Entity, now: str) -> Entity:
    """Replace all attributes (PUT /entities/{id}, upsert with options=replace)."""
    current = must_exist(current, entity["id"])
    entity["createdAt"] = current.get("createdAt", now)
    entity["modifiedAt"] = now
    entity.setdefault("attrs", {})
    if "type" not in entity:
        entity["type"] = current["type"]
    return entity


def _key(inst: Instance) -> str | None:
    return inst.get("datasetId")


def _put_instance(instances: list[Instance], inst: Instance, now: str) -> None:
    for i, old in enumerate(instances):
        if _key(old) == _key(inst):
            inst["createdAt"] = old.get("createdAt", now)
            inst["modifiedAt"] = now
            instances[i] = inst
            return
    instances.append(inst)


def _add_types(current: Entity, entity: Entity) -> bool:
    changed = False
    for t in entity.get("type", ()):
        if t not in current["type"]:
            current["type"].append(t)
            changed = True
    return changed


def append(current: Entity | None, entity_id: str, attrs: dict[str, list[Instance]], now: str,
           *, no_overwrite: bool = False, types: list[str] | None = None,
           scope: list[str] | None = None) -> tuple[Entity, AttrOutcome]:
    """Add attributes, replacing same-datasetId instances unless `no_overwrite` (§5.6.3)."""
    entity = must_exist(current, entity_id)
    outcome = AttrOutcome()
    if types:
        _add_types(entity, {"type": types})
    if scope is not None:
        # noOverwrite keeps the scopes there are and adds these; otherwise these replace them
        entity["scope"] = list(dict.fromkeys([*entity.get("scope", []), *scope])) \
            if no_overwrite else scope
    for iri, instances in attrs.items():
        existing = entity["attrs"].setdefault(iri, [])
        for inst in instances:
            present = any(_key(o) == _key(inst) for o in existing)
            if present and no_overwrite:
                outcome.not_updated.append((iri, "attribute exists and noOverwrite was asked"))
                continue
            _put_instance(existing, inst, now)
            outcome.updated.append(iri)
    entity["modifiedAt"] = now
    return entity, outcome


def update(current: Entity | None, entity_id: str, attrs: dict[str, list[Instance]],
           now: str, *, types: list[str] | None = None,
           scope: list[str] | None = None) -> tuple[Entity, AttrOutcome]:
    """Replace existing attributes only; absent ones are reported as not updated (§5.6.2).

    NGSI-LD Null deletes the instance it names; `type` adds types; `scope` replaces an
    existing scope (an entity without scope reports it as not updated).
    """
    entity = must_exist(current, entity_id)
    outcome = AttrOutcome()
    if types:
        _add_types(entity, {"type": types})
        outcome.updated.append("type")
    if scope is not None:
        if "scope" in entity:
            entity["scope"] = scope
            outcome.updated.append("scope")
        else:
            outcome.not_updated.append(("scope", "the entity has no scope to update"))
    for iri, instances in attrs.items():
        existing = entity["attrs"].get(iri)
        for inst in instances:
            if not existing or not any(_key(o) == _key(inst) for o in existing):
                outcome.not_updated.append((iri, "attribute does not exist"))
                continue
            if is_null_instance(inst):
                existing[:] = [o for o in existing if _key(o) != _key(inst)]
                if not existing:
                    del entity["attrs"][iri]
            else:
                _put_instance(existing, inst, now)
            outcome.updated.append(iri)
    if outcome.updated:
        entity["modifiedAt"] = now
    return entity, outcome


def partial_update(current: Entity | None, entity_id: str, iri: str, fragment: Instance,
                   now: str) -> Entity:
    """Merge a fragment into one attribute instance (PATCH …/attrs/{attrId}, §5.6.4)."""
    entity = must_exist(current, entity_id)
    instances = entity["attrs"].get(iri)
    target = None
    for inst in instances or ():
        if _key(inst) == fragment.get("datasetId"):
            target = inst
    if target is None:
        raise ResourceNotFound(f"attribute not found in entity {entity_id}")
    if "type" in fragment and fragment["type"] != target["type"]:
        raise BadRequestData(f"the attribute is a {target['type']}, not a {fragment['type']}")
    if is_null_instance(fragment):
        remaining = [o for o in instances or () if o is not target]
        if remaining:
            entity["attrs"][iri] = remaining
        else:
            del entity["attrs"][iri]
        entity["modifiedAt"] = now
        return entity
    _merge_instance(target, fragment, now)
    entity["modifiedAt"] = now
    return entity


def _merge_instance(target: Instance, fragment: Instance, now: str) -> None:
    kind: str = fragment.get("type") or target["type"]
    if kind != target["type"]:
        old_value_key = VALUE_KEY[target["type"]]
        target.pop(old_value_key, None)
        target["type"] = kind
    value_key = VALUE_KEY[kind]
    if value_key in fragment:
        target[value_key] = fragment[value_key]
    for key in ("observedAt", "unitCode", "objectType"):
        if key in fragment:
            if fragment[key] == NGSI_NULL:
                target.pop(key, None)
            else:
                target[key] = fragment[key]
    for sub_iri, sub_instances in fragment.get("subattrs", {}).items():
        subs = target.setdefault("subattrs", {})
        for sub in sub_instances:
            if sub.get(VALUE_KEY[sub["type"]]) == NGSI_NULL:
                subs.pop(sub_iri, None)
            else:
                _put_instance(subs.setdefault(sub_iri, []), sub, now)
        if not subs:
            target.pop("subattrs")
    target["modifiedAt"] = now


def replace_attribute(current: Entity | None, entity_id: str, iri: str,
                      instances: list[Instance], now: str) -> Entity:
    """PUT …/attrs/{attrId} (§5.6.19): the attribute must exist."""
    entity = must_exist(current, entity_id)
    existing = entity["attrs"].get(iri)
    if not existing:
        raise ResourceNotFound(f"attribute not found in entity {entity_id}")
    for inst in instances:  # the instance of that datasetId must be there too (§5.6.19.4)
        if not any(_key(o) == _key(inst) for o in existing):
            which = f"datasetId {_key(inst)}" if _key(inst) is not None else "default instance"
            raise ResourceNotFound(f"the attribute has no {which} in entity {entity_id}")
        _put_instance(existing, inst, now)
    entity["modifiedAt"] = now
    return entity


def merge(current: Entity | None, patch: Entity, now: str) -> Entity:
    """Merge-patch an entity (PATCH /entities/{id}, §5.6.17): urn:ngsi-ld:null deletes."""
    entity = must_exist(current, patch["id"])
    if patch.get("type"):
        _add_types(entity, patch)
    if "scope" in patch:
        entity["scope"] = patch["scope"]
    for iri, instances in patch.get("attrs", {}).items():
        for inst in instances:
            existing = entity["attrs"].get(iri, [])
            if is_null_instance(inst):
                remaining = [o for o in existing if _key(o) != _key(inst)]
                if remaining:
                    entity["attrs"][iri] = remaining
                else:
                    entity["attrs"].pop(iri, None)
                continue
            target = next((o for o in existing if _key(o) == _key(inst)), None)
            if target is None:
                inst = _drop_nulls(inst)
                entity["attrs"].setdefault(iri, []).append(inst)
            else:
                _merge_instance(target, inst, now)
    entity["modifiedAt"] = now
    return entity


def _drop_nulls(inst: Instance) -> Instance:
    subs = inst.get("subattrs")
    if subs:
        kept = {k: [s for s in v if s.get(VALUE_KEY[s["type"]]) != NGSI_NULL]
                for k, v in subs.items()}
        kept = {k: v for k, v in kept.items() if v}
        if kept:
            inst["subattrs"] = kept
        else:
            inst.pop("subattrs")
    return inst


def delete_attribute(current: Entity | None, entity_id: str, iri: str, dataset_id: str | None,
                     delete_all: bool, now: str) -> Entity:
    """DELETE …/attrs/{attrId} with datasetId / deleteAll (§5.6.5)."""
    entity = must_exist(current, entity_id)
    existing = entity["attrs"].get(iri)
    if not existing:
        raise ResourceNotFound(f"attribute not found in entity {entity_id}")
    if delete_all:
        remaining: list[Instance] = []
    else:
        remaining = [o for o in existing if _key(o) != dataset_id]
        if len(remaining) == len(existing):
            raise ResourceNotFound(
                f"attribute instance {dataset_id or '(default)'} not found in entity {entity_id}")
    if remaining:
        entity["attrs"][iri] = remaining
    else:
        del entity["attrs"][iri]
    entity["modifiedAt"] = now
    return entity


def delete_scope(current: Entity | None, entity_id: str, now: str) -> Entity:
    """DELETE …/attrs/scope (§4.18): scope is deleted like an attribute."""
    entity = must_exist(current, entity_id)
    if "scope" not in entity:
        raise ResourceNotFound(f"entity {entity_id} has no scope")
    del entity["scope"]
    entity["modifiedAt"] = now
    return entity


def require_no_nulls(entity: Entity) -> None:
    for iri, instances in entity.get("attrs", {}).items():
        for inst in instances:
            if inst.get(VALUE_KEY[inst["type"]]) == NGSI_NULL:
                raise BadRequestData(f"attribute {iri} has a null value")
