"""The deny-by-default gate in front of every operation.

Until accounts and OAuth 2.0 land (access issue), a non-public operation needs the platform
admin's bearer token, created by `cityos init`; `--open-ngsi` opens the NGSI-LD API only.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from cityos.ngsi.errors import NgsiError
from cityos.operations import Endpoint, Operation
from cityos.settings import Settings

TOKEN_FILE = Path("access") / "admin-token.sha256"


class Unauthorized(NgsiError):
    title = "Unauthorized"
    status = 401


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_admin_token(data_dir: Path) -> str:
    """Make a new admin token, keep only its hash, and return it (shown once)."""
    token = "cityos_" + secrets.token_urlsafe(32)
    path = data_dir / TOKEN_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_digest(token) + "\n", encoding="ascii")
    path.chmod(0o600)
    return token


class Gate:
    """Wraps each operation's endpoint with the check its declaration asks for."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._digest: str | None = None
        path = settings.data_dir / TOKEN_FILE
        if path.is_file():
            self._digest = path.read_text(encoding="ascii").strip()

    def is_open(self, op: Operation) -> bool:
        return op.public or (self.settings.ngsi.open_ngsi and op.path.startswith("/ngsi-ld/"))

    def wrap(self, op: Operation) -> Endpoint:
        if self.is_open(op):
            return op.endpoint
        endpoint = op.endpoint

        async def guarded(request: Request) -> Response:
            self.check(request)
            return await endpoint(request)

        guarded.__name__ = endpoint.__name__
        return guarded

    def check(self, request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("this operation needs a bearer token (Authorization: Bearer …)")
        if self._digest is None or not hmac.compare_digest(_digest(token.strip()), self._digest):
            raise Unauthorized("the bearer token is not valid")
