"""Context source registrations: stored expanded, shown with the reader's @context, discovered
by type, attrs, ids, q, geo and time. ETSI GS CIM 009 v1.8 §5.9, §5.10, §5.12."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

V1 = "/ngsi-ld/v1"
R = f"{V1}/csourceRegistrations"
CTX = {"Building": "https://example.org/Building", "name": "https://example.org/name",
       "brand": "https://example.org/brand"}
LD = {"Content-Type": "application/ld+json"}


def register(client: TestClient, n: int, info: list[dict[str, Any]], **extra: Any) -> str:
    rid = f"urn:ngsi-ld:ContextSourceRegistration:{n}"
    body = {"id": rid, "type": "ContextSourceRegistration", "information": info,
            "endpoint": f"http://127.0.0.1:9/{n}", "@context": CTX, **extra}
    r = client.post(R, json=body, headers=LD)
    assert r.status_code == 201, r.text
    return rid


def link(client: TestClient) -> dict[str, str]:
    """A Link header to CTX, hosted by the broker."""
    mine = client.post(f"{V1}/jsonldContexts", json={"@context": CTX})
    assert mine.status_code == 201, mine.text
    return {"Link": f'<{mine.headers["Location"]}>; rel="http://www.w3.org/ns/json-ld#context"'}


def found(client: TestClient, headers: dict[str, str] | None = None, **params: Any) -> list[str]:
    r = client.get(R, params=params, headers={"Accept": "application/ld+json", **(headers or {})})
    assert r.status_code == 200, r.text
    return sorted(reg["id"].rsplit(":", 1)[1] for reg in r.json())


def test_shown_with_the_readers_context(client: TestClient) -> None:
    rid = register(client, 1, [{"entities": [{"type": "Building"}], "propertyNames": ["name"]}])
    plain = client.get(f"{R}/{rid}").json()  # the core context only: full IRIs
    assert plain["information"] == [{"entities": [{"type": "https://example.org/Building"}],
                                      "propertyNames": ["https://example.org/name"]}]
    assert "jsonldContext" not in plain and "createdAt" not in plain
    compact = client.get(f"{R}/{rid}", params={"options": "sysAttrs"}, headers=link(client))
    assert compact.json()["information"][0]["entities"][0]["type"] == "Building"
    assert "createdAt" in compact.json()


def test_discovery_matches_types_attrs_and_ids(client: TestClient) -> None:
    register(client, 1, [{"entities": [{"type": "Building", "id": "urn:ngsi-ld:Building:1"}]}])
    register(client, 2, [{"entities": [{"type": "Building", "idPattern": ".*:2$"}],
                          "propertyNames": ["brand"]}])
    register(client, 3, [{"propertyNames": ["name"]}])  # any entity, only `name`
    types = "https://example.org/Building"
    assert found(client, type=types) == ["1", "2", "3"]
    assert found(client, type=types, attrs="https://example.org/name") == ["1", "3"]
    assert found(client, id="urn:ngsi-ld:Building:2") == ["2", "3"]
    # a registered id must match the pattern; a registered pattern may (it is not decided)
    assert found(client, type=types, idPattern=".*:9$") == ["2", "3"]
    assert found(client, type="https://example.org/Shop") == ["3"]


def test_discovery_by_own_properties_place_and_time(client: TestClient) -> None:
    info = [{"entities": [{"type": "Building"}]}]
    register(client, 1, info, brand="toyono", location={"type": "Point",
                                                         "coordinates": [135.49, 34.92]},
             observationInterval={"startAt": "2026-01-01T00:00:00Z",
                                  "endAt": "2026-02-01T00:00:00Z"})
    register(client, 2, info, brand="nose", location={"type": "Point",
                                                       "coordinates": [135.47, 34.97]})
    t = "https://example.org/Building"
    assert found(client, link(client), type="Building", q='brand=="toyono"') == ["1"]
    assert found(client, type=t, georel="near;maxDistance==2000", geometry="Point",
                 coordinates="[135.49,34.92]") == ["1"]
    assert found(client, type=t, timerel="after", timeAt="2026-01-15T00:00:00Z") == ["1"]
    assert found(client, type=t, timerel="after", timeAt="2026-03-01T00:00:00Z") == []


@pytest.mark.parametrize("params", [
    {}, {"id": "not a uri"}, {"type": "X", "q": "((("}, {"type": "X", "timerel": "soon"},
    {"type": "X", "georel": "near;maxDistance==10"}, {"type": "X", "idPattern": "("},
])
def test_bad_discovery_is_400(client: TestClient, params: dict[str, str]) -> None:
    r = client.get(R, params=params)
    assert r.status_code == 400 and r.json()["type"].endswith("BadRequestData"), r.text


def test_pages_link_to_each_other(client: TestClient) -> None:
    for n in range(3):
        register(client, n, [{"entities": [{"type": "Building"}]}])
    r = client.get(R, params={"type": "https://example.org/Building", "limit": 1, "offset": 1})
    links = r.headers.get_list("Link")
    assert any('rel="prev"' in link and "offset=0" in link for link in links)
    assert any('rel="next"' in link and "offset=2" in link for link in links)


def test_update_expands_with_its_own_context_and_delete(client: TestClient) -> None:
    rid = register(client, 1, [{"entities": [{"type": "Building"}]}])
    patch = {"information": [{"entities": [{"type": "Building"}], "propertyNames": ["brand"]}],
             "@context": CTX}
    assert client.patch(f"{R}/{rid}", json=patch, headers=LD).status_code == 204
    assert client.get(f"{R}/{rid}").json()["information"][0]["propertyNames"] == [
        "https://example.org/brand"]
    assert client.delete(f"{R}/{rid}").status_code == 204
    assert client.get(f"{R}/{rid}").status_code == 404
