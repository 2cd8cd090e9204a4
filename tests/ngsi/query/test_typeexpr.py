"""Tests for Entity Type Selection (ETSI GS CIM 009 v1.8 §4.17): parser, printer, matching."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cityos.ngsi.errors import BadRequestData, NgsiError
from cityos.ngsi.query.typeexpr import TypeAnd, TypeName, TypeOr, parse_type_expr

NS = "https://ex.org/"


def expand(term: str) -> str:
    return term if "//" in term else NS + term


BUILDING = [NS + "Building"]
PARKING = [NS + "Parking"]
BOTH = [NS + "Building", NS + "TouristDestination"]


@pytest.mark.parametrize(("q", "ids"), [  # the ETSI test-suite's 019_08 table
    ("Building", {0, 2}),
    ("(Building;TouristDestination)", {2}),
    ("Building,Parking", {0, 1, 2}),
    ("Parking,TouristDestination", {1, 2}),
    ("(Building;Parking),TouristDestination", {2}),
])
def test_conformance_table(q: str, ids: set[int]) -> None:
    pred = parse_type_expr(q).bind(expand)
    assert {i for i, types in enumerate((BUILDING, PARKING, BOTH)) if pred(types)} == ids


def test_or_forms_and_precedence() -> None:
    te = parse_type_expr("Building,(Shelter;Public)")
    pred = te.bind(expand)
    assert pred(BUILDING) and pred([NS + "Shelter", NS + "Public"]) and not pred([NS + "Shelter"])
    assert te.terms() == {"Building", "Shelter", "Public"}
    assert str(te) == "Building,(Shelter;Public)"
    assert str(parse_type_expr("A;B|C")) == "(A;B),C"
    assert parse_type_expr("A|B") == parse_type_expr("A,B")


def test_simple_any_lets_the_store_use_its_type_index() -> None:
    assert parse_type_expr("Building").simple_any() == ["Building"]
    assert parse_type_expr("A,B|C,A").simple_any() == ["A", "B", "C"]
    assert parse_type_expr("(A,B)").simple_any() == ["A", "B"]
    assert parse_type_expr("A;B").simple_any() is None
    assert parse_type_expr("A,(B;C)").simple_any() is None


def test_full_iris_and_prefixed_terms() -> None:
    te = parse_type_expr("https://schema.org/Place,ex:Shelter")
    assert te.simple_any() == ["https://schema.org/Place", "ex:Shelter"]
    assert te.bind(expand)(["https://schema.org/Place"])


def test_ast() -> None:
    assert parse_type_expr("(A,B);C").node == TypeAnd(
        (TypeOr((TypeName("A"), TypeName("B"))), TypeName("C")))


@pytest.mark.parametrize(("text", "where"), [
    ("A;;B", "position 2"), ("(A", "position 2"), ("A B", "position 1"), ("", "empty"),
    ("A,", "position 2"), ("()", "position 1"),
])
def test_syntax_errors(text: str, where: str) -> None:
    with pytest.raises(BadRequestData) as info:
        parse_type_expr(text)
    assert where in info.value.detail


NAMES = st.sampled_from(["A", "Building", "ex:Shelter", "https://schema.org/Place", "建物"])


def _combine(children: st.SearchStrategy) -> st.SearchStrategy:
    def flat(kind: type, items: list) -> object:
        out: list = []
        for i in items:
            out.extend(i.items if isinstance(i, kind) else (i,))
        return kind(tuple(out))
    lists = st.lists(children, min_size=2, max_size=3)
    return st.one_of(st.builds(lambda xs: flat(TypeAnd, xs), lists),
                     st.builds(lambda xs: flat(TypeOr, xs), lists))


EXPRS = st.recursive(NAMES.map(TypeName), _combine, max_leaves=6)


@given(EXPRS)
@settings(max_examples=300)
def test_printed_ast_parses_back(node: object) -> None:
    assert parse_type_expr(str(node)).node == node


@given(st.lists(st.sampled_from(list("AB;|,() :/")), max_size=15).map("".join)
       | st.text(max_size=15))
@settings(max_examples=800)
def test_random_text_parses_or_raises_only_ngsi_errors(text: str) -> None:
    try:
        te = parse_type_expr(text)
    except NgsiError:
        return
    assert parse_type_expr(str(te)) == te
    te.bind(expand)([NS + "A"])


def _reference(node: object, types: set[str]) -> bool:
    if isinstance(node, TypeName):
        return expand(node.term) in types
    if isinstance(node, TypeAnd):
        return all(_reference(i, types) for i in node.items)
    return any(_reference(i, types) for i in node.items)  # type: ignore[attr-defined]


@given(EXPRS, st.sets(NAMES.map(expand), max_size=3))
@settings(max_examples=500)
def test_matching_agrees_with_a_reference(node: object, types: set[str]) -> None:
    te = parse_type_expr(str(node))
    assert te.bind(expand)(sorted(types)) == _reference(node, types)


def test_deep_nesting_is_refused_not_a_crash() -> None:
    with pytest.raises(BadRequestData, match="nested deeper"):
        parse_type_expr("A;(B," * 100 + "C" + ")" * 100)
