"""NGSI-LD scope queries (`scopeQ`): parse and match against an entity's scopes.

ETSI GS CIM 009 v1.8 §4.18 (Scopes) and §4.19 (NGSI-LD Scope Query Language).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedInput

from cityos.ngsi.errors import BadRequestData
from cityos.ngsi.query._lark import error_position, parse_text

# `;` AND binds tighter than `|` / `,` (both OR, as in the ETSI test-suite's 019_01_06).
_GRAMMAR = r"""
start: or_expr
or_expr: and_expr (("|" | ",") and_expr)*
and_expr: _atom (";" _atom)*
_atom: "(" or_expr ")" | scope
scope: "/" HASH                            -> any_scope
     | "/"? LEVEL ("/" LEVEL)* ("/" HASH)?   -> scope_path
HASH: "#"
LEVEL: /\w+/ | "+"
"""
_PARSER = Lark(_GRAMMAR, parser="lalr", lexer="contextual")


@dataclass(frozen=True)
class ScopePattern:
    """`/a/+/c` (`+` = any one level), `/a/#` (a and everything below), `/#` (any scope)."""

    levels: tuple[str, ...]
    descendants: bool = False

    def __str__(self) -> str:
        if not self.levels:
            return "/#"
        return "/" + "/".join(self.levels) + ("/#" if self.descendants else "")

    def matches(self, scope: str) -> bool:
        parts = scope.strip("/").split("/") if scope.strip("/") else []
        n = len(self.levels)
        if len(parts) < n or (len(parts) > n and not self.descendants):
            return False
        if not self.levels and not parts:
            return False
        return all(p == "+" or p == s for p, s in zip(self.levels, parts, strict=False))


@dataclass(frozen=True)
class ScopeAnd:
    items: tuple[ScopeNode, ...]

    def __str__(self) -> str:
        return ";".join(f"({i})" if isinstance(i, ScopeOr) else str(i) for i in self.items)


@dataclass(frozen=True)
class ScopeOr:
    items: tuple[ScopeNode, ...]

    def __str__(self) -> str:
        # parenthesised although `;` binds tighter: readers (and other brokers) need not know
        return "|".join(f"({i})" if isinstance(i, ScopeAnd) else str(i) for i in self.items)


ScopeNode = ScopePattern | ScopeAnd | ScopeOr


class ScopeQuery:
    """A parsed scopeQ; call it with an entity's `scope` list (None = no scope)."""

    def __init__(self, node: ScopeNode) -> None:
        self.node = node
        self._pred = _compile(node)

    def __call__(self, scopes: list[str] | None) -> bool:
        return bool(scopes) and self._pred(scopes)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return str(self.node)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ScopeQuery) and other.node == self.node

    def __hash__(self) -> int:
        return hash(self.node)


def _compile(node: ScopeNode) -> Callable[[list[str]], bool]:
    if isinstance(node, ScopePattern):
        if not node.levels:
            return lambda scopes: any(s.strip("/") for s in scopes)
        if not node.descendants and "+" not in node.levels:
            exact = "/" + "/".join(node.levels)
            return lambda scopes: any(s == exact or "/" + s.strip("/") == exact for s in scopes)
        m = node.matches
        return lambda scopes: any(m(s) for s in scopes)
    preds = [_compile(i) for i in node.items]
    if isinstance(node, ScopeAnd):
        return lambda scopes: all(p(scopes) for p in preds)
    return lambda scopes: any(p(scopes) for p in preds)


class _ToAst(Transformer[Token, ScopeNode]):
    def start(self, c: list[ScopeNode]) -> ScopeNode:
        return c[0]

    def or_expr(self, c: list[ScopeNode]) -> ScopeNode:
        return c[0] if len(c) == 1 else ScopeOr(_flat(ScopeOr, c))

    def and_expr(self, c: list[ScopeNode]) -> ScopeNode:
        return c[0] if len(c) == 1 else ScopeAnd(_flat(ScopeAnd, c))

    def any_scope(self, c: list[Token]) -> ScopePattern:
        return ScopePattern((), descendants=True)

    def scope_path(self, c: list[Token]) -> ScopePattern:
        levels = tuple(str(t) for t in c if t.type == "LEVEL")
        return ScopePattern(levels, descendants=c[-1].type == "HASH")


def _flat(kind: type, items: list[ScopeNode]) -> tuple[ScopeNode, ...]:
    out: list[ScopeNode] = []
    for i in items:
        out.extend(i.items if isinstance(i, kind) else (i,))  # type: ignore[union-attr]
    return tuple(out)


@lru_cache(maxsize=1024)  # immutable results; queries and pages repeat the same text
def parse_scope_q(text: str) -> ScopeQuery:
    """Parse a scopeQ; raise BadRequestData naming the position of a syntax error."""
    if not isinstance(text, str) or not text:
        raise BadRequestData("Invalid scopeQ: empty query")
    node = parse_text(_PARSER, _ToAst(), text, "scopeQ", _describe)
    return ScopeQuery(node)


def _describe(text: str, exc: UnexpectedInput) -> str:
    pos = error_position(text, exc)
    where = f"position {pos}" if pos < len(text) else f"position {pos} (end of query)"
    return f"Invalid scopeQ at {where}: {text!r}"
