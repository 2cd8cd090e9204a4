"""Context source registrations as data: validating a ContextSourceRegistration body.

ETSI GS CIM 009 v1.8 §5.2.9 (ContextSourceRegistration), §5.2.10 (RegistrationInfo), §5.9.
"""

from __future__ import annotations

import re
from typing import Any

from cityos import egress
from cityos.ngsi.errors import BadRequestData
from cityos.ngsi.model.terms import is_uri, is_valid_name, parse_datetime

MODES = ("inclusive", "exclusive", "redirect", "auxiliary")
OWNER_KEY = "_owner"  # the principal that registered it ("" in open conformance mode): kept, never shown
# {"by": staff principal, "at": time}: a staff admin approved a company's registration to serve
# everyone (issue #18): kept, never shown, never written by POST/PATCH
APPROVED_KEY = "_approved"
SYSTEM = frozenset({"createdAt", "modifiedAt", "status", "timesSent", "timesFailed",
                    "lastSuccess", "lastFailure", OWNER_KEY, APPROVED_KEY})


def check_registration(reg: dict[str, Any]) -> None:
    """Raise BadRequestData unless `reg` (without @context) is a valid registration."""
    if reg.get("type") != "ContextSourceRegistration":
        raise BadRequestData('a registration needs "type": "ContextSourceRegistration"')
    if "id" in reg and not is_uri(reg["id"]):
        raise BadRequestData("the registration id must be a URI")
    if not is_uri(reg.get("endpoint")):
        raise BadRequestData("endpoint must be a URI")
    check_egress(reg)
    info = reg.get("information")
    if not isinstance(info, list) or not info:
        raise BadRequestData("information must be a non-empty list of RegistrationInfo")
    for item in info:
        _check_info(item)
    if reg.get("mode", "inclusive") not in MODES:
        raise BadRequestData(f"mode must be one of {', '.join(MODES)}")
    if "expiresAt" in reg and parse_datetime(reg["expiresAt"]) is None:
        raise BadRequestData("expiresAt must be an ISO 8601 date-time")
    if "operations" in reg and not (isinstance(reg["operations"], list) and all(
            isinstance(o, str) for o in reg["operations"])):
        raise BadRequestData("operations must be a list of operation names")


def check_egress(reg: dict[str, Any]) -> None:
    """The endpoint and contextSourceInfo by the egress policy (cityos.egress): http(s) only,
    no fragment, no refused address, no Host or hop-by-hop header (checked again at send)."""
    info = reg.get("contextSourceInfo")
    if info is not None and not (isinstance(info, list) and all(
            isinstance(i, dict) and isinstance(i.get("key"), str) and "value" in i
            for i in info)):
        raise BadRequestData("contextSourceInfo must be a list of {key, value}")
    try:
        egress.policy().target(str(reg["endpoint"]), ("http", "https"))
        egress.check_headers(info, "contextSourceInfo")
    except egress.EgressRefused as exc:
        raise BadRequestData(f"endpoint: {exc}" if exc.rule != "header" else str(exc)) from None


def _check_info(item: Any) -> None:
    if not isinstance(item, dict):
        raise BadRequestData("each RegistrationInfo must be an object")
    entities = item.get("entities")
    names = [*item.get("propertyNames", []), *item.get("relationshipNames", [])]
    if entities is None and not names:
        raise BadRequestData("a RegistrationInfo needs entities, propertyNames or "
                             "relationshipNames")
    if not all(is_valid_name(n) for n in names):
        raise BadRequestData("propertyNames and relationshipNames must be names")
    for sel in entities or ():
        if not isinstance(sel, dict) or not is_valid_name(sel.get("type")):
            raise BadRequestData("each registered entity selector needs a type")
        if "id" in sel and not is_uri(sel["id"]):
            raise BadRequestData("a registered entity id must be a URI")
        if "idPattern" in sel:
            try:
                re.compile(str(sel["idPattern"]))
            except re.error:
                raise BadRequestData("idPattern is not a valid regular expression") from None


def registered_types(reg: dict[str, Any]) -> list[str]:
    """The entity type names a registration names (as written)."""
    return [sel["type"] for info in reg.get("information", ())
            for sel in info.get("entities") or () if isinstance(sel.get("type"), str)]


def registered_attrs(reg: dict[str, Any]) -> list[str]:
    return [n for info in reg.get("information", ())
            for n in (*info.get("propertyNames", ()), *info.get("relationshipNames", ()))]


# stored form ------------------------------------------------------------------------------
# A registration is kept with its entity types and attribute names expanded to IRIs (with the
# @context it was written with) and shown compacted with the reader's @context (§5.2.9).
CONTEXT_KEY = "_context"  # the @context URL it was written with: kept, never shown
MEMBERS = frozenset({"id", "type", "registrationName", "description", "information", "tenant",
                     "observationInterval", "managementInterval", "location",
                     "observationSpace", "operationSpace", "expiresAt", "endpoint",
                     "contextSourceInfo", "scope", "mode", "operations", "refreshRate",
                     "management", "createdAt", "modifiedAt", "status", "timesSent",
                     "timesFailed", "lastSuccess", "lastFailure", CONTEXT_KEY})


def _map_info(reg: dict[str, Any], fn: Any) -> dict[str, Any]:
    out = dict(reg)
    infos = []
    for info in reg.get("information", ()):
        one = dict(info)
        if "entities" in info:
            one["entities"] = [{**sel, "type": fn(sel["type"])} for sel in info["entities"]]
        for key in ("propertyNames", "relationshipNames"):
            if key in info:
                one[key] = [fn(n) for n in info[key]]
        infos.append(one)
    out["information"] = infos
    return out


def expand_registration(reg: dict[str, Any], expand: Any) -> dict[str, Any]:
    """Entity types and attribute names as IRIs (`expand` is the writer's expand_term)."""
    return _map_info(reg, expand)


def compact_registration(reg: dict[str, Any], compact: Any, *, sys_attrs: bool = False,
                         extra: Any = None) -> dict[str, Any]:
    """The registration as shown to a reader whose @context compacts IRIs with `compact`;
    `extra(name)` compacts the names of additional (user-defined) members."""
    shown = _map_info(reg, compact)
    shown.pop(CONTEXT_KEY, None)
    shown.pop(OWNER_KEY, None)
    shown.pop(APPROVED_KEY, None)
    shown.pop("jsonldContext", None)
    if not sys_attrs:
        shown.pop("createdAt", None)
        shown.pop("modifiedAt", None)
    if extra is not None:
        shown = {(k if k in MEMBERS else extra(k)): v for k, v in shown.items()}
    return shown


def info_matches(info: dict[str, Any], types: set[str] | None, ids: set[str] | None,
                 pattern: re.Pattern[str] | None, attrs: set[str] | None) -> bool:
    """Does one RegistrationInfo (expanded) cover the asked entities and attributes (§5.12)?"""
    names = {*info.get("propertyNames", ()), *info.get("relationshipNames", ())}
    if attrs and names and names.isdisjoint(attrs):
        return False
    selectors = info.get("entities")
    if not selectors:  # no entities: any entity of any type
        return True
    return any(_selector_matches(sel, types, ids, pattern) for sel in selectors)


def _selector_matches(sel: dict[str, Any], types: set[str] | None, ids: set[str] | None,
                      pattern: re.Pattern[str] | None) -> bool:
    if types and sel["type"] not in types:
        return False
    if "id" in sel:
        return (not ids or sel["id"] in ids) and (
            pattern is None or pattern.fullmatch(sel["id"]) is not None)
    if "idPattern" in sel and ids:
        return any(pattern_finds(str(sel["idPattern"]), i) for i in ids)
    return True


def pattern_finds(pattern: str, entity_id: str) -> bool:
    """A registration's idPattern selects ids it finds a match in (as Orion does: suites and
    peers write `urn:ngsi-ld:Vehicle:*` for "every Vehicle"); an invalid pattern selects none."""
    try:
        return re.search(pattern, entity_id) is not None
    except re.error:
        return False


def time_window(params: Any) -> tuple[str, float, float] | None:
    """timerel/timeAt/endTimeAt/timeproperty as (interval member, start, end) in epoch s."""
    timerel = params.get("timerel")
    if timerel is None:
        if "timeAt" in params or "endTimeAt" in params:
            raise BadRequestData("timeAt and endTimeAt need timerel")
        return None
    if timerel not in ("before", "after", "between"):
        raise BadRequestData("timerel must be before, after or between")
    at = parse_datetime(params.get("timeAt"))
    if at is None:
        raise BadRequestData("timerel needs timeAt, an ISO 8601 date-time")
    prop = params.get("timeproperty", "observedAt")
    if prop not in ("observedAt", "createdAt", "modifiedAt"):
        raise BadRequestData("timeproperty must be observedAt, createdAt or modifiedAt")
    member = "observationInterval" if prop == "observedAt" else "managementInterval"
    if timerel == "before":
        return member, float("-inf"), at.timestamp()
    if timerel == "after":
        return member, at.timestamp(), float("inf")
    end = parse_datetime(params.get("endTimeAt"))
    if end is None or end <= at:
        raise BadRequestData("timerel=between needs an endTimeAt later than timeAt")
    return member, at.timestamp(), end.timestamp()


def in_window(reg: dict[str, Any], window: tuple[str, float, float]) -> bool:
    member, low, high = window
    interval = reg.get(member)
    if not isinstance(interval, dict):
        return False
    start = parse_datetime(interval.get("startAt"))
    end = parse_datetime(interval.get("endAt"))
    begins = start.timestamp() if start else float("-inf")
    ends = end.timestamp() if end else float("inf")
    return begins < high and ends > low


def as_entity(reg: dict[str, Any], expand: Any) -> dict[str, Any]:
    """A registration's own members as an entity, for `q`/`csf` and geo-queries (§5.10.2)."""
    attrs: dict[str, list[dict[str, Any]]] = {}
    for key, value in reg.items():
        if key in ("location", "observationSpace", "operationSpace"):
            attrs[expand(key)] = [{"type": "GeoProperty", "value": value}]
        elif key not in MEMBERS:
            inst = value if isinstance(value, dict) and "type" in value else \
                {"type": "Property", "value": value}
            attrs[expand(key)] = [inst]
    return {"id": reg["id"], "type": ["ContextSourceRegistration"], "attrs": attrs}


def is_towns(reg: dict[str, Any]) -> bool:
    """The town's own federation: registered by staff, or a company's registration a staff
    admin approved for everyone (issue #18)."""
    return str(reg.get(OWNER_KEY, "")).startswith("staff:") or bool(reg.get(APPROVED_KEY))


def serves(reg: dict[str, Any], principal: str) -> bool:
    """Whose requests a registration serves, reads (forwarded queries and retrievals) and
    writes alike (§4.3.6): everyone's when it is the town's (`is_towns`), otherwise only those
    of the principal that registered it, so that no company draws other companies' (or
    residents') queries — their `q` — or writes to its endpoint, nor answers them, by
    registering for their entity types."""
    return is_towns(reg) or str(reg.get(OWNER_KEY, "")) == principal


def may_take_writes(reg: dict[str, Any], writer: str) -> bool:
    """Whose writes a registration may receive (forwarding, §4.3.6): see `serves`."""
    return serves(reg, writer)
