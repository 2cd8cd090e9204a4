"""Every HTTP operation of cityos, declared once: route, OpenAPI description and access policy.

The ASGI routes and `/openapi.json` are both generated from these declarations, so a route
cannot exist without being described (and, with access control, without a policy).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

Endpoint = Callable[[Request], Awaitable[Response]]

STAFF_ROLES = ("admin", "operator", "viewer")


@dataclass(frozen=True)
class Policy:
    """Who may call an operation. Staff with the role `admin` may call every operation that is
    not public; organisations need one of `scopes` (and, for entities, a per-type grant)."""

    roles: tuple[str, ...] = ()  # staff roles allowed besides admin
    scopes: tuple[str, ...] = ()  # organisation token scopes, any of them
    public: bool = False  # no token needed (the operation authenticates by its own means)

    def allows(self, roles: tuple[str, ...] | list[str], scopes: tuple[str, ...] | list[str]) -> bool:
        if self.public or "admin" in roles:
            return True
        return any(r in self.roles for r in roles) or any(s in self.scopes for s in scopes)


PUBLIC = Policy(public=True)
ADMIN = Policy()  # platform administration: staff admins only
NGSI_READ = Policy(roles=("operator", "viewer"), scopes=("ngsi:read",))
NGSI_WRITE = Policy(roles=("operator",), scopes=("ngsi:write",))
STAFF_WRITE = Policy(roles=("operator",))  # platform-wide changes: staff only, never companies
STAFF_READ = Policy(roles=("operator", "viewer"))  # platform state: staff only, never companies
RESIDENT_ROLE = "resident"  # the only role of residents' tokens; no staff policy lists it
OWN_ACCOUNT = Policy(roles=("operator", "viewer", RESIDENT_ROLE))  # one's own account only
# the only role of a token given to staff who must add a passkey before anything else
ENROL_ROLE = "passkey-enrolment"
PASSKEY_ENROLMENT = Policy(roles=("operator", "viewer", RESIDENT_ROLE, ENROL_ROLE))


@dataclass(frozen=True)
class Param:
    name: str
    where: str = "query"  # query | path | header
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})
    description: str = ""
    required: bool = False


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # OpenAPI-style template, also used as the Starlette route
    endpoint: Endpoint
    summary: str
    tag: str
    params: tuple[Param, ...] = ()
    body: dict[str, Any] | None = None  # JSON schema of the request body
    body_types: tuple[str, ...] = ("application/json", "application/ld+json")
    responses: dict[int, str] = field(default_factory=lambda: {200: "OK"})
    public: bool = False  # reachable without a token: shorthand for policy=PUBLIC
    policy: Policy | None = None  # who may call it; None and not public → create_app refuses

    @property
    def access(self) -> Policy | None:
        """The declared policy (`public=True` is `PUBLIC`); None when nothing was declared."""
        return PUBLIC if self.public else self.policy

    @property
    def operation_id(self) -> str:
        return self.endpoint.__name__
