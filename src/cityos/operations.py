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
    public: bool = False  # reachable without a token (access control reads this)

    @property
    def operation_id(self) -> str:
        return self.endpoint.__name__
