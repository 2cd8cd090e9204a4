"""Personal rows (issue 6) on PostgreSQL: the SQLite engine's scenarios, run on a database of
the test server, and sealing at rest checked in the tables themselves."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from cityos.personal.vault import Vault
from cityos.storage import open_store
from cityos.storage.base import EVERYTHING

from . import test_personal_rows as scenarios

SAME = [scenarios.test_without_a_classifier_nothing_is_personal,
        scenarios.test_a_personal_row_goes_to_its_owner_subject_and_grantees_only,
        scenarios.test_counts_filters_and_geo_see_exactly_the_released_rows,
        scenarios.test_history_and_change_rows_follow_the_entity,
        scenarios.test_a_first_query_with_a_json_prefilter_over_many_sealed_rows,
        scenarios.test_reclassify_after_the_catalog_changed]


@pytest.fixture
def on_postgres(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The scenarios' `open_store` opens this test's PostgreSQL database instead of a file."""
    monkeypatch.setattr(scenarios, "open_store", lambda url, **kw: open_store(postgres_url, **kw))
    yield postgres_url


@pytest.mark.parametrize("scenario", SAME, ids=[s.__name__ for s in SAME])
def test_the_sqlite_scenarios_hold(on_postgres: str, tmp_path: Path,
                                   scenario: Callable[[Path], None]) -> None:
    scenario(tmp_path)


@pytest.mark.parametrize("seal", [True, False])
def test_becoming_personal_and_back(on_postgres: str, tmp_path: Path, seal: bool) -> None:
    scenarios.test_becoming_personal_and_back_keeps_the_indexes_right(tmp_path, seal)


def test_sealed_at_rest_and_gone_after_erasure(postgres_url: str, tmp_path: Path) -> None:
    async def stored_text() -> str:
        conn = await asyncpg.connect(postgres_url)
        try:
            parts = []
            for table in ("entities", "attr_instances", "changes"):
                rows = await conn.fetch(f"SELECT t::text FROM {table} t")
                parts += [r[0] for r in rows]
            return "\n".join(parts)
        finally:
            await conn.close()

    async def main() -> None:
        store: Any = open_store(postgres_url)
        await store.open()
        vault = Vault.at(tmp_path)
        store.set_classifier(scenarios.TypeClassifier())
        store.set_sealer(vault)
        try:
            await scenarios.put(store, [scenarios.record(1, "res_a"), scenarios.sensor(1)])
            await scenarios.put(store, [scenarios.record(1, "res_a", pulse=99,
                                                         note=scenarios.SECRET + "-v2")])
            text = await stored_text()
            assert "urn:x:s:1" in text  # the sensor is stored as it is
            assert scenarios.SECRET not in text  # entity, history and change rows are sealed
            got = await store.get_entity(scenarios.TEN, "urn:x:rec:1", EVERYTHING)
            assert got["attrs"]["https://example.org/note"][0]["value"].startswith(
                scenarios.SECRET)
            # a sealed body hides its attributes from SQL: `attrs` is then checked in Python
            assert await scenarios.ids(store, EVERYTHING, attrs_any=[scenarios.PULSE]) == {
                "urn:x:rec:1", "urn:x:s:1"}
            assert await scenarios.ids(store, EVERYTHING, attrs_any=[
                "https://example.org/note"]) == {"urn:x:rec:1"}
            assert await scenarios.ids(store, EVERYTHING, attrs_any=[
                "https://example.org/none"]) == set()
            assert await store.erase_subject(scenarios.TEN, "res_a") == 1
            assert await store.get_entity(scenarios.TEN, "urn:x:rec:1", EVERYTHING) is None
            assert "urn:x:rec:1" not in await stored_text()
        finally:
            await store.close()
            vault.close()

    asyncio.run(main())


