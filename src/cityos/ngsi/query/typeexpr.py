"""NGSI-LD Entity Type Selection: `type=A,B` (OR), `;` (AND), `|` (OR) and parentheses.

ETSI GS CIM 009 v1.8 §4.17 (Entity Type Selection language), matched against expanded types.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedInput

from cityos.ngsi.errors import BadRequestData
from cityos.ngsi.query._lark import error_position, parse_text

# `;` AND binds tighter than `|` and `,` (both OR). A type is a term, a prefix:term or an IRI.
_GRAMMAR = r"""
start: or_expr
or_expr: and_expr (("|" | ",") and_expr)*
and_expr: _atom (";" _atom)*
_atom: "(" or_expr ")" | TYPE
TYPE: /[^\s,;|()"<>{}\\^`]+/
"""
_PARSER = Lark(_GRAMMAR, parser="lalr", lexer="contextual")

Expand = Callable[[str], str]
TypePredicate = Callable[[list[str]], bool]


@dataclass(frozen=True)
class TypeName:
    term: str

    def __str__(self) -> str:
        return self.term


@dataclass(frozen=True)
class TypeAnd:
    items: tuple[TypeNode, ...]

    def __str__(self) -> str:
        return ";".join(f"({i})" if isinstance(i, TypeOr) else str(i) for i in self.items)


@dataclass(frozen=True)
class TypeOr:
    items: tuple[TypeNode, ...]

    def __str__(self) -> str:
        # parenthesised although `;` binds tighter: readers (and other brokers) need not know
        return ",".join(f"({i})" if isinstance(i, TypeAnd) else str(i) for i in self.items)


TypeNode = TypeName | TypeAnd | TypeOr


class TypeExpr:
    """A parsed type selection; `bind(expand)` gives `pred(expanded_types) -> bool`."""

    def __init__(self, node: TypeNode) -> None:
        self.node = node

    def __str__(self) -> str:
        return str(self.node)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TypeExpr) and other.node == self.node

    def __hash__(self) -> int:
        return hash(self.node)

    def terms(self) -> set[str]:
        out: set[str] = set()
        stack: list[TypeNode] = [self.node]
        while stack:
            n = stack.pop()
            if isinstance(n, TypeName):
                out.add(n.term)
            else:
                stack.extend(n.items)
        return out

    def simple_any(self) -> list[str] | None:
        """The terms when the expression is a plain OR-list of types (index-friendly)."""
        n = self.node
        if isinstance(n, TypeName):
            return [n.term]
        if isinstance(n, TypeOr) and all(isinstance(i, TypeName) for i in n.items):
            return list(dict.fromkeys(i.term for i in n.items))  # type: ignore[union-attr]
        return None

    def bind(self, expand: Expand) -> TypePredicate:
        simple = self.simple_any()
        if simple is not None:
            wanted = frozenset(expand(t) for t in simple)
            if len(wanted) == 1:
                (one,) = wanted
                return lambda types: one in types
            return lambda types: not wanted.isdisjoint(types)
        return _compile(self.node, expand)


def _compile(node: TypeNode, expand: Expand) -> TypePredicate:
    if isinstance(node, TypeName):
        iri = expand(node.term)
        return lambda types: iri in types
    preds = [_compile(i, expand) for i in node.items]
    if isinstance(node, TypeAnd):
        return lambda types: all(p(types) for p in preds)
    return lambda types: any(p(types) for p in preds)


class _ToAst(Transformer[Token, TypeNode]):
    def start(self, c: list[TypeNode | Token]) -> TypeNode:
        return _node(c[0])

    def or_expr(self, c: list[TypeNode | Token]) -> TypeNode:
        items = [_node(i) for i in c]
        return items[0] if len(items) == 1 else TypeOr(_flat(TypeOr, items))

    def and_expr(self, c: list[TypeNode | Token]) -> TypeNode:
        items = [_node(i) for i in c]
        return items[0] if len(items) == 1 else TypeAnd(_flat(TypeAnd, items))


def _node(x: TypeNode | Token) -> TypeNode:
    return TypeName(str(x)) if isinstance(x, Token) else x


def _flat(kind: type, items: list[TypeNode]) -> tuple[TypeNode, ...]:
    out: list[TypeNode] = []
    for i in items:
        out.extend(i.items if isinstance(i, kind) else (i,))  # type: ignore[union-attr]
    return tuple(out)


@lru_cache(maxsize=1024)  # immutable results; queries and pages repeat the same text
def parse_type_expr(text: str) -> TypeExpr:
    """Parse an entity type selection; raise BadRequestData naming the error position."""
    if not isinstance(text, str) or not text:
        raise BadRequestData("Invalid type selection: empty")
    node = parse_text(_PARSER, _ToAst(), text, "type selection", _describe)
    return TypeExpr(node)


def _describe(text: str, exc: UnexpectedInput) -> str:
    return f"Invalid type selection at position {error_position(text, exc)}: {text!r}"
