"""The consent-filtered count (issue 6) on both engines: for random writes, grants, withdrawals,
deletions, reclassifications and erasures, a query's count equals the number of rows the same
query returns, and those rows are exactly the ones the reader may see (a model says which).

SQLite counts one type's visible rows from `personal_counts` (schema 14, kept by triggers), not
from the rows: this is the test that the groups stay equal to the rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cityos.storage import DELETE, open_store
from cityos.storage.base import Entity, EntityQuery, Reader, Store
from cityos.storage.sqlite._personal import reader_clause

A = "https://example.org/HealthRecord"  # personal, health
B = "https://example.org/Trip"  # personal (mobility) or not, as the catalog is switched
S = "https://example.org/Sensor"  # never personal
SUBJECT = "https://example.org/subject"
RESIDENTS = ("r0", "r1", "r2")
WRITERS = ("org:w1", "org:w2")
PURPOSES = ("p1", "p2")
READERS = (Reader(), Reader(org="org:w1"), Reader(org="org:w2"), Reader(org="org:x"),
           Reader(org="org:x", purpose="p1"), Reader(residents=("r0",)),
           Reader(residents=("r1", "r2"), categories=("health",)),
           Reader(org="org:x", residents=("r2",)))
_tenants = itertools.count()


class SwitchedCatalog:
    """A and (while `trips`) B are personal, their subject named by one attribute."""

    def __init__(self) -> None:
        self.trips = True

    def categories(self) -> dict[str, str]:
        return {A: "health", **({B: "mobility"} if self.trips else {})}

    def classify(self, tenant: str, entity: Entity) -> tuple[str, str] | None:
        found = [self.categories()[t] for t in entity["type"] if t in self.categories()]
        subject = entity.get("attrs", {}).get(SUBJECT, [{}])[0].get("value")
        if not found or subject is None:
            return None
        return str(subject), found[0]


@dataclass
class Model:
    """What the store should hold: entities (types, subject, owner) and grants (until)."""

    catalog: SwitchedCatalog
    rows: dict[str, tuple[list[str], str | None, str]] = field(default_factory=dict)
    grants: dict[tuple[str, str, str, str], float | None] = field(default_factory=dict)

    def visible(self, reader: Reader, type_iri: str, now: float) -> set[str]:
        out = set()
        for entity_id, (types, _, owner) in self.rows.items():
            if type_iri not in types:
                continue
            found = self.catalog.classify("", self.entity(entity_id))
            if found is None or (reader.org and owner == reader.org):
                out.add(entity_id)
                continue
            who, category = found
            if who in reader.residents and (reader.categories is None
                                            or category in reader.categories):
                out.add(entity_id)
                continue
            if reader.org and any(
                    key[:3] == (who, reader.org, category) and (
                        reader.purpose is None or key[3] == reader.purpose) and (
                        until is None or until > now)
                    for key, until in self.grants.items()):
                out.add(entity_id)
        return out

    def entity(self, entity_id: str) -> Entity:
        types, subject, _ = self.rows[entity_id]
        stamp = "2026-01-01T00:00:00Z"
        attrs = {} if subject is None else {
            SUBJECT: [{"type": "Property", "value": subject, "modifiedAt": stamp}]}
        return {"id": entity_id, "type": types, "createdAt": stamp, "modifiedAt": stamp,
                "attrs": attrs}


types_of = st.sampled_from([[A], [B], [S], [A, S], [B, S], [A, B]])
step = st.one_of(
    st.tuples(st.just("put"), st.integers(0, 7), types_of,
              st.sampled_from((None, *RESIDENTS)), st.sampled_from(WRITERS)),
    st.tuples(st.just("delete"), st.integers(0, 7)),
    st.tuples(st.just("grant"), st.sampled_from(RESIDENTS),
              st.sampled_from(("org:x", "org:w2")), st.sampled_from(("health", "mobility")),
              st.sampled_from(PURPOSES), st.sampled_from((None, -3600.0, 3600.0))),
    st.tuples(st.just("withdraw"), st.sampled_from(RESIDENTS),
              st.sampled_from(("org:x", "org:w2")), st.sampled_from(("health", "mobility")),
              st.sampled_from(PURPOSES)),
    st.tuples(st.just("switch")),
    st.tuples(st.just("erase"), st.sampled_from(RESIDENTS)),
)


async def apply(store: Store, tenant: str, model: Model, op: tuple[Any, ...]) -> None:
    kind = op[0]
    if kind == "put":
        _, num, types, subject, writer = op
        entity_id = f"urn:x:e:{num}"
        before = model.rows.get(entity_id)
        model.rows[entity_id] = (types, subject, before[2] if before else writer)
        doc = model.entity(entity_id)
        [outcome] = await store.mutate(tenant, [(entity_id, lambda cur: (doc, None))],
                                       writer=writer)
        if isinstance(outcome, Exception) and before is not None:  # not the row's to change
            model.rows[entity_id] = before
    elif kind == "delete":
        entity_id = f"urn:x:e:{op[1]}"
        model.rows.pop(entity_id, None)
        await store.mutate(tenant, [(entity_id, lambda cur: (DELETE, None))])
    elif kind == "grant":
        _, subject, recipient, category, purpose, until = op
        until = None if until is None else time.time() + until
        model.grants[(subject, recipient, category, purpose)] = until
        await store.put_grant(tenant, subject, recipient, category, purpose, until)
    elif kind == "withdraw":
        _, subject, recipient, category, purpose = op
        model.grants.pop((subject, recipient, category, purpose), None)
        await store.drop_grant(tenant, subject, recipient, category, purpose)
    elif kind == "switch":
        model.catalog.trips = not model.catalog.trips
        await store.reclassify()
    else:
        subject = op[1]
        model.rows = {i: row for i, row in model.rows.items()
                      if row[1] != subject or model.catalog.classify("", model.entity(i)) is None}
        model.grants = {k: v for k, v in model.grants.items() if k[0] != subject}
        await store.erase_subject(tenant, subject)


async def check(store: Store, tenant: str, model: Model, db: str) -> None:
    for reader in READERS:
        for type_iri in (A, B, S):
            if db.startswith("sqlite:///"):  # the one-row form of the clause, row by row
                with contextlib.closing(sqlite3.connect(
                        f"file:{db.removeprefix('sqlite:///')}?mode=ro", uri=True)) as conn:
                    clause = reader_clause(reader, tenant, one_row=True)
                    where, params = clause if clause is not None else ("1", [])
                    ids = {r[0] for r in conn.execute(
                        f"SELECT e.id FROM entities e JOIN entity_types t ON t.rid = e.rid "
                        f"WHERE e.tenant = ? AND t.type = ? AND {where}",
                        [tenant, type_iri, *params])}
                assert ids == model.visible(reader, type_iri, time.time()), (reader, "one row")
            rows = await store.query_entities(tenant, EntityQuery(
                types=[type_iri], reader=reader, limit=1000))
            counted = await store.query_entities(tenant, EntityQuery(
                types=[type_iri], reader=reader, limit=1, count=True))
            got = {e["id"] for e in rows.entities}
            assert counted.count == len(got), (reader, type_iri)
            assert got == model.visible(reader, type_iri, time.time()), (reader, type_iri)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=1, max_size=25))
def test_a_filtered_count_is_the_number_of_rows_returned(db: str, steps: list[Any]) -> None:
    async def main() -> None:
        store = open_store(db)
        await store.open()
        catalog = SwitchedCatalog()
        store.set_classifier(catalog)
        tenant = f"c{next(_tenants)}"
        model = Model(catalog)
        try:
            for n, op in enumerate(steps):
                await apply(store, tenant, model, op)
                if n % 5 == 4:
                    await check(store, tenant, model, db)
            await check(store, tenant, model, db)
        finally:
            await store.close()

    asyncio.run(main())


def test_type_changes_and_erasure_keep_the_counts(db: str) -> None:
    """The paths the random steps reach least often, step by step: a personal row changing
    its types (kept, added, dropped), turning non-personal and back, and its erasure."""
    steps: list[Any] = [
        ("put", 0, [A], "r0", "org:w1"), ("put", 1, [A, S], None, "org:w1"),
        ("grant", "r0", "org:x", "health", "p1", None),
        ("put", 0, [A, S], "r0", "org:w1"), ("put", 0, [S, B], "r0", "org:w1"),
        ("put", 0, [A], "r0", "org:w1"), ("put", 0, [A, B], None, "org:w1"),
        ("put", 0, [A], "r0", "org:w1"), ("put", 2, [B, A], "r0", "org:w2"),
        ("switch",), ("put", 2, [B], "r0", "org:w2"), ("switch",), ("erase", "r0"),
        ("put", 0, [A, S], "r1", "org:w2"), ("delete", 1), ("delete", 0)]

    async def main() -> None:
        store = open_store(db)
        await store.open()
        catalog = SwitchedCatalog()
        store.set_classifier(catalog)
        tenant = f"c{next(_tenants)}"
        model = Model(catalog)
        try:
            for op in steps:
                await apply(store, tenant, model, op)
                await check(store, tenant, model, db)
        finally:
            await store.close()

    asyncio.run(main())
