"""The SQL prefilter derived from q never changes a query's result (hypothesis, every engine):
the JSON prefilter, and on SQLite the attribute-value index as it is kept by writes."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from cityos.ngsi.errors import BadRequestData
from cityos.ngsi.query.prefilter import attr_filters
from cityos.ngsi.query.q import parse_q
from cityos.storage import EntityQuery, open_store
from cityos.storage.base import DELETE
from cityos.storage.sqlite import _select, _values

VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
T = VOCAB + "T"
scalars = st.one_of(st.integers(-5, 5), st.floats(-5, 5, allow_nan=False),
                    st.sampled_from(["a", "b", "2026-01-01T00:00:00Z", "5"]), st.booleans())
values = st.one_of(scalars, st.lists(scalars, max_size=3),
                   st.fixed_dictionaries({"k": scalars}))
instances = st.one_of(
    st.builds(lambda v: {"type": "Property", "value": v}, values),
    st.builds(lambda o: {"type": "Relationship", "object": f"urn:x:{o}"}, st.integers(0, 3)),
    st.builds(lambda v: {"type": "LanguageProperty", "languageMap": {"en": v}},
              st.sampled_from(["a", "b"])),
    st.builds(lambda v: {"type": "ListProperty", "valueList": v}, st.lists(scalars, max_size=3)),
)
attribute = st.lists(instances, min_size=1, max_size=2).map(
    lambda xs: [dict(x, datasetId=f"urn:d:{n}") if n else x for n, x in enumerate(xs)])
entities = st.lists(st.dictionaries(st.sampled_from(["a", "b"]), attribute, max_size=2),
                    min_size=1, max_size=12)
literal = st.one_of(st.integers(-5, 5).map(str), st.sampled_from(['"a"', '"b"', '"5"', "true",
                                                                  "1..3", "1,2,3", "urn:x:1",
                                                                  '"2026-01-01T00:00:00Z"']))
clause = st.one_of(
    st.sampled_from(["a", "b", "!a"]),
    st.builds(lambda a, op, v: f"{a}{op}{v}", st.sampled_from(["a", "b"]),
              st.sampled_from(["==", "!=", ">", ">=", "<", "<="]), literal),
)
queries = st.lists(clause, min_size=1, max_size=3).map(";".join)
_tenants = itertools.count()
default_first = _select.PYTHON_FIRST
default_selective = _values.SELECTIVE


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(docs=entities, q=queries, python_first=st.sampled_from([0, 1, 3, 256]),
       selective=st.sampled_from([0, 2, 2000]), later=st.lists(
           st.tuples(st.integers(0, 2), st.one_of(st.none(), entities.map(lambda d: d[0]))),
           max_size=4))
def test_prefilter_never_changes_results(db: str, docs: list[dict[str, Any]], q: str,
                                         python_first: int, selective: int,
                                         later: list[tuple[int, Any]]) -> None:
    """`python_first`: how many candidates SQLite hands to Python before the prefilter takes
    over (0: the prefilter from the start), so that both phases and the switch are tested;
    `selective`: up to how many matches the value index drives the query; `later`: entities
    replaced (new attributes) or deleted (None) after they were written, so that the index
    must follow writes."""
    try:
        expr = parse_q(q)
    except BadRequestData:
        reject()  # e.g. `a>true`: not a query, nothing to compare
    tenant = f"t{next(_tenants)}"

    async def scenario() -> tuple[list[str], list[str]]:
        store = open_store(db)
        await store.open()
        items = []
        for n, attrs in enumerate(docs):
            e = {"id": f"urn:e:{n}", "type": [T],
                 "attrs": {VOCAB + k: v for k, v in attrs.items()}}
            items.append((e["id"], lambda cur, e=e: (e, None)))
        await store.mutate(tenant, items)
        for n, attrs in later:
            if attrs is None:
                await store.mutate(tenant, [(f"urn:e:{n}", lambda cur: (DELETE, None))])
                continue
            e = {"id": f"urn:e:{n}", "type": [T],
                 "attrs": {VOCAB + k: v for k, v in attrs.items()}}
            await store.mutate(tenant, [(e["id"], lambda cur, e=e: (e, None))])
        _select.PYTHON_FIRST = python_first
        _values.SELECTIVE = selective
        _values._broad.clear()
        pred = expr.bind(lambda term: VOCAB + term)
        plain = await store.query_entities(tenant, EntityQuery(types=[T], predicate=pred,
                                                               limit=100))
        filtered = await store.query_entities(tenant, EntityQuery(
            types=[T], predicate=pred, limit=100,
            attr_filters=attr_filters(expr, lambda term: VOCAB + term)))
        await store.close()
        return [e["id"] for e in plain.entities], [e["id"] for e in filtered.entities]

    try:
        plain, filtered = asyncio.run(scenario())
    finally:
        _select.PYTHON_FIRST = default_first
        _values.SELECTIVE = default_selective
    assert filtered == plain
