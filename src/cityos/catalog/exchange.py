"""The service catalog as YAML, for `cityos catalog import|export` and the console's upload.

A file is either a list of services or a mapping with `services:` (and optionally `notices:`).
"""

from __future__ import annotations

from typing import Any

import yaml  # type: ignore[import-untyped]

from cityos.catalog.model import CatalogError
from cityos.jsonvalue import TooDeep, depth_over

MAX_YAML = 1_000_000
_KEEP = ("id", "name", "field", "provider", "description", "deepLink", "webFallback", "price",
         "dataCategories", "status")


def read_services(text: str | bytes) -> list[Any]:
    """The service items of a YAML document (not yet checked one by one)."""
    if len(text) > MAX_YAML:
        raise CatalogError(f"YAML が {MAX_YAML} バイトを超えています / the YAML is over {MAX_YAML} bytes")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1})" if where is not None else ""
        raise CatalogError(f"YAML として読めません{at} / not valid YAML{at}") from None
    except RecursionError:  # the YAML parser recurses on every level of nesting
        raise CatalogError(TooDeep().detail) from None
    if depth_over(data):
        raise CatalogError(TooDeep().detail)
    if isinstance(data, dict):
        data = data.get("services")
    if not isinstance(data, list):
        raise CatalogError("YAML はサービスのリストか services: です / the YAML is a list of "
                           "services or a mapping with services:")
    return data


def write_services(services: list[dict[str, Any]]) -> str:
    """YAML that `read_services` reads back to the same services."""
    items = [{k: s[k] for k in _KEEP if k in s} for s in services]
    return yaml.safe_dump({"services": items}, allow_unicode=True, sort_keys=False, width=100)
