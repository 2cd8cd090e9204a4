"""Every error under `/v2` in Orion's shape, `{"error", "description"}`, whoever answered it.

The v2 handlers answer Orion's shape themselves (`request.v2_endpoint`), but a request can be
refused before it reaches them: the gate (401, 403, 429), the router (404 for an unknown `/v2`
path, 405), the body limit (413). Those answer NGSI-LD ProblemDetails, which an Orion client
cannot read. This middleware is the one place where the shape depends on the path: an error
response to a `/v2` path that carries ProblemDetails is rewritten to Orion's form, keeping its
status and headers (`WWW-Authenticate`, `Retry-After`, `Allow`). Successful answers, and
answers to other paths, pass through untouched and unbuffered.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cityos.ngsi.v2.request import ERRORS, JSON

PREFIX = "/v2"


def is_v2(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def orion_error(status: int, problem: dict[str, Any]) -> dict[str, str]:
    """Orion's error body for a ProblemDetails body answered with `status`."""
    title = str(problem.get("title") or "")
    error = ERRORS.get(status) or title or "InternalError"
    description = str(problem.get("detail") or title or error)
    return {"error": error, "description": description[:500]}


def _problem(body: bytes) -> dict[str, Any] | None:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(data, dict) and "type" in data and "title" in data and "error" not in data:
        return data
    return None


class OrionErrors:
    """ASGI middleware: ProblemDetails answers to `/v2…` become `{"error", "description"}`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_v2(scope["path"]):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def reshaped(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                if message["status"] < 400:
                    await send(message)
                    return
                start = message  # held until the body tells what it is
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            problem = _problem(body)
            headers = list(start.get("headers", []))
            if problem is not None:
                body = orjson.dumps(orion_error(start["status"], problem))
                headers = [(k, v) for k, v in headers
                           if k.lower() not in (b"content-length", b"content-type")]
                headers += [(b"content-type", JSON.encode()),
                            (b"content-length", str(len(body)).encode())]
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, reshaped)
