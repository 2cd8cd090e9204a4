"""A personal row whose key this process cannot open is never taken for erased: a write over
it changes nothing (the vault restored from an older backup, or another one), while a row of
an erased resident still goes. Every engine (`db`)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from cityos.personal.vault import Vault
from cityos.storage import open_store
from cityos.storage.base import DELETE, KEEP, Entity, SealedUnreadable

V = "https://uri.etsi.org/ngsi-ld/default-context/"
T = V + "HealthObservation"


class Classifier:
    def classify(self, tenant: str, entity: Entity) -> tuple[str, str] | None:
        return ("res1", "health") if entity["type"] == [T] else None


def obs(value: int) -> Entity:
    return {"id": "urn:ngsi-ld:HealthObservation:1", "type": [T],
            "attrs": {V + "weight": [{"type": "Property", "value": value}]}}


async def write(db: str, vault: Vault, fn: Any) -> Any:
    store = open_store(db)
    await store.open()
    store.set_classifier(Classifier())
    store.set_sealer(vault)
    try:
        [result] = await store.mutate("", [("urn:ngsi-ld:HealthObservation:1", fn)])
        return result, await store.get_entity("", "urn:ngsi-ld:HealthObservation:1",
                                              None if vault is None else _everything())
    finally:
        await store.close()


def _everything() -> Any:
    from cityos.storage.base import EVERYTHING

    return EVERYTHING


def test_a_missing_key_changes_nothing_an_erased_one_lets_the_row_go(db: str,
                                                                       tmp_path: Path) -> None:
    first, other = Vault.at(tmp_path / "first"), Vault.at(tmp_path / "other")
    try:
        _, stored = asyncio.run(write(db, first, lambda cur: (obs(60), None)))
        assert stored is not None and stored["attrs"][V + "weight"][0]["value"] == 60
        # another vault: the row reads as absent, and a write over it is refused unchanged
        result, seen = asyncio.run(write(db, other, lambda cur: (obs(99), None)))
        assert isinstance(result, SealedUnreadable) and seen is None
        result, seen = asyncio.run(write(db, other, lambda cur: (DELETE, None)))
        assert isinstance(result, SealedUnreadable)
        _, stored = asyncio.run(write(db, first, lambda cur: (KEEP, None)))
        assert stored is not None and stored["attrs"][V + "weight"][0]["value"] == 60
        # the resident's key erased (crypto-shredding): the row is gone for good
        first.erase("", "res1")
        result, seen = asyncio.run(write(db, first, lambda cur: (obs(70), cur is None)))
        assert result is True and seen is not None  # written anew, over nothing
        assert seen["attrs"][V + "weight"][0]["value"] == 70
    finally:
        first.close()
        other.close()
