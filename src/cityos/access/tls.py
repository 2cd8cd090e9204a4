"""TLS for `cityos serve --tls-cert --tls-key`: HTTPS only (plain HTTP is refused, not
redirected, as the super-city API standard asks) and HSTS on every answer (RFC 6797)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cityos.settings import Settings

HSTS = (b"strict-transport-security", b"max-age=31536000")


class TlsSettingsError(ValueError):
    """Half a TLS configuration, or files that are not there."""


def tls_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's TLS options for these settings ({} when TLS is off)."""
    cert, key = settings.tls_cert, settings.tls_key
    if not cert and not key:
        return {}
    if not cert or not key:
        raise TlsSettingsError("TLS needs both --tls-cert and --tls-key")
    for path in (cert, key):
        if not Path(path).is_file():
            raise TlsSettingsError(f"no such file: {path}")
    return {"ssl_certfile": cert, "ssl_keyfile": key}


class StrictTransport:
    """Adds `Strict-Transport-Security` to every HTTP answer (the server speaks only TLS)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), HSTS]}
            await send(message)

        await self.app(scope, receive, send_with_hsts)
