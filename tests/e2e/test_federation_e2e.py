"""Two real brokers, Toyono and its neighbour Nose: a query on one returns what the other
holds once it is registered, loops are cut, and a stopped neighbour is reported, not fatal.
ETSI GS CIM 009 v1.8 §4.3.6 (distributed operations), issue 4."""

from __future__ import annotations

from typing import Any

import httpx

V1 = "/ngsi-ld/v1"


def shelter(eid: str, name: str) -> dict[str, Any]:
    return {"id": eid, "type": "Shelter", "name": {"type": "Property", "value": name},
            "capacity": {"type": "Property", "value": 100}}


def register(on: str, other: str, n: str) -> None:
    reg = {"id": f"urn:ngsi-ld:ContextSourceRegistration:{n}", "type": "ContextSourceRegistration",
           "information": [{"entities": [{"type": "Shelter"}]}], "endpoint": other,
           "management": {"timeout": 2000}}
    assert httpx.post(f"{on}{V1}/csourceRegistrations", json=reg).status_code == 201


def ids(base: str, **params: Any) -> list[str]:
    r = httpx.get(f"{base}{V1}/entities", params={"type": "Shelter", **params}, timeout=30)
    assert r.status_code == 200, r.text
    return sorted(e["id"] for e in r.json())


def test_a_query_reaches_the_neighbour_and_survives_its_absence(serve: Any) -> None:
    toyono, nose = serve("--open-ngsi"), serve("--open-ngsi")
    t, n = toyono.url, nose.url
    assert httpx.post(f"{t}{V1}/entities", json=shelter("urn:ngsi-ld:Shelter:t1", "東ときわ台小学校")
                      ).status_code == 201
    assert httpx.post(f"{n}{V1}/entities", json=shelter("urn:ngsi-ld:Shelter:n1", "能勢小学校")
                      ).status_code == 201
    assert ids(t) == ["urn:ngsi-ld:Shelter:t1"]  # not registered yet
    register(t, n, "nose")
    assert ids(t) == ["urn:ngsi-ld:Shelter:n1", "urn:ngsi-ld:Shelter:t1"]
    assert ids(t, local="true") == ["urn:ngsi-ld:Shelter:t1"]
    r = httpx.get(f"{t}{V1}/entities/urn:ngsi-ld:Shelter:n1")
    assert r.status_code == 200 and r.json()["name"]["value"] == "能勢小学校"
    # each registered with the other: the forwarded query carries local=true and Via
    register(n, t, "toyono")
    assert ids(n) == ["urn:ngsi-ld:Shelter:n1", "urn:ngsi-ld:Shelter:t1"]
    # the neighbour stops: Toyono still answers with its own data and says who is missing
    nose.stop()
    r = httpx.get(f"{t}{V1}/entities", params={"type": "Shelter"}, timeout=30)
    assert r.status_code == 200
    assert [e["id"] for e in r.json()] == ["urn:ngsi-ld:Shelter:t1"]
    assert "did not answer" in r.headers["NGSILD-Warning"]
    r = httpx.get(f"{t}{V1}/entities/urn:ngsi-ld:Shelter:n1", timeout=30)
    assert r.status_code == 404 and "did not answer" in r.headers["NGSILD-Warning"]


def test_a_source_that_hangs_costs_only_its_timeout(serve: Any) -> None:
    import socket
    import threading

    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen()
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(hung.accept()[0]), daemon=True).start()
    toyono = serve("--open-ngsi")
    t = toyono.url
    assert httpx.post(f"{t}{V1}/entities", json=shelter("urn:ngsi-ld:Shelter:t1", "x")
                      ).status_code == 201
    reg = {"id": "urn:ngsi-ld:ContextSourceRegistration:hung", "type": "ContextSourceRegistration",
           "information": [{"entities": [{"type": "Shelter"}]}],
           "endpoint": f"http://127.0.0.1:{hung.getsockname()[1]}", "management": {"timeout": 300}}
    assert httpx.post(f"{t}{V1}/csourceRegistrations", json=reg).status_code == 201
    # the source accepts the connection and never answers: the query still answers
    r = httpx.get(f"{t}{V1}/entities", params={"type": "Shelter"}, timeout=30)
    assert r.status_code == 200 and [e["id"] for e in r.json()] == ["urn:ngsi-ld:Shelter:t1"]
    assert "ReadTimeout" in r.headers["NGSILD-Warning"]
    for conn in accepted:
        conn.close()
    hung.close()


def test_sources_are_asked_with_the_operations_they_registered(serve: Any) -> None:
    toyono, nose = serve("--open-ngsi"), serve("--open-ngsi")
    t, n = toyono.url, nose.url
    assert httpx.post(f"{n}{V1}/entities", json=shelter("urn:ngsi-ld:Shelter:n1", "能勢")
                      ).status_code == 201
    for ops, n_id in ((["queryBatch"], "batch"), (["queryEntity"], "query")):
        reg = {"id": f"urn:ngsi-ld:ContextSourceRegistration:{n_id}",
               "type": "ContextSourceRegistration", "operations": ops, "endpoint": n,
               "information": [{"entities": [{"type": "Shelter"}]}]}
        assert httpx.post(f"{t}{V1}/csourceRegistrations", json=reg).status_code == 201
        # a GET query, a POST query and a retrieval all reach Nose by the one way it takes
        assert ids(t) == ["urn:ngsi-ld:Shelter:n1"]
        r = httpx.post(f"{t}{V1}/entityOperations/query",
                       json={"type": "Query", "entities": [{"type": "Shelter"}]})
        assert r.status_code == 200 and [e["id"] for e in r.json()] == ["urn:ngsi-ld:Shelter:n1"]
        r = httpx.get(f"{t}{V1}/entities/urn:ngsi-ld:Shelter:n1")
        assert r.status_code == 200 and r.json()["name"]["value"] == "能勢"
        url = f"{t}{V1}/csourceRegistrations/urn:ngsi-ld:ContextSourceRegistration:{n_id}"
        assert httpx.delete(url).status_code == 204
