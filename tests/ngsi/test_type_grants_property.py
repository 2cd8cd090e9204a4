"""Property (issue 18): for random read grants over random (multi-)typed entities, with
random @context aliases in the body and in a `Link` header, every read path — retrieve,
query, typeless query, batch query, join, temporal, NGSI v2 — gives an organisation exactly
the entities whose expanded types it may all read (and, for personal ones, whose subject
consented), never more.

In-process over HTTP against the deny-by-default platform; the grants are the account's
(changed between examples as `cityos org grant` would), consents go straight to the store.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from access.secured import Platform, make_platform, prepared  # noqa: F401 - fixtures
from cityos.access.service import Access, org_principal
from cityos.personal.datacatalog import CatalogEntry
from cityos.personal.service import personal_of

BASE = "/ngsi-ld/v1"
CORPORATE = "7000012050002"
DEFAULT = "https://uri.etsi.org/ngsi-ld/default-context/"
CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
TYPES = ("GtA", "GtB", "GtC", "GtHealth")  # GtHealth: personal (health) with a subject
LD = {"Content-Type": "application/ld+json"}
_examples = itertools.count()

grants = st.one_of(st.just(["*"]), st.lists(st.sampled_from(TYPES), unique=True, max_size=3))
entity_types = st.lists(st.sampled_from(TYPES), min_size=1, max_size=2, unique=True)
aliases = st.lists(st.sampled_from(TYPES), min_size=1, max_size=2, unique=True)


class World:
    """A writer granted every type, a reader whose grants each example sets, a resident."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

        async def make(access: Access) -> dict[str, str]:
            out = {}
            for name in ("GrantWriter", "GrantReader"):
                org, _ = await access.book.add_org(name, CORPORATE, read=["*"], write=["*"])
                principal = org_principal(org)
                platform.tokens[name] = await access.issue(principal)
                out[name] = principal.sub
            out["resident"] = (await access.residents.add_resident("grants@example.jp",
                                                                    tenant=""))["id"]
            return out

        self.subs = platform.access(make)
        app = platform.client.app
        self.call(personal_of(app).catalog.put, CatalogEntry("GtHealth", "personal", "health"))
        self.store = app.state.broker.store  # type: ignore[attr-defined]
        # one stored @context per type, aliasing the term `Alias` to it (for Link headers)
        self.links: dict[str, str] = {}
        for kind in TYPES:
            r = platform.client.post(f"{BASE}/jsonldContexts", headers=self.auth("GrantWriter"),
                                     json={"@context": {"Alias": DEFAULT + kind}})
            assert r.status_code == 201, r.text
            self.links[kind] = r.headers["location"]

    def auth(self, org: str, **headers: str) -> dict[str, str]:
        return {**self.platform.auth(org), **headers}

    def call(self, fn: Any, *args: Any) -> Any:
        assert self.platform.client.portal is not None
        return self.platform.client.portal.call(fn, *args)

    def grant_reads(self, names: list[str]) -> None:
        """The reader's read grants from now on (its write grants stay `*`)."""
        sub = self.subs["GrantReader"]

        async def change(access: Access) -> None:
            org = await access.book.get_org("GrantReader")
            org["grants"]["read"] = names
            await access.store.kv_put("access.orgs", "GrantReader", org)
            access.forget(sub)

        self.platform.access(change)


@pytest.fixture
def world(prepared: tuple[Path, dict[str, Any]], tmp_path: Path) -> Iterator[World]:  # noqa: F811
    for platform in make_platform(prepared, tmp_path / "var", rate_per_second=0):
        yield World(platform)


@settings(max_examples=20, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(read=grants, specs=st.lists(entity_types, min_size=1, max_size=5), consented=st.booleans(),
       alias=aliases)
def test_every_read_path_returns_exactly_the_granted_types(
        world: World, read: list[str], specs: list[list[str]], consented: bool,
        alias: list[str]) -> None:
    n = next(_examples)
    c = world.platform.client
    resident, reader_sub = world.subs["resident"], world.subs["GrantReader"]
    if consented:
        world.call(world.store.put_grant, "", resident, reader_sub, "health", "", None)
    else:
        world.call(world.store.drop_grant, "", resident, reader_sub, "health", "")
    world.grant_reads(read)
    written: dict[str, tuple[list[str], str]] = {}  # id -> (types, marker)
    for i, kinds in enumerate(specs):
        eid = f"urn:ngsi-ld:Gt:x{n}-{i}"
        body: dict[str, Any] = {"id": eid, "type": kinds,
                                "tag": {"type": "Property", "value": f"m-{n}-{i}"}}
        if "GtHealth" in kinds:
            body["refResident"] = {"type": "Relationship",
                                   "object": f"urn:ngsi-ld:Resident:{resident}"}
        r = c.post(f"{BASE}/entities", json=body, headers=world.auth("GrantWriter"))
        assert r.status_code == 201, r.text
        written[eid] = (kinds, f"m-{n}-{i}")
    # a link of a type the reader always may read, to every entity of this example
    world.grant_reads([*read, "GtLink"] if read != ["*"] else read)
    link = {"id": f"urn:ngsi-ld:GtLink:x{n}", "type": "GtLink",
            **{f"ref{i}": {"type": "Relationship", "object": eid}
               for i, eid in enumerate(written)}}
    assert c.post(f"{BASE}/entities", json=link, headers=world.auth("GrantWriter")
                  ).status_code == 201

    def readable(kinds: list[str]) -> bool:
        return (read == ["*"] or all(k in read for k in kinds)) and (
            "GtHealth" not in kinds or consented)

    want = {eid for eid, (kinds, _) in written.items() if readable(kinds)}
    who = world.auth("GrantReader")
    pattern = f"^urn:ngsi-ld:Gt:x{n}-.*"
    # retrieve, and temporal retrieve
    for eid in written:
        got = c.get(f"{BASE}/entities/{eid}", headers=who).status_code
        assert got == (200 if eid in want else 404), ("retrieve", eid, read)
        got = c.get(f"{BASE}/temporal/entities/{eid}", headers=who).status_code
        assert got == (200 if eid in want else 404), ("temporal retrieve", eid, read)

    def ids(response: Any) -> set[str]:
        assert response.status_code == 200, response.text
        return {e["id"] for e in response.json()}

    query = c.get(f"{BASE}/entities", headers=who,
                  params={"type": ",".join(TYPES), "idPattern": pattern, "limit": 100,
                          "count": "true"})
    assert ids(query) == want, ("query", read)
    assert query.headers["NGSILD-Results-Count"] == str(len(want)), ("count", read)
    page = c.get(f"{BASE}/entities", headers=who, params={"idPattern": pattern, "limit": 2})
    assert ids(page) <= want and len(ids(page)) == min(2, len(want)), ("typeless page", read)
    typeless = c.get(f"{BASE}/entities", headers=who, params={"idPattern": pattern, "limit": 100})
    assert ids(typeless) == want, ("typeless query", read)
    # @context aliases: `Alias` in the body stands for one type, in a Link header for another
    aliased = {eid for eid in want if alias[0] in written[eid][0]}
    batch = c.post(f"{BASE}/entityOperations/query", headers={**who, **LD}, json={
        "type": "Query", "entities": [{"type": "Alias", "idPattern": pattern}],
        "@context": [{"Alias": DEFAULT + alias[0]}, CORE]})
    assert ids(batch) == aliased, ("batch query, aliased in the body", read, alias)
    linked = {eid for eid in want if alias[-1] in written[eid][0]}
    header = {"Link": f'<{world.links[alias[-1]]}>; rel="http://www.w3.org/ns/json-ld#context"'}
    by_link = c.get(f"{BASE}/entities", headers={**who, **header},
                    params={"type": "Alias", "idPattern": pattern})
    assert ids(by_link) == linked, ("query, aliased in a Link header", read, alias)
    # join: the linked entities it may read, and nothing of the others
    for join in ("inline", "flat"):
        joined = c.get(f"{BASE}/entities/{link['id']}", headers=who, params={"join": join})
        assert joined.status_code == 200, joined.text
        markers = set(re.findall(rf"m-{n}-\d+", joined.text))
        assert markers == {written[e][1] for e in want}, ("join", join, read)
    temporal = c.get(f"{BASE}/temporal/entities", headers=who,
                     params={"type": ",".join(TYPES), "idPattern": pattern})
    assert ids(temporal) == want, ("temporal query", read)
    v2 = c.get("/v2/entities", headers=who, params={"idPattern": f"x{n}-", "limit": 100})
    assert ids(v2) == want, ("v2 list", read)
    v2q = c.post("/v2/op/query", headers=who, json={"entities": [{"idPattern": f"x{n}-"}]})
    assert ids(v2q) == want, ("v2 op/query", read)


def test_a_revoked_read_grant_stops_the_next_notification(world: World) -> None:
    """Notifications read through the subscriber's grants as they are now (the account as the
    gate sees it, re-read within two seconds), not as they were when it subscribed."""
    from ngsi.notify.conftest import Receiver

    receiver = Receiver()
    try:
        c = world.platform.client
        world.grant_reads(["GtA", "GtB"])
        sub = {"type": "Subscription", "entities": [{"type": "GtA"}, {"type": "GtB"}],
               "notification": {"endpoint": {"uri": receiver.url}}}
        r = c.post(f"{BASE}/subscriptions", json=sub, headers=world.auth("GrantReader"))
        assert r.status_code == 201, r.text

        def write(name: str, kind: str) -> str:
            eid = f"urn:ngsi-ld:{kind}:revoke-{name}"
            made = c.post(f"{BASE}/entities", headers=world.auth("GrantWriter"),
                          json={"id": eid, "type": kind, "v": {"type": "Property", "value": 1}})
            assert made.status_code == 201, made.text
            return eid

        def notified() -> set[str]:
            return {e["id"] for e in receiver.entities()}

        a1, b1 = write("1", "GtA"), write("1", "GtB")
        assert receiver.wait_for(lambda: {a1, b1} <= notified())
        # GtB is revoked as `cityos org grant --revoke` does it: in the account, no signal
        org = world.platform.access(lambda a: a.book.grant("GrantReader", read=["GtB"],
                                                           revoke=True))
        assert org["grants"]["read"] == ["GtA"]
        time.sleep(2.2)  # the account cache's two seconds
        b2, a2 = write("2", "GtB"), write("2", "GtA")
        assert receiver.wait_for(lambda: a2 in notified())
        time.sleep(0.5)
        assert b2 not in notified()
        # and one may no longer subscribe to it
        assert c.post(f"{BASE}/subscriptions", json=sub,
                      headers=world.auth("GrantReader")).status_code == 403
    finally:
        receiver.down()
