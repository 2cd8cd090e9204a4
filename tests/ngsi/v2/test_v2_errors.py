"""Every error under /v2 is Orion's `{"error", "description"}`, whoever refused the request —
the gate (401, 403), the router (404, 405), the body limit (413) — and NGSI-LD keeps its
ProblemDetails (issue #29, item 7). `GET /v2` advertises only URLs that answer."""

from __future__ import annotations

import httpx
import pytest

from access.secured import Platform


def orion(answer: httpx.Response, status: int, error: str) -> str:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert set(body) == {"error", "description"}, body
    assert body["error"] == error and body["description"]
    assert int(answer.headers["content-length"]) == len(answer.content)
    return str(body["description"])


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-jwt"}])
def test_401_without_a_valid_token(platform: Platform, headers: dict[str, str]) -> None:
    answer = platform.client.get("/v2/entities", headers=headers)
    orion(answer, 401, "Unauthorized")
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert platform.client.get("/v2", headers=headers).status_code == 401


def test_403_for_a_grant_or_a_tenant_the_caller_lacks(platform: Platform) -> None:
    p = platform
    nobody = p.client.get("/v2/entities?type=Room", headers=p.auth("Nobody"))
    orion(nobody, 403, "Forbidden")
    other = p.client.get("/v2/entities", headers={**p.auth("admin-a"),
                                                   "Fiware-Service": "town_b"})
    assert "town_b" in orion(other, 403, "Forbidden")
    viewer = p.client.post("/v2/entities", headers=p.auth("viewer"),
                           json={"id": "Room9", "type": "Room"})
    orion(viewer, 403, "Forbidden")


def test_404_on_unknown_v2_paths_and_405_on_unknown_methods(platform: Platform) -> None:
    p = platform
    for path in ("/v2/registrations", "/v2/nowhere", "/v2/entities/Room1/attrs/a/b/c"):
        assert path in orion(p.client.get(path, headers=p.auth("admin")), 404, "NotFound")
    orion(p.client.delete("/v2/types", headers=p.auth("admin")), 405, "MethodNotAllowed")


def test_413_for_a_body_over_the_limit(platform: Platform) -> None:
    big = b'{"id": "Big", "type": "Room", "x": {"value": "' + b"a" * 70_000 + b'"}}'
    answer = platform.client.post("/v2/entities", content=big, headers={
        **platform.auth("admin"), "Content-Type": "application/json"})
    orion(answer, 413, "RequestEntityTooLarge")


def test_ngsi_ld_keeps_problem_details(platform: Platform) -> None:
    answer = platform.client.get("/ngsi-ld/v1/entities?type=Room")
    assert answer.status_code == 401
    assert answer.json()["type"].startswith("https://uri.etsi.org/ngsi-ld/errors/")


def test_every_advertised_url_answers(platform: Platform) -> None:
    p = platform
    urls = p.client.get("/v2", headers=p.auth("admin"))
    assert urls.status_code == 200
    assert set(urls.json()) == {"entities_url", "types_url", "subscriptions_url"}
    for url in urls.json().values():
        assert p.client.get(url, headers=p.auth("admin")).status_code == 200, url
