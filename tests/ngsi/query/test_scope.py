"""Tests for scopeQ (ETSI GS CIM 009 v1.8 §4.19): parser, printer and matching."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cityos.ngsi.errors import BadRequestData, NgsiError
from cityos.ngsi.query.scope import ScopeAnd, ScopeOr, ScopePattern, parse_scope_q

PARQUE = ["/Madrid/Gardens/ParqueNorte", "/CompanyA/OrganizationB/UnitC"]
MADRID = ["/Madrid/Gardens/ParqueNorte"]


@pytest.mark.parametrize(("q", "count"), [  # the ETSI test-suite's 019_01_06 table
    ("/Madrid/Gardens/ParqueNorte", 2),
    ("/Madrid/+/ParqueNorte", 2),
    ("/CompanyA/#", 1),
    ("/#", 2),
    ("/Madrid/Gardens/ParqueNorte;/CompanyA/OrganizationB/UnitC", 1),
    ("/Madrid/Gardens/ParqueNorte,/CompanyA/OrganizationB/UnitC", 2),
])
def test_conformance_table(q: str, count: int) -> None:
    sq = parse_scope_q(q)
    assert sum(sq(s) for s in (PARQUE, MADRID, None, [])) == count


def test_hash_matches_the_scope_and_everything_below() -> None:
    sq = parse_scope_q("/Osaka/#")
    assert sq(["/Osaka"]) and sq(["/Osaka/Toyono"]) and sq(["/Osaka/Toyono/Shelter1"])
    assert not sq(["/Osakajo"]) and not sq(["/Kyoto/Osaka"])


def test_plus_matches_exactly_one_level() -> None:
    sq = parse_scope_q("/a/+/c")
    assert sq(["/a/b/c"]) and not sq(["/a/c"]) and not sq(["/a/b/x/c"]) and not sq(["/a/b/c/d"])
    assert parse_scope_q("/a/+/#")(["/a/b/c/d"])


def test_and_or_parentheses_and_precedence() -> None:
    sq = parse_scope_q("/Osaka/#;/Toyono")
    assert sq(["/Osaka/Kita", "/Toyono"]) and not sq(["/Osaka/Kita"]) and not sq(["/Toyono"])
    q2 = parse_scope_q("/a;/b|/c")
    assert q2(["/c"]) and q2(["/a", "/b"]) and not q2(["/a"])
    q3 = parse_scope_q("/a;(/b|/c)")
    assert q3(["/a", "/c"]) and not q3(["/c"])
    assert str(q2) == "(/a;/b)|/c" and str(q3) == "/a;(/b|/c)"


def test_entities_without_scope_match_nothing() -> None:
    for q in ("/#", "/a", "/a/#"):
        assert not parse_scope_q(q)(None) and not parse_scope_q(q)([])


def test_ast() -> None:
    sq = parse_scope_q("(/a/#|/b);/#")
    assert sq.node == ScopeAnd((ScopeOr((ScopePattern(("a",), True), ScopePattern(("b",)))),
                                ScopePattern((), True)))


@pytest.mark.parametrize(("text", "where"), [
    ("/a//b", "position 3"), ("/", "end of query"), ("/a/#/b", "position 4"),
    ("/a;", "end of query"), ("", "empty"), ("/a b", "position 2"), ("(/a", "end of query"),
])
def test_syntax_errors(text: str, where: str) -> None:
    with pytest.raises(BadRequestData) as info:
        parse_scope_q(text)
    assert where in info.value.detail


LEVELS = st.lists(st.sampled_from(["a", "b", "Osaka", "豊能", "+"]), max_size=3)
PATTERNS = st.builds(lambda ls, d: ScopePattern(tuple(ls), d or not ls), LEVELS, st.booleans())


def _combine(children: st.SearchStrategy) -> st.SearchStrategy:
    def flat(kind: type, items: list) -> object:
        out: list = []
        for i in items:
            out.extend(i.items if isinstance(i, kind) else (i,))
        return kind(tuple(out))
    lists = st.lists(children, min_size=2, max_size=3)
    return st.one_of(st.builds(lambda xs: flat(ScopeAnd, xs), lists),
                     st.builds(lambda xs: flat(ScopeOr, xs), lists))


@given(st.recursive(PATTERNS, _combine, max_leaves=6))
@settings(max_examples=300)
def test_printed_ast_parses_back(node: object) -> None:
    assert parse_scope_q(str(node)).node == node


@given(st.lists(st.sampled_from(list("/#+;|,()a b")), max_size=15).map("".join)
       | st.text(max_size=15))
@settings(max_examples=800)
def test_random_text_parses_or_raises_only_ngsi_errors(text: str) -> None:
    try:
        sq = parse_scope_q(text)
    except NgsiError:
        return
    assert parse_scope_q(str(sq)) == sq
    sq(["/a/b"])


def _reference(pattern: ScopePattern, scope: str) -> bool:
    parts = [p for p in scope.split("/") if p]
    if not pattern.levels:
        return bool(parts)
    if pattern.descendants:
        parts = parts[: len(pattern.levels)]
    return len(parts) == len(pattern.levels) and all(
        want in ("+", got) for want, got in zip(pattern.levels, parts, strict=True))


@given(PATTERNS, st.lists(st.lists(st.sampled_from(["a", "b", "Osaka"]), min_size=1, max_size=4)
                          .map(lambda ls: "/" + "/".join(ls)), max_size=3))
@settings(max_examples=500)
def test_matching_agrees_with_a_reference(pattern: ScopePattern, scopes: list[str]) -> None:
    sq = parse_scope_q(str(pattern))
    assert sq(scopes) == any(_reference(pattern, s) for s in scopes)


def test_deep_nesting_is_refused_not_a_crash() -> None:
    with pytest.raises(BadRequestData, match="nested deeper"):
        parse_scope_q("(" * 5000 + "/a" + ")" * 5000)
