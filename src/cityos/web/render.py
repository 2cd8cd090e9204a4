"""Render a page: the Jinja2 templates with the visitor's language, display settings, CSRF
token and the security headers every page sends (CSP without inline script, no caching of
signed-in pages).
"""

from __future__ import annotations

import gzip
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.types import Scope

from cityos import __version__
from cityos.web import jst
from cityos.web.i18n import translator
from cityos.web.prefs import Prefs
from cityos.web.session import Session, session_of

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; manifest-src 'self'; worker-src 'self'; font-src 'self'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "same-origin", "Cache-Control": "no-store"}

GZIP_FROM = 1400  # bytes: smaller pages fit one packet as they are
templates = Environment(loader=PackageLoader("cityos.web", "templates"),
                        autoescape=select_autoescape(default=True),
                        undefined=StrictUndefined, auto_reload=False, trim_blocks=True,
                        lstrip_blocks=True)


def static_url(name: str) -> str:
    """URL of a file under web/static, versioned so browsers may cache it for long."""
    return f"/static/{name}?v={__version__}"


templates.globals["static"] = static_url
templates.filters["jst"] = jst.shown  # every time a person reads: Japan's clock, no ISO
templates.filters["jst_date"] = lambda value: jst.shown(value, date_only=True)
templates.filters["picker"] = jst.picker


def prefs_of(scope: Scope) -> Prefs:
    prefs = scope.get("cityos.prefs")
    return prefs if isinstance(prefs, Prefs) else Prefs()


def page_context(scope: Scope, session: Session, prefs: Prefs) -> dict[str, Any]:
    return {"t": translator(prefs.lang), "lang": prefs.lang, "prefs": prefs,
            "session": session, "csrf": session.csrf, "path": scope["path"]}


def render(request: Request, name: str, context: dict[str, Any] | None = None,
           status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    """The page `name` (a template path such as `app/home.html`) as an HTML answer."""
    values = page_context(request.scope, session_of(request), prefs_of(request.scope))
    values.update(context or {})
    html = templates.get_template(name).render(values).encode()
    answer_headers = {**HEADERS, **(headers or {})}
    if len(html) > GZIP_FROM and "gzip" in request.headers.get("accept-encoding", ""):
        html = gzip.compress(html, 6)  # a page of 59 services: 30 KB → 5 KB on a slow line
        answer_headers.update({"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
    return HTMLResponse(html, status_code=status, headers=answer_headers)


def error_page(scope: Scope, status: int, session: Session) -> HTMLResponse:
    """The HTML page shown instead of a problem+json answer inside the page areas."""
    prefs = prefs_of(scope)
    values = page_context(scope, session, prefs)
    key = f"error.{status}" if status in (400, 401, 403, 404) else "error.other"
    values.update(status=status, message_key=key)
    name = "error.html"
    if scope["path"] == "/console" or scope["path"].startswith("/console/"):
        name = "console/error.html"  # in the console's own look, without its menu
        values.update(staff="", nav=(), section="")
    html = templates.get_template(name).render(values)
    return HTMLResponse(html, status_code=status, headers=HEADERS)
