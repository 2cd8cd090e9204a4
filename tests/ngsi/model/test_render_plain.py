"""The default view's fast renderer writes exactly what the general one writes (hypothesis)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cityos.ngsi.model.write import View, render_entity

V = "https://uri.etsi.org/ngsi-ld/default-context/"


class Ctx:
    """Compacts the default vocabulary to terms, like the core context's @vocab."""

    def compact_iri(self, iri: str) -> str:
        return iri[len(V):] if iri.startswith(V) else iri

    compact_vocab_value = compact_iri

    def expand_term(self, term: str) -> str:
        return term if ":" in term else V + term


stamp = st.sampled_from(["2026-11-22T00:00:00Z", "2026-11-22T01:02:03.456Z"])
scalar = st.one_of(st.integers(-3, 3), st.floats(allow_nan=False), st.text(max_size=3),
                   st.booleans(), st.none())
meta = st.fixed_dictionaries({}, optional={
    "datasetId": st.sampled_from(["urn:d:1", "urn:d:2"]), "observedAt": stamp,
    "unitCode": st.sampled_from(["CEL", "KGM"]), "createdAt": stamp, "modifiedAt": stamp,
    "objectType": st.sampled_from([V + "Person", [V + "A", "urn:x:B"]])})
kinds = st.sampled_from([
    ("Property", "value", scalar), ("GeoProperty", "value",
                                    st.just({"type": "Point", "coordinates": [135.4, 34.8]})),
    ("Relationship", "object", st.just("urn:ngsi-ld:X:1")),
    ("LanguageProperty", "languageMap", st.just({"ja": "豊能", "en": "Toyono"})),
    ("VocabProperty", "vocab", st.sampled_from([V + "Shelter", [V + "A", "urn:x:B"]])),
    ("JsonProperty", "json", st.just({"k": [1, 2]})),
    ("ListProperty", "valueList", st.lists(scalar, max_size=2)),
    ("ListRelationship", "objectList", st.just([{"object": "urn:x:1"}]))])


@st.composite
def instances(draw: Any, depth: int = 1) -> dict[str, Any]:
    kind, key, values = draw(kinds)
    inst = {"type": kind, key: draw(values), **draw(meta)}
    if depth and draw(st.booleans()):
        inst["subattrs"] = {V + "accuracy": [draw(instances(depth=0))]}
    return inst


entities = st.fixed_dictionaries(
    {"id": st.just("urn:ngsi-ld:T:1"),
     "type": st.sampled_from([[V + "T"], [V + "T", "urn:x:U"]]),
     "attrs": st.dictionaries(st.sampled_from([V + "a", V + "b", "urn:x:c"]),
                              st.lists(instances(), min_size=1, max_size=2), max_size=3)},
    optional={"scope": st.sampled_from([["/a"], ["/a", "/b"]]), "createdAt": stamp,
              "modifiedAt": stamp})


@settings(max_examples=400, deadline=None)
@given(entity=entities)
def test_fast_path_renders_what_the_general_path_renders(entity: dict[str, Any]) -> None:
    # geometry_property only matters to GeoJSON: this view takes the general path
    general = render_entity(entity, Ctx(), View(geometry_property="elsewhere"))
    assert render_entity(entity, Ctx(), View()) == general
