"""Which context sources a write goes to and which part of it (§4.3.6, Table 4.20-2), and
the pieces of bodies that go there: the planning half of forward.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.requests import Request

from cityos.ngsi.federation import Doc
from cityos.ngsi.model.registration import pattern_finds
from cityos.storage.base import EVERYTHING

ENTITY_KEYS = frozenset({"id", "@id", "type", "@type", "@context", "scope"})
_WRITES = {"createEntity", "updateEntity", "appendAttrs", "updateAttrs", "deleteAttrs",
           "deleteEntity", "mergeEntity", "replaceEntity", "replaceAttrs", "createBatch",
           "upsertBatch", "updateBatch", "deleteBatch", "mergeBatch", "purgeEntity"}
GROUPS = {"redirectionOps": _WRITES,
          "updateOps": {"updateEntity", "updateAttrs", "replaceEntity", "replaceAttrs"}}


def supports(reg: Doc, op: str) -> bool:
    ops = reg.get("operations") or ("federationOps",)
    return any(o == op or op in GROUPS.get(o, ()) for o in ops)




@dataclass
class Part:
    """What one registration is sent, or why it cannot be."""

    reg: Doc
    attrs: set[str] | None  # expanded attribute IRIs forwarded (None: the whole entity)
    entities: list[str] = field(default_factory=list)  # batch: ids of the entities sent
    refused: bool = False


async def entity_types(broker: Any, tenant: str, entity_id: str, body: Any, ctx: Any) -> set[str] | None:
    """The entity's types: as written in the body, else as stored here, else unknown."""
    raw = body.get("type", body.get("@type")) if isinstance(body, dict) else None
    if raw is not None:
        names = raw if isinstance(raw, list) else [raw]
        return {ctx.expand_term(t) for t in names if isinstance(t, str)}
    stored = await broker.store.get_entity(tenant, entity_id, EVERYTHING)
    return set(stored["type"]) if stored is not None else None


def split(regs: list[Doc], op: str, entity_id: str, types: set[str] | None,
           attrs: set[str] | None) -> tuple[list[Part], set[str] | None, bool]:
    """The parts for the sources, the attributes left here (None: all) and whether the whole
    entity went away (a redirect registration without attributes)."""
    parts: list[Part] = []
    local = None if attrs is None else set(attrs)
    whole_away = False
    for reg in regs:
        mode = reg.get("mode", "inclusive")
        if mode == "auxiliary":
            continue
        held = _held(reg, entity_id, types)
        if held is False:
            continue
        if held is None:  # the registration holds every attribute of the entity
            sent = None if attrs is None else set(attrs)
        else:
            if attrs is None:
                sent = None  # the entity as a whole (deletion): the source's share of it
            else:
                sent = attrs & held
                if not sent:
                    continue
        ok = supports(reg, op)
        if mode == "inclusive" and not ok:
            continue
        parts.append(Part(reg, sent, [entity_id], refused=not ok))
        if mode in ("exclusive", "redirect"):
            if held is None:
                whole_away = whole_away or mode == "redirect"
                local = set() if local is not None else local
            elif local is not None and sent is not None:
                local -= sent
    return parts, local, whole_away


def _held(reg: Doc, entity_id: str,
          types: set[str] | None) -> set[str] | Literal[False] | None:
    """False: the registration does not cover the entity; None: it covers all of its
    attributes; else the attribute IRIs it registers for it."""
    held: set[str] = set()
    covered = False
    for info in reg.get("information") or ():
        selectors = info.get("entities")
        if selectors and not any(_selects(s, entity_id, types) for s in selectors):
            continue
        names = {*info.get("propertyNames", ()), *info.get("relationshipNames", ())}
        if not names:
            return None
        covered = True
        held |= names
    return held if covered else False


def _selects(sel: Doc, entity_id: str, types: set[str] | None) -> bool:
    if "id" in sel and sel["id"] != entity_id:
        return False
    if "idPattern" in sel and not pattern_finds(str(sel["idPattern"]), entity_id):
        return False
    return types is None or "type" not in sel or sel["type"] in types


def only(body: Any, attrs: set[str] | None, ctx: Any) -> Any:
    """The body with only these attributes (and the entity's own members)."""
    if attrs is None or not isinstance(body, dict):
        return body
    return {k: v for k, v in body.items() if k in ENTITY_KEYS or ctx.expand_term(k) in attrs}


def without_context(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: v for k, v in body.items() if k != "@context"}
    if isinstance(body, list):
        return [without_context(i) for i in body]
    return body


def with_body(request: Request, content: bytes) -> Request:
    """The same request with another body (for the local handler)."""
    scope = dict(request.scope)
    scope["headers"] = [*(h for h in request.scope["headers"] if h[0] != b"content-length"),
                        (b"content-length", str(len(content)).encode())]
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": content, "more_body": False}
        return {"type": "http.disconnect"}

    return Request(scope, receive)
