"""Personal rows in the store (issue 6): the reader filter on every read, sealed bodies, erasure.

Against a real SQLite file, with personal/'s real vault as the sealer.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from cityos.personal.vault import Vault
from cityos.storage import DELETE, open_store
from cityos.storage.base import (
    EVERYTHING,
    AttrFilter,
    Entity,
    EntityQuery,
    Reader,
    Store,
    TemporalQuery,
)

TEN = "town"
PERSON = "https://example.org/HealthRecord"  # personal, category "health"
SENSOR = "https://example.org/Sensor"  # not personal
SUBJECT = "https://example.org/subject"
PULSE = "https://example.org/pulse"
WHERE = "https://example.org/location"
SECRET = "plaintext-diagnosis-7c1f"  # must never be found in the raw files once sealed


class TypeClassifier:
    """The catalog's rule in one line: personal by type, subject from one attribute."""

    def classify(self, tenant: str, entity: Entity) -> tuple[str, str] | None:
        if PERSON not in entity["type"]:
            return None
        inst = entity.get("attrs", {}).get(SUBJECT, [{}])[0]
        return str(inst.get("value", "")).removeprefix("urn:ngsi-ld:Resident:"), "health"


def record(num: int, resident: str, pulse: float = 60, note: str = SECRET) -> Entity:
    stamp = f"2026-01-01T00:00:{num % 60:02d}Z"
    return {"id": f"urn:x:rec:{num}", "type": [PERSON], "createdAt": stamp, "modifiedAt": stamp,
            "attrs": {
                SUBJECT: [{"type": "Property", "value": f"urn:ngsi-ld:Resident:{resident}",
                           "modifiedAt": stamp}],
                PULSE: [{"type": "Property", "value": pulse, "modifiedAt": stamp}],
                "https://example.org/note": [{"type": "Property", "value": note,
                                              "modifiedAt": stamp}],
                WHERE: [{"type": "GeoProperty", "value": {"type": "Point",
                                                          "coordinates": [135.45, 34.9]},
                         "modifiedAt": stamp}]}}


def sensor(num: int) -> Entity:
    stamp = "2026-01-01T00:00:00Z"
    return {"id": f"urn:x:s:{num}", "type": [SENSOR], "createdAt": stamp, "modifiedAt": stamp,
            "attrs": {PULSE: [{"type": "Property", "value": num, "modifiedAt": stamp}],
                      WHERE: [{"type": "GeoProperty", "value": {"type": "Point",
                                                                "coordinates": [135.45, 34.9]},
                               "modifiedAt": stamp}]}}


def run(tmp_path: Path, scenario: Callable[[Store, Vault], Awaitable[None]],
        seal: bool = True) -> None:
    async def main() -> None:
        store = open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
        await store.open()
        vault = Vault.at(tmp_path)
        store.set_classifier(TypeClassifier())
        if seal:
            store.set_sealer(vault)
        try:
            await scenario(store, vault)
        finally:
            await store.close()
            vault.close()

    asyncio.run(main())


async def put(store: Store, entities: list[Entity], writer: str = "org:a") -> None:
    await store.mutate(TEN, [(e["id"], lambda cur, e=e: (e, None)) for e in entities],
                       writer=writer)


async def ids(store: Store, reader: Reader | None, **query: Any) -> set[str]:
    found = await store.query_entities(TEN, EntityQuery(reader=reader, limit=1000, **query))
    return {e["id"] for e in found.entities}


def test_without_a_classifier_nothing_is_personal(tmp_path: Path) -> None:
    async def scenario(store: Store, vault: Vault) -> None:
        store.set_classifier(None)
        await put(store, [record(1, "res_a")])
        assert await ids(store, None) == {"urn:x:rec:1"}
        assert await store.get_entity(TEN, "urn:x:rec:1") is not None

    run(tmp_path, scenario, seal=False)


def test_a_personal_row_goes_to_its_owner_subject_and_grantees_only(tmp_path: Path) -> None:
    async def scenario(store: Store, vault: Vault) -> None:
        await put(store, [record(1, "res_a"), record(2, "res_b"), sensor(1)])
        everyone = {"urn:x:rec:1", "urn:x:rec:2", "urn:x:s:1"}
        assert await ids(store, None) == {"urn:x:s:1"}  # deny by default
        assert await ids(store, Reader()) == {"urn:x:s:1"}
        assert await ids(store, EVERYTHING) == everyone
        assert await ids(store, Reader(org="org:a")) == everyone  # the writer owns them
        assert await ids(store, Reader(org="org:b")) == {"urn:x:s:1"}
        assert await ids(store, Reader(residents=("res_a",))) == {"urn:x:rec:1", "urn:x:s:1"}
        assert await ids(store, Reader(residents=("res_a",), categories=("location",))) == {
            "urn:x:s:1"}
        assert await store.get_entity(TEN, "urn:x:rec:1") is None
        assert await store.get_entity(TEN, "urn:x:rec:1", Reader(org="org:b")) is None
        got = await store.get_entity(TEN, "urn:x:rec:1", Reader(residents=("res_a",)))
        assert got is not None and got["attrs"]["https://example.org/note"][0]["value"] == SECRET

        await store.put_grant(TEN, "res_a", "org:b", "health", "care", None)
        b = Reader(org="org:b")
        assert await ids(store, b) == {"urn:x:rec:1", "urn:x:s:1"}
        assert await store.get_entity(TEN, "urn:x:rec:1", b) is not None
        assert await ids(store, Reader(org="org:b", purpose="care")) == {"urn:x:rec:1", "urn:x:s:1"}
        assert await ids(store, Reader(org="org:b", purpose="ads")) == {"urn:x:s:1"}
        assert await ids(store, Reader(org="org:c")) == {"urn:x:s:1"}

        await store.drop_grant(TEN, "res_a", "org:b", "health", "care")
        assert await ids(store, b) == {"urn:x:s:1"}  # the very next read
        assert await store.get_entity(TEN, "urn:x:rec:1", b) is None

        await store.put_grant(TEN, "res_b", "org:b", "health", "care", time.time() - 1)
        assert await ids(store, b) == {"urn:x:s:1"}  # expired
        await store.put_grant(TEN, "res_b", "org:b", "health", "care", time.time() + 3600)
        assert await ids(store, b) == {"urn:x:rec:2", "urn:x:s:1"}
        await store.put_grant(TEN, "res_b", "org:b", "location", "care", None)
        assert await ids(store, b, types=[PERSON]) == {"urn:x:rec:2"}

    run(tmp_path, scenario)


def test_counts_filters_and_geo_see_exactly_the_released_rows(tmp_path: Path) -> None:
    async def scenario(store: Store, vault: Vault) -> None:
        await put(store, [record(n, f"res_{n % 3}", pulse=50 + n) for n in range(12)]
                  + [sensor(n) for n in range(3)])
        await store.put_grant(TEN, "res_1", "org:b", "health", "care", None)
        b = Reader(org="org:b")
        granted = {f"urn:x:rec:{n}" for n in range(12) if n % 3 == 1}
        found = await store.query_entities(TEN, EntityQuery(types=[PERSON], reader=b, count=True,
                                                            limit=2))
        assert found.count == len(granted) and len(found.entities) == 2
        assert await ids(store, b, types=[PERSON, SENSOR]) == granted | {
            "urn:x:s:0", "urn:x:s:1", "urn:x:s:2"}
        # sealed bodies: the JSON prefilter must pass them on to the exact predicate
        high = {f"urn:x:rec:{n}" for n in range(12) if n % 3 == 1 and 50 + n > 55}

        def over(e: Entity) -> bool:
            return any(i.get("value", 0) > 55 for i in e["attrs"].get(PULSE, ()))

        assert await ids(store, b, types=[PERSON], predicate=over,
                         attr_filters=[AttrFilter(PULSE, ">", 55)]) == high
        assert await ids(store, b, predicate=over, attr_filters=[AttrFilter(PULSE, ">", 55)],
                         attrs_any=[PULSE]) == high
        # personal rows stay out of the geo index, and still answer a geo query
        assert await ids(store, b, geo_bbox=(135.0, 34.0, 136.0, 35.0), geo_attr=WHERE) == (
            granted | {"urn:x:s:0", "urn:x:s:1", "urn:x:s:2"})
        assert await ids(store, None, geo_bbox=(135.0, 34.0, 136.0, 35.0)) == {
            "urn:x:s:0", "urn:x:s:1", "urn:x:s:2"}
        assert await ids(store, b, ids=["urn:x:rec:1", "urn:x:rec:2"]) == {"urn:x:rec:1"}
        assert await ids(store, b, id_pattern="urn:x:rec:1.*") == {"urn:x:rec:1", "urn:x:rec:10"}

    run(tmp_path, scenario)


def test_history_and_change_rows_follow_the_entity(tmp_path: Path) -> None:
    async def scenario(store: Store, vault: Vault) -> None:
        cursor = await store.start_delivery(TEN, "sub")
        await put(store, [record(1, "res_a"), sensor(1)])
        await put(store, [record(1, "res_a", pulse=70)])
        q = TemporalQuery(entity_ids=["urn:x:rec:1", "urn:x:s:1"], attrs=[PULSE])
        page = await store.temporal_query(TEN, q)
        assert set(page.history) == {"urn:x:s:1"}
        page = await store.temporal_query(TEN, TemporalQuery(
            entity_ids=["urn:x:rec:1"], attrs=[PULSE], reader=Reader(residents=("res_a",))))
        assert [i["value"] for i in page.history["urn:x:rec:1"][PULSE]] == [60, 70]
        changes = await store.changes_after(TEN, cursor)
        assert changes[-1].prev[PULSE][0]["value"] == 60  # opened for the notifier
        await store.mutate(TEN, [("urn:x:rec:1", lambda cur: (DELETE, None))])
        # deleted, its history and change rows are still personal
        assert await store.withheld(TEN, ["urn:x:rec:1", "urn:x:s:1"], None) == {"urn:x:rec:1"}
        assert await store.withheld(TEN, ["urn:x:rec:1"], Reader(org="org:a")) == set()
        agg = await store.temporal_query(TEN, TemporalQuery(entity_ids=["urn:x:rec:1"]))
        assert agg.history == {}

    run(tmp_path, scenario)


def test_sealed_at_rest_and_unreadable_everywhere_after_erasure(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"

    def raw() -> bytes:
        return b"".join(p.read_bytes() for p in tmp_path.glob("db.sqlite*"))

    async def scenario(store: Store, vault: Vault) -> None:
        await put(store, [record(1, "res_a"), record(2, "res_b", note="other-resident-note")])
        await put(store, [record(1, "res_a", pulse=99, note=SECRET + "-v2")])
        assert await store.get_entity(TEN, "urn:x:rec:1", EVERYTHING) is not None
        shutil.copytree(tmp_path, tmp_path.parent / "backup", dirs_exist_ok=True)
        assert SECRET.encode() not in raw()  # entities, history and change rows are sealed
        assert await store.erase_subject(TEN, "res_a") == 1
        assert vault.erase(TEN, "res_a")
        assert await store.get_entity(TEN, "urn:x:rec:1", EVERYTHING) is None
        assert await ids(store, EVERYTHING) == {"urn:x:rec:2"}
        page = await store.temporal_query(TEN, TemporalQuery(entity_ids=["urn:x:rec:1"],
                                                             reader=EVERYTHING))
        assert page.history == {}

    run(tmp_path, scenario)
    assert SECRET.encode() not in raw()
    backup = tmp_path.parent / "backup"
    assert SECRET.encode() not in b"".join(p.read_bytes() for p in backup.glob("db.sqlite*"))

    async def from_backup() -> None:  # the backup's rows are sealed under the erased key
        old = tmp_path.parent / "restored"
        shutil.copytree(backup, old)
        shutil.rmtree(old / "personal")
        shutil.copytree(tmp_path / "personal", old / "personal")  # today's keys
        store = open_store(f"sqlite:///{old / 'db.sqlite'}")
        await store.open()
        vault = Vault.at(old)
        store.set_sealer(vault)
        try:
            assert await store.get_entity(TEN, "urn:x:rec:1", EVERYTHING) is None
            assert await store.get_entity(TEN, "urn:x:rec:2", EVERYTHING) is not None
        finally:
            await store.close()
            vault.close()

    asyncio.run(from_backup())
    assert db.exists()


def test_a_first_query_with_a_json_prefilter_over_many_sealed_rows(tmp_path: Path) -> None:
    async def scenario(store: Store, vault: Vault) -> None:
        await put(store, [record(n, "res_a", pulse=n) for n in range(600)])

        def over(e: Entity) -> bool:
            return any(i.get("value", 0) > 590 for i in e["attrs"].get(PULSE, ()))

        # no query ran before: the engine does not know yet that these rows are personal
        found = await ids(store, Reader(residents=("res_a",)), predicate=over,
                          attr_filters=[AttrFilter(PULSE, ">", 590)])
        assert found == {f"urn:x:rec:{n}" for n in range(591, 600)}
        assert await ids(store, None, predicate=over,
                         attr_filters=[AttrFilter(PULSE, ">", 590)]) == set()

    run(tmp_path, scenario)


@pytest.mark.parametrize("seal", [True, False])
def test_becoming_personal_and_back_keeps_the_indexes_right(tmp_path: Path, seal: bool) -> None:
    async def scenario(store: Store, vault: Vault) -> None:
        await put(store, [sensor(1)])
        turned = record(1, "res_a")
        turned["id"] = "urn:x:s:1"
        await put(store, [turned])
        box = (135.0, 34.0, 136.0, 35.0)
        assert await ids(store, None, geo_bbox=box) == set()
        assert await ids(store, Reader(org="org:a"), geo_bbox=box) == {"urn:x:s:1"}
        await put(store, [sensor(1)])
        assert await ids(store, None, geo_bbox=box) == {"urn:x:s:1"}
        assert await ids(store, None, types=[PERSON]) == set()

    run(tmp_path, scenario, seal=seal)


def test_reclassify_after_the_catalog_changed(tmp_path: Path) -> None:
    async def scenario(store: Store, vault: Vault) -> None:
        store.set_classifier(None)  # the catalog does not know the type yet
        await put(store, [record(1, "res_a"), sensor(1)])
        await put(store, [record(1, "res_a", pulse=61)])
        assert await ids(store, None) == {"urn:x:rec:1", "urn:x:s:1"}
        store.set_classifier(TypeClassifier())  # now it does
        assert await store.reclassify() == 1
        assert await store.reclassify() == 0
        assert await ids(store, None) == {"urn:x:s:1"}
        assert await ids(store, None, geo_bbox=(135.0, 34.0, 136.0, 35.0)) == {"urn:x:s:1"}
        assert await ids(store, Reader(org="org:a")) == {"urn:x:rec:1", "urn:x:s:1"}  # owner
        page = await store.temporal_query(TEN, TemporalQuery(
            entity_ids=["urn:x:rec:1"], attrs=[PULSE], reader=Reader(residents=("res_a",))))
        assert [i["value"] for i in page.history["urn:x:rec:1"][PULSE]] == [60, 61]
        assert await store.temporal_query(TEN, TemporalQuery(entity_ids=["urn:x:rec:1"])) \
            == await store.temporal_query(TEN, TemporalQuery(entity_ids=[]))
        store.set_classifier(None)
        store.set_classifier(type("Nothing", (), {"classify": lambda self, t, e: None})())
        assert await store.reclassify() == 1  # no longer personal: opened, indexed
        assert await ids(store, None, geo_bbox=(135.0, 34.0, 136.0, 35.0)) == {
            "urn:x:rec:1", "urn:x:s:1"}
        page = await store.temporal_query(TEN, TemporalQuery(entity_ids=["urn:x:rec:1"],
                                                             attrs=[PULSE]))
        assert [i["value"] for i in page.history["urn:x:rec:1"][PULSE]] == [60, 61]

    run(tmp_path, scenario)
