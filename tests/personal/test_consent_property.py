"""ACCEPTANCE (issue 6), through the consent API: for random consent histories of several
residents and organisations, every read path returns exactly the consented set, never more."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from access.secured import Platform, make_platform
from cityos.access.service import org_principal

RESIDENTS = 2
ORGS = ("Reader", "Reader2")
KINDS = {"location": "BeaconSighting", "health": "HealthCheckup"}
ACTIONS = ("request", "APPROVED", "DECLINED", "WITHDRAWN", "cancel")
_round = itertools.count()

step = st.tuples(st.integers(0, RESIDENTS - 1), st.sampled_from(ORGS),
                 st.sampled_from(sorted(KINDS)), st.sampled_from(ACTIONS))


def _setup(platform: Platform) -> dict[str, Any]:
    """Residents, two more reading organisations, and one entity per resident × category."""
    client = platform.client
    residents = []
    for n in range(RESIDENTS):
        r = client.post("/auth/residents", data={"login": f"prop{n}",
                                                 "password": "a-long-enough-password"})
        auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
        residents.append((client.get("/auth/v1/me", headers=auth).json()["id"], auth))
    orgs = {"Reader": platform.auth("Reader")}
    for name in ORGS[1:]:
        async def add(access: Any, name: str = name) -> str:
            org, _ = await access.book.add_org(name, "7000012050002", read=["*"])
            return await access.issue(org_principal(org))

        orgs[name] = {"Authorization": f"Bearer {platform.access(add)}"}
    entities = {}
    for n, (res, _) in enumerate(residents):
        for category, kind in KINDS.items():
            entity_id = f"urn:ngsi-ld:{kind}:p{n}"
            entities[entity_id] = (n, category)
            r = client.post("/ngsi-ld/v1/entities", headers=platform.auth("Writer"), json={
                "id": entity_id, "type": kind, "v": {"type": "Property", "value": n},
                "refResident": {"type": "Relationship",
                                "object": f"urn:ngsi-ld:Resident:{res}"}})
            assert r.status_code == 201, r.text
    return {"residents": residents, "orgs": orgs, "entities": entities}


@pytest.fixture
def unthrottled(prepared: tuple[Path, dict[str, Any]], tmp_path: Path) -> Iterator[Platform]:
    """The platform without the per-client rate limit: hypothesis reads faster than 50/s,
    and a 429 is not what this test is about."""
    yield from make_platform(prepared, tmp_path / "var", rate_per_second=0.0)


def test_every_read_path_returns_exactly_the_consented_set(unthrottled: Platform) -> None:
    platform = unthrottled
    world = _setup(platform)
    client = platform.client

    @settings(max_examples=20, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow])
    @given(st.lists(step, min_size=1, max_size=16))
    def check(history: list[tuple[int, str, str, str]]) -> None:
        purpose = f"Purpose{next(_round)}"  # a fresh purpose: earlier examples' consents differ
        open_ids: dict[tuple[int, str, str], str] = {}  # the newest consent of each key
        states: dict[tuple[int, str, str], str] = {}
        for n, org, category, action in history:
            key = (n, org, category)
            res, auth = world["residents"][n]
            if action == "request" or key not in open_ids:  # a decision needs a request
                r = client.post("/personal/v1/consents", headers=world["orgs"][org], json={
                    "resident": res, "category": category, "purpose": purpose})
                if states.get(key) in ("REQUESTED", "APPROVED"):
                    assert r.status_code == 409
                else:  # none yet, or the last one was declined or withdrawn: ask anew
                    assert r.status_code == 201, r.text
                    open_ids[key], states[key] = r.json()["id"], "REQUESTED"
            if action != "request":
                consent = open_ids[key]
                if action == "cancel":
                    r = client.delete(f"/personal/v1/consents/{consent}",
                                      headers=world["orgs"][org])
                else:
                    r = client.patch(f"/personal/v1/me/consents/{consent}", headers=auth,
                                     json={"state": action})
                if r.status_code == 200:
                    states[key] = r.json()["state"]
                else:
                    assert r.status_code == 409, r.text
        approved = {key for key, state in states.items() if state == "APPROVED"}
        for org, auth in world["orgs"].items():
            allowed = {eid for eid, (n, cat) in world["entities"].items()
                       if (n, org, cat) in approved}
            headers = {**auth, "Cityos-Purpose": purpose}
            query = client.get("/ngsi-ld/v1/entities", headers=headers,
                               params={"type": ",".join(KINDS.values()), "limit": 100})
            assert {e["id"] for e in query.json()} == allowed
            batch = client.post("/ngsi-ld/v1/entityOperations/query", headers=headers,
                                json={"type": "Query", "entities": [
                                    {"type": t} for t in KINDS.values()]})
            assert {e["id"] for e in batch.json()} == allowed
            for eid in world["entities"]:
                got = client.get(f"/ngsi-ld/v1/entities/{eid}", headers=headers).status_code
                assert got == (200 if eid in allowed else 404), (org, eid)
        # end every consent of this round, so the next round starts from nothing
        for (n, _, _), consent in open_ids.items():
            current = client.get("/personal/v1/me/consents",
                                 headers=world["residents"][n][1]).json()
            state = next(c["state"] for c in current if c["id"] == consent)
            if state == "APPROVED":
                client.patch(f"/personal/v1/me/consents/{consent}",
                             headers=world["residents"][n][1], json={"state": "WITHDRAWN"})

    check()
