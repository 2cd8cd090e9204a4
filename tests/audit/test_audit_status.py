"""The trail records the status the client received, whatever the endpoint raised (issue #18
item 10): the app's exception handlers decide it, as they decide the answer."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from cityos.app import create_app
from cityos.audit.trail import audited
from cityos.jsonvalue import TooDeep
from cityos.ngsi.errors import Conflict
from cityos.operations import PUBLIC, Operation
from cityos.settings import load_settings
from cityos.storage.base import NotOwner

RAISED: dict[str, Exception] = {
    "not-owner": NotOwner("entity urn:x holds a resident's data that org:b did not write"),
    "ngsi": Conflict("exclusively registered elsewhere"),
    "too-deep": TooDeep(),
    "http": HTTPException(418, "teapot"),
    "unexpected": ValueError("a bug"),
}


class _Trail:
    def __init__(self, store: object) -> None:
        self.store = store
        self.records: list[dict[str, Any]] = []

    def record(self, record: dict[str, Any]) -> None:
        self.records.append(record)


def _app() -> tuple[Starlette, _Trail]:
    """The platform's exception handlers around endpoints that raise each kind of error."""
    handlers = create_app(load_settings(environ={})).exception_handlers

    def raising(name: str) -> Any:
        async def endpoint(request: Request) -> Response:
            raise RAISED[name]
        endpoint.__name__ = name.replace("-", "_")
        return endpoint

    routes = []
    for name in RAISED:
        op = Operation("POST", f"/{name}", raising(name), name, "test", policy=PUBLIC)
        routes.append(Route(op.path, audited(op, op.endpoint), methods=["POST"]))
    app = Starlette(routes=routes, exception_handlers=handlers)
    store = object()
    trail = _Trail(store)
    app.state.broker = SimpleNamespace(store=store)
    app.state.audit = trail
    return app, trail


@pytest.mark.parametrize("name", list(RAISED))
def test_the_trail_records_the_status_the_client_got(name: str) -> None:
    app, trail = _app()
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.post(f"/{name}")
    assert [r["status"] for r in trail.records] == [answer.status_code]
    expected = {"not-owner": 403, "ngsi": 409, "too-deep": 400, "http": 418, "unexpected": 500}
    assert answer.status_code == expected[name]
