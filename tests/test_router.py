"""The indexed router sends every request where Starlette's own router would: same route, same
405 for a known path with another method, same 404 for an unknown one."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.routing import BaseRoute, Match, Route

from cityos.app import create_app
from cityos.router import IndexedRouter
from cityos.settings import load_settings

APP = create_app(load_settings(Path(tempfile.mkdtemp(prefix="cityos-router-")), environ={}))
ROUTER = APP.router
ROUTES: list[BaseRoute] = ROUTER.routes
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# the words the routes' paths are made of, and some that none has
WORDS = sorted({seg for r in ROUTES if isinstance(r, Route) for seg in r.path.split("/")
                if seg and "{" not in seg} | {"x", "urn:ngsi-ld:Sensor:1", "a b", "%2F", ""})


def _starlette(path: str, method: str) -> tuple[str, BaseRoute | None]:
    """What Starlette's Router.app decides: (FULL | PARTIAL | NONE, the route)."""
    scope = {"type": "http", "path": path, "root_path": "", "method": method}
    partial = None
    for route in ROUTES:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return "FULL", route
        if match is Match.PARTIAL and partial is None:
            partial = route
    return ("PARTIAL", partial) if partial is not None else ("NONE", None)


def _indexed(path: str, method: str) -> tuple[str, BaseRoute | None]:
    scope = {"type": "http", "path": path, "root_path": "", "method": method}
    for route in ROUTER.candidates(path, method):
        if route.matches(scope)[0] is Match.FULL:
            return "FULL", route
    for route in ROUTER.candidates(path):
        if route.matches(scope)[0] is Match.PARTIAL:
            return "PARTIAL", route
    return "NONE", None


def test_the_app_uses_the_indexed_router() -> None:
    assert isinstance(ROUTER, IndexedRouter)


def test_every_route_is_found_as_starlette_finds_it() -> None:
    for route in ROUTES:
        assert isinstance(route, Route)
        path = route.path.replace("{attrId:path}", "a/b").replace("{type:path}", "T")
        for name in ("{entityId}", "{id}", "{attrId}", "{instanceId}", "{contextId:path}",
                     "{asset:path}"):
            path = path.replace(name, "urn:x:1")
        path = path.split("{")[0] + ("p" if "{" in path else "")
        for method in METHODS:
            assert _indexed(path, method) == _starlette(path, method), (method, path)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(WORDS), min_size=0, max_size=7), st.sampled_from(METHODS))
def test_any_path_is_routed_as_starlette_routes_it(segments: list[str], method: str) -> None:
    path = "/" + "/".join(segments)
    assert _indexed(path, method) == _starlette(path, method)


def test_a_known_path_with_another_method_is_405_and_an_unknown_one_404() -> None:
    from starlette.testclient import TestClient

    with TestClient(APP) as client:
        assert client.request("PATCH", "/healthz").status_code == 405
        assert client.get("/no/such/page").status_code == 404
