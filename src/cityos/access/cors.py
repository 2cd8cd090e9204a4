"""CORS allow-list: browsers on the listed origins may call the API (MIC guideline データ連携⑥:
cross-domain access allowed deliberately, never to everyone). Fetch standard, CORS protocol."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware

from cityos.settings import Settings

HEADERS = ["Authorization", "Content-Type", "Accept", "Link", "NGSILD-Tenant"]
EXPOSED = ["Link", "Location", "NGSILD-Tenant", "NGSILD-Results-Count", "Retry-After"]


def add_cors(app: Starlette, settings: Settings) -> None:
    """Answer CORS for `access.cors_origins` only; with none listed, no CORS headers at all."""
    origins = [o.rstrip("/") for o in settings.access.cors_origins if o.strip()]
    if "*" in origins:
        raise ValueError("access.cors_origins lists origins, never '*'")
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_headers=HEADERS,
                           allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                           expose_headers=EXPOSED, allow_credentials=False, max_age=600)
