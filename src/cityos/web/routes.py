"""The web foundation's own routes: static files, display settings and the offline page.

The resident app (`web/app/`) and the staff console (`web/console/`) add theirs.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from cityos.operations import PUBLIC, Operation, Param
from cityos.web.app import routes as app_routes
from cityos.web.middleware import cookie_header
from cityos.web.pages import page, safe_next
from cityos.web.prefs import COOKIE, MAX_AGE, with_choices
from cityos.web.render import prefs_of, render
from cityos.web.static import static_file


async def display_settings(request: Request) -> Response:
    """Language, text size and contrast; a choice in the query is kept in a cookie at once
    (no account needed, nothing secret: a link can change it)."""
    choices = {k: v for k, v in request.query_params.items()
               if k in ("lang", "size", "contrast")}
    if not choices:
        return render(request, "settings.html", {"saved": "saved" in request.query_params})
    prefs = with_choices(prefs_of(request.scope), choices)
    settings = request.app.state.settings
    target = safe_next(request.query_params.get("next"), "/app/settings?saved=1")
    response = RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})
    response.headers.append("set-cookie", cookie_header(
        COOKIE, prefs.to_cookie(), secure=settings.public_url.startswith("https:"),
        max_age=MAX_AGE))
    return response


async def offline_page(request: Request) -> Response:
    """What the service worker shows when the phone has no connection."""
    return render(request, "offline.html", headers={"Cache-Control": "no-cache"})


FOUNDATION: list[Operation] = [
    Operation("GET", "/static/{asset}", static_file, "Static file of the pages (CSS, htmx)",
              "app", params=(Param("asset", "path", required=True),),
              responses={200: "file", 304: "not modified", 404: "no such file"}, policy=PUBLIC),
    page("GET", "/app/settings", display_settings, "Display settings: language, text size, "
         "contrast (表示の設定)", PUBLIC, responses={200: "HTML page", 303: "saved"}),
    page("GET", "/app/offline", offline_page, "The page shown offline (オフライン)", PUBLIC),
]
OPERATIONS: list[Operation] = [*FOUNDATION, *app_routes.OPERATIONS]
