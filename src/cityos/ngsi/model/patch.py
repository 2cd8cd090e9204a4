"""PATCH of a stored NGSI-LD resource document (subscription, registration): members replace.

ETSI GS CIM 009 v1.8 §5.8.2, §5.9.3: given members replace stored ones, NGSI-LD Null removes.
"""

from __future__ import annotations

from typing import Any

from cityos.ngsi.errors import BadRequestData
from cityos.ngsi.model.terms import NGSI_NULL


def patch_members(stored: dict[str, Any], data: dict[str, Any], resource_id: str, what: str,
                  system: frozenset[str]) -> dict[str, Any]:
    """A copy of `stored` with `data`'s members applied; system members are never written."""
    patch = {k: v for k, v in data.items() if k != "@context" and k not in system}
    if patch.get("id", resource_id) != resource_id:
        raise BadRequestData(f"the id of a {what} cannot change")
    if not patch:
        raise BadRequestData("the body names nothing to update")
    out = dict(stored)
    for key, value in patch.items():
        if value is None or value == NGSI_NULL:
            out.pop(key, None)
        else:
            out[key] = value
    return out
