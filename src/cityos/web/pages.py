"""Declare a page as an Operation: HTML answers, a policy like every route, and for form
posts a CSRF check (OWASP synchroniser token) whenever the session cookie authenticates.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

from cityos.operations import RESIDENT_ROLE, Endpoint, Operation, Param, Policy
from cityos.web.session import CSRF_FIELD, CSRF_HEADER, csrf_ok, session_of

RESIDENT_PAGE = Policy(roles=(RESIDENT_ROLE,))  # signed-in residents (and platform admins)
MAX_FORM = 16_384
FORM_TYPES = ("application/x-www-form-urlencoded",)
FORM_KEY = "cityos.form"


async def form_of(request: Request) -> dict[str, str]:
    """The posted form's fields (first value of each); empty when the body is not a form."""
    cached = request.scope.get(FORM_KEY)
    if isinstance(cached, dict):
        return cached
    raw = await request.body()
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fields: dict[str, str] = {}
    if media == "application/x-www-form-urlencoded" and len(raw) <= MAX_FORM:
        try:
            fields = {k: v[0] for k, v in parse_qs(raw.decode("utf-8")).items()}
        except UnicodeDecodeError:
            fields = {}
    request.scope[FORM_KEY] = fields
    return fields


def safe_next(target: str | None, default: str = "/app") -> str:
    """A same-site path to go on to (never another site: no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def csrf_checked(endpoint: Endpoint) -> Endpoint:
    """Refuse (400, an HTML page) a post whose cookie-borne session lacks its CSRF token.

    A request with its own bearer token is an API call: no cookie, nothing to forge."""

    async def checked(request: Request) -> Response:
        bearer_only = "authorization" in request.headers and not session_of(request).from_cookie
        if not bearer_only:
            sent = request.headers.get(CSRF_HEADER) or (await form_of(request)).get(CSRF_FIELD)
            if not csrf_ok(session_of(request), sent):
                from cityos.web.render import render

                return render(request, "error.html", {"status": 400,
                                                      "message_key": "error.csrf"}, status=400)
        return await endpoint(request)

    checked.__name__ = endpoint.__name__
    return checked


def page(method: str, path: str, endpoint: Endpoint, summary: str, policy: Policy,
         tag: str = "app", responses: dict[int, str] | None = None,
         params: tuple[Param, ...] = ()) -> Operation:
    """A page operation; POST pages take a form and check its CSRF token."""
    answers = responses or ({303: "done: go to the next page", 400: "HTML error page"}
                            if method == "POST" else {200: "HTML page"})
    if method == "POST":
        return Operation(method, path, csrf_checked(endpoint), summary, tag, params,
                         body={"type": "object", "properties": {CSRF_FIELD: {"type": "string"}}},
                         body_types=FORM_TYPES, responses=answers, policy=policy)
    return Operation(method, path, endpoint, summary, tag, params, responses=answers,
                     policy=policy)
