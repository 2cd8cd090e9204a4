"""Context source registrations as data: validating a ContextSourceRegistration body.

ETSI GS CIM 009 v1.8 §5.2.9 (ContextSourceRegistration), §5.2.10 (RegistrationInfo), §5.9.
"""

from __future__ import annotations

import re
from typing import Any

from cityos.ngsi.errors import BadRequestData
from cityos.ngsi.model.terms import is_uri, is_valid_name, parse_datetime

MODES = ("inclusive", "exclusive", "redirect", "auxiliary")
SYSTEM = frozenset({"createdAt", "modifiedAt", "status", "timesSent", "timesFailed",
                    "lastSuccess", "lastFailure"})


def check_registration(reg: dict[str, Any]) -> None:
    """Raise BadRequestData unless `reg` (without @context) is a valid registration."""
    if reg.get("type") != "ContextSourceRegistration":
        raise BadRequestData('a registration needs "type": "ContextSourceRegistration"')
    if "id" in reg and not is_uri(reg["id"]):
        raise BadRequestData("the registration id must be a URI")
    if not is_uri(reg.get("endpoint")):
        raise BadRequestData("endpoint must be a URI")
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
