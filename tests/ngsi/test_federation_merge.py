"""Merging one entity held by several brokers (cityos.ngsi.federation.merge)."""

from __future__ import annotations

from cityos.ngsi.federation import INSTANCE, merge, merged, seen_by_us
from cityos.ngsi.model.registration import APPROVED_KEY, OWNER_KEY

A = "https://example.org/a"


def entity(value: int, observed: str, *types: str, dataset: str | None = None) -> dict:
    inst = {"type": "Property", "value": value, "observedAt": observed}
    if dataset:
        inst["datasetId"] = dataset
    return {"id": "urn:x:1", "type": list(types or ("T",)), "attrs": {A: [inst]}}


def test_newer_instance_wins_and_types_join() -> None:
    local = entity(1, "2026-01-01T00:00:00Z", "T")
    remote = entity(2, "2026-02-01T00:00:00Z", "U")
    out = merge(local, remote, local_wins=False)
    assert out["attrs"][A][0]["value"] == 2 and out["type"] == ["T", "U"]
    assert merge(remote, local, local_wins=False)["attrs"][A][0]["value"] == 2
    assert merge(local, remote, local_wins=True)["attrs"][A][0]["value"] == 1  # auxiliary


def test_other_datasets_are_added_and_order_is_local_first() -> None:
    local = entity(1, "2026-01-01T00:00:00Z")
    remote = entity(2, "2025-01-01T00:00:00Z", dataset="urn:ds:2")
    assert [i["value"] for i in merge(local, remote, local_wins=False)["attrs"][A]] == [1, 2]
    other = {**entity(3, "2026-01-01T00:00:00Z"), "id": "urn:x:2"}
    out = merged([local], [({"mode": "inclusive"}, other), ({}, remote)])
    assert [e["id"] for e in out] == ["urn:x:1", "urn:x:2"]


def test_via_names_this_broker() -> None:
    assert seen_by_us(f"1.1 other, 1.1 {INSTANCE}") and not seen_by_us("1.1 other")
    assert not seen_by_us(None)


def test_only_the_towns_registrations_replace_local_data() -> None:
    """Issue #18: a company's source answering with a later observedAt does not replace what is
    held here; the town's (staff-made or approved) does; neither does an auxiliary one."""
    local = entity(1, "2026-01-01T00:00:00Z")
    remote = entity(2, "2026-06-01T00:00:00Z")
    company = {OWNER_KEY: "org:c"}
    values = {
        "company": merged([local], [(company, remote)]),
        "staff": merged([local], [({OWNER_KEY: "staff:admin"}, remote)]),
        "approved": merged([local], [({**company, APPROVED_KEY: {"by": "staff:admin"}},
                                      remote)]),
        "auxiliary": merged([local], [({OWNER_KEY: "staff:admin", "mode": "auxiliary"},
                                       remote)]),
        "open": merged([local], [({OWNER_KEY: ""}, remote)]),
    }
    assert {k: v[0]["attrs"][A][0]["value"] for k, v in values.items()} == {
        "company": 1, "staff": 2, "approved": 2, "auxiliary": 1, "open": 2}


def test_a_companys_source_still_adds_what_is_not_held_here() -> None:
    local = entity(1, "2026-01-01T00:00:00Z")
    remote = entity(2, "2026-06-01T00:00:00Z", dataset="urn:ds:2")
    out = merged([local], [({OWNER_KEY: "org:c"}, remote)])
    assert [i["value"] for i in out[0]["attrs"][A]] == [1, 2]
