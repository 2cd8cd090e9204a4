"""Render the service's own templates (in `templates/`), which extend the app's and the
console's layouts, with the same context, headers and compression as every page."""

from __future__ import annotations

import gzip
from typing import Any

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from cityos.web import render as web
from cityos.web.session import session_of

templates = Environment(loader=ChoiceLoader([PackageLoader("cityos.services.wallet",
                                                           "templates"),
                                             PackageLoader("cityos.web", "templates")]),
                        autoescape=select_autoescape(default=True), undefined=StrictUndefined,
                        auto_reload=False, trim_blocks=True, lstrip_blocks=True)
templates.globals.update(web.templates.globals)


def render(request: Request, name: str, context: dict[str, Any],
           headers: dict[str, str] | None = None, status: int = 200) -> HTMLResponse:
    values = web.page_context(request.scope, session_of(request), web.prefs_of(request.scope))
    values.update(context)
    html = templates.get_template(name).render(values).encode()
    answer = {**web.HEADERS, **(headers or {})}
    if len(html) > web.GZIP_FROM and "gzip" in request.headers.get("accept-encoding", ""):
        html = gzip.compress(html, 6)
        answer.update({"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
    return HTMLResponse(html, status_code=status, headers=answer)
