"""Who is calling, decided once by the gate and carried on the request's scope (issue 18).

The gate builds one `Caller` after its checks (token, account, rate, role, tenant) with the
caller's type grants as expanded IRIs; the NGSI paths derive the store's `Reader` (what the
caller may read: consents and type grants, applied in SQL) and `Writer` (what it may write,
checked inside the store's transaction) from it, so no path decides grants on its own.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cityos.access.tokens import Principal

CALLER = "cityos.caller"  # scope key where the gate leaves the Caller


@dataclass(frozen=True)
class Caller:
    """The calling principal, the tenant it addresses and the entity types it may read and
    write (expanded type IRIs; None = every type: staff, residents, a `*` grant)."""

    principal: Principal
    tenant: str = ""
    reads: frozenset[str] | None = None
    writes: frozenset[str] | None = None

    @property
    def sub(self) -> str:
        return self.principal.sub

    @property
    def roles(self) -> tuple[str, ...]:
        return self.principal.roles


def caller_of(scope: MutableMapping[str, Any]) -> Caller | None:
    """The Caller the gate left on a request's scope; None on open routes (open NGSI)."""
    caller = scope.get(CALLER)
    return caller if isinstance(caller, Caller) else None
