"""The pages' static files (CSS, vendored htmx, icons), read once and served from memory,
gzip-compressed when the browser accepts it (RFC 9110 §8.4 content coding).
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

STATIC_DIR = Path(__file__).parent / "static"
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".svg": "image/svg+xml", ".png": "image/png", ".webmanifest": "application/manifest+json",
          ".md": "text/markdown; charset=utf-8"}
_COMPRESSIBLE = (".js", ".css", ".svg", ".webmanifest", ".md")


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    media_type: str
    etag: str


@cache
def assets() -> dict[str, Asset]:
    """Every file under web/static by its path there (`vendor/htmx-2.0.11.min.js`)."""
    found: dict[str, Asset] = {}
    for path in sorted(STATIC_DIR.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        body = path.read_bytes()
        suffix = path.suffix.lower()
        media = _TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or \
            "application/octet-stream"
        zipped = gzip.compress(body, 9, mtime=0) if suffix in _COMPRESSIBLE else None
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        found[path.relative_to(STATIC_DIR).as_posix()] = Asset(body, zipped, media, etag)
    return found


def asset_response(request: Request, asset: Asset, cache_control: str) -> Response:
    headers = {"ETag": asset.etag, "Cache-Control": cache_control, "Vary": "Accept-Encoding",
               "X-Content-Type-Options": "nosniff"}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    if asset.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(asset.gzipped, media_type=asset.media_type, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


async def static_file(request: Request) -> Response:
    """A file of the pages (versioned URLs: browsers keep them a day, then revalidate)."""
    asset = assets().get(request.path_params["asset"])
    if asset is None:
        return Response("not found", status_code=404, media_type="text/plain")
    return asset_response(request, asset, "public, max-age=86400")
