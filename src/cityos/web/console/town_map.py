"""The console's map page: Leaflet (vendored) over the configured tiles (e.g. 地理院タイル), or
over nothing, with the town's outline, areas and live data layers from `/console/map/layers`."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from cityos.web.console._page import show, tenant
from cityos.web.console.geo import SOURCES, layers
from cityos.web.render import CSP

LEAFLET = "1.9.4"


def tile_origin(url: str) -> str:
    """The origin the map's tile images come from ("" without tiles)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}"


def map_csp(url: str) -> str:
    """The pages' CSP, letting images come from the tile server too."""
    origin = tile_origin(url)
    return CSP.replace("img-src 'self' data:", f"img-src 'self' data: {origin}") if origin else CSP


async def map_page(request: Request) -> Response:
    settings = request.app.state.settings.console
    data = await layers(request.app, tenant(request))
    shelters = sorted(({"name": f["properties"].get("name", f["id"]),
                        "occupancy": f["properties"].get("occupancy", "—"),
                        "observedAt": f["properties"].get("observedAt", "")}
                       for f in data["shelters"]["features"]), key=lambda s: str(s["name"]))
    tiles = settings.tile_url if tile_origin(settings.tile_url) else ""
    return show(request, "map.html", "map", {
        "tiles": tiles, "tile_attribution": settings.tile_attribution,
        "max_zoom": settings.tile_max_zoom, "shelters": shelters, "sources": SOURCES,
        "leaflet": LEAFLET}, headers={"Content-Security-Policy": map_csp(tiles)})
