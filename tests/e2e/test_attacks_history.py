"""Temporal history is released only under the types it was written under (0012), on a real
`cityos serve` over HTTP (`attack_town.py`: A reads Alpha and writes every type; B reads and
writes Beta; C reads Gamma and writes every type).

History written under a type set T_old is released with the entity's current types T_new only
when T_old ⊆ T_new: replacing the types (PUT, a replacing upsert) or creating an id again over
the history a deleted entity left cuts the earlier history off from the temporal API.
"""

from __future__ import annotations

from typing import Any

import attack_town
from attack_town import V1, Town, entity

attack_template, town = attack_town.attack_template, attack_town.town
TEMPORAL = f"{V1}/temporal/entities"
EVER = "timerel=after&timeAt=2000-01-01T00:00:00Z"


def _made(town: Town, who: str, body: dict[str, Any]) -> None:
    r = town.post(who, f"{V1}/entities", json=body)
    assert r.status_code == 201, r.text


def _patched(town: Town, who: str, entity_id: str, body: dict[str, Any]) -> None:
    r = town.patch(who, f"{V1}/entities/{entity_id}", json=body)
    assert r.status_code == 204, r.text


def _no_secret(town: Town, who: str, entity_id: str, type_: str, secret: str) -> None:
    """Every temporal read path `who` has leaves `secret` out."""
    r = town.get(who, f"{TEMPORAL}/{entity_id}")
    assert r.status_code in (200, 404), r.text
    assert secret not in r.text, "the temporal retrieval released history of another type"
    for query in (f"type={type_}&attrs=secretAttr&{EVER}", f"type={type_}&{EVER}",
                  f"type={type_}&{EVER}&lastN=5", f"id={entity_id}&type={type_}&{EVER}"):
        r = town.get(who, f"{TEMPORAL}?{query}")
        assert r.status_code == 200, r.text
        assert secret not in r.text, f"the temporal query {query} released it"
    r = town.post(who, f"{V1}/temporal/entityOperations/query", json={
        "type": "Query", "entities": [{"id": entity_id, "type": type_}],
        "temporalQ": {"timerel": "after", "timeAt": "2000-01-01T00:00:00Z"}})
    assert r.status_code == 200 and secret not in r.text, r.text
    r = town.get(who, f"{TEMPORAL}/{entity_id}?options=aggregatedValues"
                      "&aggrMethods=totalCount,distinctCount")
    assert r.status_code in (200, 404), r.text
    assert "secretAttr" not in r.text, "the aggregation counted history of another type"


def test_replacing_the_type_by_put_does_not_release_the_history(town: Town) -> None:
    beta = entity("Beta", "f1-retype", secretAttr="B's secret 1")
    _made(town, "B", beta)
    _patched(town, "B", beta["id"], {"secretAttr": {"type": "Property", "value": "B's secret 2"}})
    assert town.get("C", f"{TEMPORAL}/{beta['id']}").status_code == 404
    r = town.request("PUT", "C", f"{V1}/entities/{beta['id']}", json={
        "type": "Gamma", "note": {"type": "Property", "value": "C's"}})
    assert r.status_code == 204, r.text
    _no_secret(town, "C", beta["id"], "Gamma", "B's secret")
    r = town.get("C", f"{TEMPORAL}/{beta['id']}")  # what C wrote itself is there
    assert r.status_code == 200 and "C's" in r.text, r.text


def test_replacing_the_type_by_a_replacing_upsert_does_not_release_the_history(
        town: Town) -> None:
    beta = entity("Beta", "f1-upsert", secretAttr="B's upsert secret")
    _made(town, "B", beta)
    r = town.post("C", f"{V1}/entityOperations/upsert?options=replace",
                  json=[{"id": beta["id"], "type": "Gamma"}])
    assert r.status_code in (201, 204), r.text
    _no_secret(town, "C", beta["id"], "Gamma", "B's upsert secret")


def test_an_id_created_again_does_not_inherit_the_deleted_entitys_history(town: Town) -> None:
    alpha = entity("Alpha", "f1-reuse", secretAttr="A's secret")
    _made(town, "A", alpha)
    _patched(town, "A", alpha["id"], {"secretAttr": {"type": "Property", "value": "A's later"}})
    assert town.delete("A", f"{V1}/entities/{alpha['id']}").status_code == 204
    _made(town, "B", {"id": alpha["id"], "type": "Beta"})
    _no_secret(town, "B", alpha["id"], "Beta", "A's")


def test_a_type_added_and_ordinary_patches_keep_the_history(town: Town) -> None:
    own = entity("Beta", "f1-own", level=1)
    _made(town, "B", own)
    _patched(town, "B", own["id"], {"level": {"type": "Property", "value": 2}})
    _patched(town, "B", own["id"], {"level": {"type": "Property", "value": 3}})
    r = town.get("B", f"{TEMPORAL}/{own['id']}?format=temporalValues")
    assert r.status_code == 200, r.text
    assert sorted(v[0] for v in r.json()["level"]["values"]) == [1, 2, 3]

    multi = entity("Alpha", "f1-multi", level=1)
    _made(town, "A", multi)
    _patched(town, "A", multi["id"], {"level": {"type": "Property", "value": 2}})
    _patched(town, "A", multi["id"], {"type": "Gamma"})  # a type added (merge)
    r = town.get("admin", f"{TEMPORAL}/{multi['id']}?format=temporalValues")
    assert r.status_code == 200, r.text
    assert sorted(r.json()["type"]) == ["Alpha", "Gamma"]
    assert sorted(v[0] for v in r.json()["level"]["values"]) == [1, 2]
