"""The app as an installable PWA: the web app manifest and the service worker (W3C Web
Application Manifest; Service Workers: an offline page, no caching of personal pages)."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from cityos.web.render import prefs_of, static_url
from cityos.web.static import asset_response, assets


async def manifest(request: Request) -> Response:
    lang = prefs_of(request.scope).lang
    body = {
        "name": "豊能町 まちのアプリ" if lang == "ja" else "Toyono town app",
        "short_name": "まちのアプリ" if lang == "ja" else "Town app",
        "lang": lang, "dir": "ltr", "start_url": "/app", "scope": "/app",
        "display": "standalone", "background_color": "#ffffff", "theme_color": "#005a9c",
        "icons": [
            {"src": static_url("app/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static_url("app/icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {"src": static_url("app/icon.svg"), "sizes": "any", "type": "image/svg+xml",
             "purpose": "any"}],
    }
    return Response(orjson.dumps(body), media_type="application/manifest+json",
                    headers={"Cache-Control": "no-cache"})


async def service_worker(request: Request) -> Response:
    """Served from /app; the header lets it control `/app` itself, not only `/app/…`."""
    response = asset_response(request, assets()["app/sw.js"], "no-cache")
    response.headers["Service-Worker-Allowed"] = "/app"
    return response
