"""Property (issue 6): for random residents, organisations, consent histories (grants put,
dropped, expired) and entities, every read path — retrieve, query, batch query, temporal
query and retrieval, notification — gives an organisation exactly the released set, never more.

Over HTTP against the deny-by-default platform; grants go straight to the store (what an
APPROVED consent becomes), entities through NGSI-LD as their writer.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from access.secured import Platform, make_platform, prepared  # noqa: F401 - fixtures
from cityos.access.service import Access
from cityos.personal.datacatalog import CatalogEntry
from cityos.personal.service import personal_of
from ngsi.notify.conftest import Receiver
from ngsi.test_consent_enforcement import add_org

BASE = "/ngsi-ld/v1"
ORGS = ("PropOrgA", "PropOrgB", "PropOrgC")
RESIDENTS = 3
CATEGORY = {"PropHealth": "health", "PropPlace": "location", "PropPublic": None}
PURPOSES = {"ServiceProvision": "dpv:ServiceProvision", "Marketing": "dpv:Marketing"}
_examples = itertools.count()

grant_ops = st.lists(st.tuples(
    st.sampled_from(["put", "drop", "expired"]), st.integers(0, RESIDENTS - 1),
    st.integers(0, len(ORGS) - 1), st.sampled_from(["health", "location"]),
    st.sampled_from(sorted(PURPOSES.values()))), max_size=14)
entity_specs = st.lists(st.tuples(
    st.sampled_from(sorted(CATEGORY)), st.one_of(st.none(), st.integers(0, RESIDENTS - 1)),
    st.integers(0, len(ORGS) - 1)), min_size=1, max_size=7)


class World:
    """The platform with the organisations, residents and receivers every example shares."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.subs = [add_org(platform, name) for name in ORGS]

        async def residents(access: Access) -> list[str]:
            return [(await access.residents.add_resident(f"prop{i}@example.jp", tenant=""))["id"]
                    for i in range(RESIDENTS)]

        self.residents = platform.access(residents)
        app = platform.client.app
        catalog = personal_of(app).catalog
        for name, category in CATEGORY.items():
            entry = (CatalogEntry(name, "personal", category) if category else
                     CatalogEntry(name, "non-personal", ""))
            self.call(catalog.put, entry)
        self.store = app.state.broker.store  # type: ignore[attr-defined]
        self.receivers = [Receiver() for _ in ORGS]

    def call(self, fn: Any, *args: Any) -> Any:
        assert self.platform.client.portal is not None
        return self.platform.client.portal.call(fn, *args)

    def close(self) -> None:
        for r in self.receivers:
            r.down()


@pytest.fixture
def world(prepared: tuple[Path, dict[str, Any]], tmp_path: Path) -> Iterator[World]:  # noqa: F811
    # many requests a second from one client: no rate limit here
    for platform in make_platform(prepared, tmp_path / "var", rate_per_second=0):
        w = World(platform)
        yield w
        w.close()


def entity(kind: str, eid: str, subject: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": eid, "type": kind, "v": {"type": "Property", "value": 1}}
    if subject is not None and CATEGORY[kind]:
        out["refResident"] = {"type": "Relationship", "object": f"urn:ngsi-ld:Resident:{subject}"}
    return out


@settings(max_examples=25, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=grant_ops, specs=entity_specs)
def test_every_read_path_returns_exactly_the_released_set(
        world: World, ops: list[tuple[str, int, int, str, str]],
        specs: list[tuple[str, int | None, int]]) -> None:
    n = next(_examples)
    c, store, tenant = world.platform.client, world.store, ""
    # the consent history, from a clean slate; the model: key -> released or not
    for res, org, category, purpose in itertools.product(
            world.residents, world.subs, ("health", "location"), PURPOSES.values()):
        world.call(store.drop_grant, tenant, res, org, category, purpose)
    granted: dict[tuple[str, str, str, str], bool] = {}
    for op, res, org, category, purpose in ops:
        key = (world.residents[res], world.subs[org], category, purpose)
        if op == "drop":
            world.call(store.drop_grant, tenant, *key)
            granted.pop(key, None)
        else:
            until = None if op == "put" else time.time() - 60
            world.call(store.put_grant, tenant, *key, until)
            granted[key] = op == "put"
    # every organisation subscribes to what this example writes
    prefix = f"urn:ngsi-ld:%s:x{n}-"
    made_subs = []
    for org, receiver in zip(ORGS, world.receivers, strict=True):
        sub = {"type": "Subscription", "notification": {"endpoint": {"uri": receiver.url}},
               "entities": [{"type": t, "idPattern": f"^{prefix % t}.*"}
                            for t in (*CATEGORY, "PropMarker")]}
        r = c.post(f"{BASE}/subscriptions", json=sub, headers=world.platform.auth(org))
        assert r.status_code == 201, r.text
        made_subs.append((org, r.headers["location"]))
    written: list[tuple[str, str, str | None, str]] = []  # id, kind, subject, writer sub
    for i, (kind, res, writer) in enumerate(specs):
        eid = f"{prefix % kind}{i}"
        subject = None if res is None else world.residents[res]
        r = c.post(f"{BASE}/entities", json=entity(kind, eid, subject),
                   headers=world.platform.auth(ORGS[writer]))
        assert r.status_code == 201, r.text
        written.append((eid, kind, subject, world.subs[writer]))
    marker = f"{prefix % 'PropMarker'}end"
    r = c.post(f"{BASE}/entities", json={"id": marker, "type": "PropMarker",
                                                  "v": {"type": "Property", "value": n}},
               headers=world.platform.auth(ORGS[0]))
    assert r.status_code == 201, r.text

    def released(org_sub: str, purpose: str | None) -> set[str]:
        out = set()
        for eid, kind, subject, owner in written:
            category = CATEGORY[kind]
            consented = subject is not None and any(
                ok and key[:3] == (subject, org_sub, category)
                and (purpose is None or key[3] == purpose) for key, ok in granted.items())
            if category is None or owner == org_sub or consented:
                out.add(eid)
        return out

    types = ",".join(CATEGORY)
    pattern = f"^urn:ngsi-ld:Prop[A-Za-z]+:x{n}-.*"
    for org, org_sub in zip(ORGS, world.subs, strict=True):
        for declared in (None, *PURPOSES):
            headers = world.platform.auth(org)
            if declared is not None:
                headers = {**headers, "Cityos-Purpose": declared}
            want = released(org_sub, None if declared is None else PURPOSES[declared])
            query = c.get(f"{BASE}/entities", headers=headers,
                          params={"type": types, "idPattern": pattern, "limit": 100})
            assert query.status_code == 200, query.text
            assert {e["id"] for e in query.json()} == want, ("query", org, declared)
            batch = c.post(f"{BASE}/entityOperations/query", headers=headers, json={
                "type": "Query", "entities": [{"type": t, "idPattern": pattern}
                                              for t in CATEGORY]})
            assert {e["id"] for e in batch.json()} == want, ("batch", org, declared)
            temporal = c.get(f"{BASE}/temporal/entities", headers=headers,
                             params={"type": types, "idPattern": pattern})
            assert temporal.status_code == 200, temporal.text
            assert {e["id"] for e in temporal.json()} == want, ("temporal", org, declared)
            for eid, *_ in written:
                got = c.get(f"{BASE}/entities/{eid}", headers=headers).status_code
                assert got == (200 if eid in want else 404), ("retrieve", org, declared, eid)
                got = c.get(f"{BASE}/temporal/entities/{eid}", headers=headers).status_code
                assert got == (200 if eid in want else 404), ("temporal", org, declared, eid)
    # notifications: once this example's marker came, everything before it was decided
    for org_sub, receiver in zip(world.subs, world.receivers, strict=True):
        assert receiver.wait_for(lambda r=receiver: marker in {e["id"] for e in r.entities()})
        notified = {e["id"] for e in receiver.entities() if f":x{n}-" in e["id"]} - {marker}
        assert notified == released(org_sub, None), ("notification", org_sub)
    for org, location in made_subs:
        assert c.delete(location, headers=world.platform.auth(org)).status_code == 204
