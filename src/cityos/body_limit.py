"""No request body larger than the platform's limit (`ngsi.max_body_bytes`) is read, on any
route: a declared Content-Length over it is answered 413 before the app runs, and a chunked
body is cut off with 413 as soon as it passes the limit, so a client cannot make the server
buffer an unbounded body (public routes such as `POST /auth/token` included).

Routes keep their own, possibly smaller, limits and messages.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cityos.ngsi.api.respond import problem_response
from cityos.ngsi.errors import PayloadTooLarge


class BodyTooLarge(PayloadTooLarge):
    """Raised from `receive` when a chunked body passes the limit (the app answers 413)."""


class BodyLimit:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit
        for name, value in scope["headers"]:
            if name == b"content-length":  # the server delivers no more than it declares
                if value.isdigit() and int(value) > limit:
                    await _too_large(limit)(scope, receive, send)
                    return
                await self.app(scope, receive, send)
                return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(_detail(limit))
            return message

        await self.app(scope, counted, send)


def _detail(limit: int) -> str:
    return f"the body is larger than {limit} bytes / 本文が上限（{limit} バイト）を超えています"


def _too_large(limit: int) -> ASGIApp:
    return problem_response(PayloadTooLarge(_detail(limit)))
