"""What every console page shares: its policies, the tenant it shows, rendering with the
console's navigation, and the redirect after a form."""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from cityos.audit.trail import PRINCIPAL
from cityos.operations import STAFF_READ, STAFF_WRITE, Endpoint, Operation, Param, Policy
from cityos.tenant import tenant_of
from cityos.web.console import messages as _messages  # noqa: F401  (registers the words)
from cityos.web.pages import page
from cityos.web.render import render

CONSOLE_READ = STAFF_READ  # every staff role sees the console
CONSOLE_WRITE = STAFF_WRITE  # admins and operators change the catalog and notices
TAG = "console"
NAV = (("overview", "/console"), ("map", "/console/map"), ("entities", "/console/entities"),
       ("services", "/console/services"), ("notices", "/console/notices"),
       ("accounts", "/console/accounts"), ("alerts", "/console/alerts"),
       ("incidents", "/console/incidents"), ("compliance", "/console/compliance"))


def tenant(request: Request) -> str:
    """The console shows the tenant the gate checked (the Caller's), else the default."""
    return tenant_of(request.scope)


def staff_name(request: Request) -> str:
    principal = request.scope.get(PRINCIPAL)
    return principal.name if principal is not None else ""


def can_edit(request: Request) -> bool:
    principal = request.scope.get(PRINCIPAL)
    return principal is not None and CONSOLE_WRITE.allows(principal.roles, principal.scopes)


def show(request: Request, template: str, section: str, context: dict[str, Any] | None = None,
         status: int = 200, headers: dict[str, str] | None = None) -> Response:
    values = {"nav": NAV, "section": section, "staff": staff_name(request),
              "can_edit": can_edit(request), "flash": request.query_params.get("done", "")}
    values.update(context or {})
    return render(request, f"console/{template}", values, status=status, headers=headers)


def done(path: str, flash: str) -> Response:
    """After a form: 303 to a page that says what happened (Post/Redirect/Get)."""
    return RedirectResponse(f"{path}?done={quote(flash)}", status_code=303,
                            headers={"Cache-Control": "no-store"})


def console_page(method: str, path: str, endpoint: Endpoint, summary: str,
                 policy: Policy = CONSOLE_READ,
                 responses: dict[int, str] | None = None) -> Operation:
    """A console page; its path parameters are declared as strings."""
    op = page(method, path, endpoint, summary, policy, tag=TAG, responses=responses)
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    return dataclasses.replace(op, params=tuple(Param(n, "path", required=True) for n in names))
