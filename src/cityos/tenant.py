"""The request's tenant (municipality), decided in one place (issue 18).

Only this module reads the tenant headers. The two APIs choose differently: NGSI-LD (and
every other path) takes `NGSILD-Tenant`; NGSI v2 (`/v2/…`) takes `Fiware-Service` in lower
case, as Orion keeps it, else `NGSILD-Tenant`. The gate calls `decide` once and keeps the
tenant on its `Caller`; everything else reads `tenant_of` (the Caller's tenant, or — on the
routes the gate does not check: open NGSI, public pages — the same decision made here).
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from cityos.caller import caller_of

TENANT_HEADERS = frozenset({b"ngsild-tenant", b"fiware-service"})  # either may name a tenant
_LD = b"ngsild-tenant"
_V2 = b"fiware-service"
_LD_NAME = re.compile(r"^[A-Za-z0-9_\-.]{1,64}$")
_V2_NAME = re.compile(r"^[a-z0-9_]{1,50}$")
_PROBLEM = "cityos.tenant.problem"  # scope key: why the Caller's tenant may not be used


class TenantError(ValueError):
    """The headers name no usable tenant (each API answers it in its own format: 400)."""


@dataclass(frozen=True)
class Choice:
    """What the headers say: the request's `tenant`; every name a header gives (`ld` as
    given, `service` lower-cased; None: absent), which the gate checks the token against;
    and `problem`, why `tenant` may not be used (None: it may)."""

    tenant: str
    ld: str | None
    service: str | None
    problem: str | None


def is_v2(scope: MutableMapping[str, Any]) -> bool:
    return str(scope.get("path", "")).startswith("/v2/")


def decide(scope: MutableMapping[str, Any]) -> Choice:
    """The tenant of a request by the API of its path (the first of each header counts)."""
    ld = service = None
    for name, value in scope["headers"]:
        if name == _LD and ld is None:
            ld = value.decode("latin-1")
        elif name == _V2 and service is None:
            service = value.decode("latin-1").lower()
    if is_v2(scope) and service is not None:
        problem = None
        if not _V2_NAME.match(service):
            problem = "Fiware-Service is 1-50 letters, digits or '_'"
        elif ld is not None and ld != service:
            problem = "Fiware-Service and NGSILD-Tenant name different tenants"
        return Choice(service, ld, service, problem)
    if is_v2(scope) or ld is None or _LD_NAME.match(ld):
        return Choice(ld or "", ld, service, None)
    return Choice(ld, ld, service, "NGSILD-Tenant must be 1-64 letters, digits, '-', '_' or '.'")


def keep(scope: MutableMapping[str, Any], choice: Choice) -> None:
    """The gate: remember why the Caller's tenant may not be used (the endpoint answers it)."""
    if choice.problem is not None:
        scope[_PROBLEM] = choice.problem


def tenant_of(scope: MutableMapping[str, Any]) -> str:
    """The request's tenant as it was named (not checked: an invalid name finds nothing):
    the Caller's, else (routes the gate does not check) decided from the headers."""
    caller = caller_of(scope)
    return caller.tenant if caller is not None else decide(scope).tenant


def checked_tenant(scope: MutableMapping[str, Any]) -> str:
    """The request's tenant; TenantError when its name is not valid for its API."""
    caller = caller_of(scope)
    if caller is not None:
        tenant, problem = caller.tenant, scope.get(_PROBLEM)
    else:
        choice = decide(scope)
        tenant, problem = choice.tenant, choice.problem
    if problem is not None:
        raise TenantError(problem)
    return tenant
