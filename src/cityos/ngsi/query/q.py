"""NGSI-LD Query Language `q`: parse to a public AST, print canonically, compile to a predicate.

ETSI GS CIM 009 v1.8 §4.9 (NGSI-LD Query Language), evaluated over decision 0001's entity form.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import lru_cache
from pathlib import Path
from typing import Any, Union

from lark import Lark, Token, Transformer
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
)

from cityos.ngsi.errors import BadRequestData
from cityos.ngsi.query._lark import parse_text

Entity = dict[str, Any]
Expand = Callable[[str], str]
Predicate = Callable[[Entity], bool]
Resolve = Callable[[str], Entity | None]

#: names after `.` that read an instance's own metadata instead of a sub-attribute
METADATA = frozenset({"observedAt", "unitCode", "createdAt", "modifiedAt", "datasetId",
                      "objectType"})
_ENTITY_TIMESTAMPS = frozenset({"createdAt", "modifiedAt"})
_TIMESTAMP_META = frozenset({"observedAt", "createdAt", "modifiedAt"})


# ---------------------------------------------------------------- AST (public, for storage)

@dataclass(frozen=True)
class Temporal:
    """An unquoted DateTime, Date or Time literal, kept as written."""

    kind: str  # "DateTime" | "Date" | "Time"
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Term:
    """An unquoted URI or vocabulary term (compared as a string, after optional expansion)."""

    text: str

    def __str__(self) -> str:
        return self.text


Scalar = Union[str, int, float, bool, Temporal, Term]  # noqa: UP007 - runtime alias


@dataclass(frozen=True)
class Range:
    low: Scalar
    high: Scalar

    def __str__(self) -> str:
        return f"{_fmt(self.low)}..{_fmt(self.high)}"


QValue = Union[Scalar, tuple[Scalar, ...], Range]  # noqa: UP007


@dataclass(frozen=True)
class Linked:
    """`rel{Type:path}`: a sub-query on the entities a Relationship points to."""

    path: AttrPath
    entity_type: str | None = None

    def __str__(self) -> str:
        hint = f"{self.entity_type}:" if self.entity_type else ""
        return "{" + hint + str(self.path) + "}"


@dataclass(frozen=True)
class AttrPath:
    """`names[0]` is the attribute; later names are sub-attributes or metadata (`METADATA`)."""

    names: tuple[str, ...]
    members: tuple[str, ...] = ()  # compound-value member path, `*` = any language
    linked: Linked | None = None

    def __str__(self) -> str:
        s = ".".join(self.names)
        if self.members:
            s += "[" + ".".join(self.members) + "]"
        if self.linked is not None:
            s += str(self.linked)
        return s


class QExpr:
    """A parsed `q`; `bind` compiles it once into a fast predicate over entities."""

    def attribute_names(self) -> set[str]:
        out: set[str] = set()
        self._names(out)
        return out

    def _names(self, out: set[str]) -> None:
        raise NotImplementedError

    def conjuncts(self) -> tuple[QExpr, ...]:
        """Terms every match satisfies (the top-level AND): what storage may pre-filter on."""
        return self.items if isinstance(self, And) else (self,)

    def bind(self, expand: Expand, *, expand_value: Callable[[str, str], str] | None = None,
             resolve: Resolve | None = None) -> Predicate:
        """Compile to `pred(entity) -> bool`.

        `expand` maps attribute terms to IRIs; `expand_value(attr_term, value)` (optional)
        expands string/URI query values (the `expandValues` parameter); `resolve(id)` returns a
        linked entity for `rel{attr}` sub-queries (none: they never match).
        """
        return _compile(self, _Ctx(expand, expand_value, resolve))


@dataclass(frozen=True)
class Comparison(QExpr):
    path: AttrPath
    op: str  # == != > >= < <= ~= !~=
    value: QValue  # a str pattern for ~= and !~=

    def _names(self, out: set[str]) -> None:
        out.add(self.path.names[0])

    def __str__(self) -> str:
        v = self.value
        if isinstance(v, tuple):
            text = ",".join(_fmt(x) for x in v)
        elif isinstance(v, Range):
            text = str(v)
        else:
            text = _fmt(v)
        return f"{self.path}{self.op}{text}"


@dataclass(frozen=True)
class Exists(QExpr):
    path: AttrPath
    negated: bool = False  # `!attr`: the entity does not have it

    def _names(self, out: set[str]) -> None:
        out.add(self.path.names[0])

    def __str__(self) -> str:
        return ("!" if self.negated else "") + str(self.path)


@dataclass(frozen=True)
class And(QExpr):
    items: tuple[QExpr, ...]

    def _names(self, out: set[str]) -> None:
        for i in self.items:
            i._names(out)

    def __str__(self) -> str:
        return ";".join(f"({i})" if isinstance(i, Or) else str(i) for i in self.items)


@dataclass(frozen=True)
class Or(QExpr):
    items: tuple[QExpr, ...]

    def _names(self, out: set[str]) -> None:
        for i in self.items:
            i._names(out)

    def __str__(self) -> str:
        # parenthesised although `;` binds tighter: readers (and other brokers) need not know
        return "|".join(f"({i})" if isinstance(i, And) else str(i) for i in self.items)


def _fmt(v: Scalar) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return v.text


# ---------------------------------------------------------------- parsing

_PARSER = Lark((Path(__file__).parent / "q.lark").read_text(encoding="utf-8"),
               parser="lalr", lexer="contextual", maybe_placeholders=False)

_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?Z?")
_ESCAPE = re.compile(r"\\([\"\\])")


def classify(text: str) -> Scalar:
    """Type an unquoted value: boolean, number, DateTime, Date, Time, else a URI/term."""
    if text == "true":
        return True
    if text == "false":
        return False
    if _NUMBER.fullmatch(text):
        if any(c in text for c in ".eE"):
            f = float(text)
            if f != f or f in (float("inf"), float("-inf")):
                raise BadRequestData(f"Invalid q: number out of range: {text}")
            return f
        return int(text)
    if _DATETIME.fullmatch(text):
        return Temporal("DateTime", text)
    if _DATE.fullmatch(text):
        return Temporal("Date", text)
    if _TIME.fullmatch(text):
        return Temporal("Time", text)
    return Term(text)


def _unquote(tok: str) -> str:
    return _ESCAPE.sub(r"\1", tok[1:-1])


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except (re.error, OverflowError, RecursionError) as exc:
        raise BadRequestData(f"Invalid q: bad regular expression {pattern!r}: {exc}") from None


class _ToAst(Transformer[Token, QExpr]):
    def start(self, c: list[QExpr]) -> QExpr:
        return c[0]

    def or_expr(self, c: list[QExpr]) -> QExpr:
        return c[0] if len(c) == 1 else Or(_flatten(Or, c))

    def and_expr(self, c: list[QExpr]) -> QExpr:
        return c[0] if len(c) == 1 else And(_flatten(And, c))

    def path(self, c: list[Any]) -> AttrPath:
        names = tuple(str(t) for t in c if isinstance(t, Token))
        members: tuple[str, ...] = ()
        linked = None
        for x in c:
            if isinstance(x, tuple):
                members += x
            elif isinstance(x, Linked):
                linked = x
        if any(":" in n for n in names[1:]):
            raise BadRequestData(f"Invalid q: unexpected ':' in {'.'.join(names)}")
        return AttrPath(names, members, linked)

    def members(self, c: list[Token]) -> tuple[str, ...]:
        return tuple(str(t) for t in c)

    def linked(self, c: list[AttrPath]) -> Linked:
        p = c[0]
        head = p.names[0]
        if ":" in head:  # {Building:name}, {Building:ex:name}: a type hint (EXAMPLE 14)
            hint, _, name = head.partition(":")
            return Linked(AttrPath((name, *p.names[1:]), p.members, p.linked), hint)
        return Linked(p)

    def value(self, c: list[Token]) -> Scalar:
        t = c[0]
        return _unquote(t) if t.type == "STRING" else classify(str(t))

    def pattern(self, c: list[Token]) -> str:
        t = c[0]
        text = _unquote(t) if t.type == "STRING" else str(t)
        _regex(text)
        return text

    def single(self, c: list[Scalar]) -> Scalar:
        return c[0]

    def value_list(self, c: list[Scalar]) -> tuple[Scalar, ...]:
        return tuple(c)

    def range(self, c: list[Scalar]) -> Range:
        for v in c:
            _require_comparable(v, "..")
        return Range(c[0], c[1])

    def _outer(self, p: AttrPath) -> AttrPath:
        if p.names[0].count(":") > 1:  # Type:prefix:term is only meaningful inside {}
            raise BadRequestData(f"Invalid q: unexpected ':' in {p.names[0]}")
        return p

    def exists(self, c: list[AttrPath]) -> Exists:
        return Exists(self._outer(c[0]))

    def not_exists(self, c: list[AttrPath]) -> Exists:
        return Exists(self._outer(c[0]), negated=True)

    def compare(self, c: list[Any]) -> Comparison:
        _require_comparable(c[2], str(c[1]))
        return Comparison(self._outer(c[0]), str(c[1]), c[2])

    def equal(self, c: list[Any]) -> Comparison:
        return Comparison(self._outer(c[0]), str(c[1]), c[2])

    def match(self, c: list[Any]) -> Comparison:
        return Comparison(self._outer(c[0]), str(c[1]), c[2])


def _require_comparable(v: Scalar, op: str) -> None:
    # §4.9 ABNF: ordering operators and ranges take a ComparableValue (no boolean, no URI)
    if isinstance(v, bool | Term):
        raise BadRequestData(f"Invalid q: '{op}' needs a number, quoted string or date/time, "
                             f"not {_fmt(v)}")


def _flatten(kind: type[And] | type[Or], items: list[QExpr]) -> tuple[QExpr, ...]:
    out: list[QExpr] = []
    for i in items:
        out.extend(i.items if isinstance(i, kind) else (i,))
    return tuple(out)


def parse_q(text: str) -> QExpr:
    """Parse a `q` string; raise BadRequestData naming the position of a syntax error."""
    if not isinstance(text, str) or not text:
        raise BadRequestData("Invalid q: empty query")
    return _parse_cached(text)


@lru_cache(maxsize=1024)  # ASTs are immutable; subscriptions and pages repeat the same q
def _parse_cached(text: str) -> QExpr:
    ast: QExpr = parse_text(_PARSER, _ToAst(), text, "q", _describe)
    return ast


def _describe(text: str, exc: UnexpectedInput) -> str:
    pos = getattr(exc, "pos_in_stream", None)
    at_end = isinstance(exc, UnexpectedToken) and exc.token.type == "$END"
    if isinstance(exc, UnexpectedEOF) or at_end or pos is None or pos >= len(text):
        return f"Invalid q at position {len(text)} (end of query): the query is incomplete"
    if isinstance(exc, UnexpectedToken):
        return f"Invalid q at position {pos}: unexpected {str(exc.token)!r}"
    if isinstance(exc, UnexpectedCharacters):
        return f"Invalid q at position {pos}: unexpected character {text[pos]!r}"
    return f"Invalid q at position {pos}"


# ---------------------------------------------------------------- evaluation

@dataclass(frozen=True)
class _Ctx:
    expand: Expand
    expand_value: Callable[[str, str], str] | None
    resolve: Resolve | None


_NO = object()  # "type mismatch": compares unequal to everything
_NUM = (int, float)
_EMPTY: dict[str, Any] = {}
_UTC = UTC


@lru_cache(maxsize=65536)
def _parse_dt(s: str) -> Any:
    try:
        d = datetime.fromisoformat(s.replace(",", "."))
    except ValueError:
        return _NO
    return d.replace(tzinfo=_UTC) if d.tzinfo is None else d


@lru_cache(maxsize=4096)
def _parse_date(s: str) -> Any:
    try:
        return date.fromisoformat(s)
    except ValueError:
        return _NO


@lru_cache(maxsize=4096)
def _parse_time(s: str) -> Any:
    try:
        return time.fromisoformat(s.replace(",", ".")).replace(tzinfo=None)
    except ValueError:
        return _NO


def _temporal_key(tag: str, parse: Callable[[str], Any]) -> Callable[[Any], Any]:
    def key(x: Any) -> Any:
        if type(x) is str:
            return parse(x)
        if type(x) is dict and x.get("@type") == tag and type(x.get("@value")) is str:
            return parse(x["@value"])
        return _NO
    return key


_KEY_DT = _temporal_key("DateTime", _parse_dt)
_KEYS: dict[str, tuple[Callable[[Any], Any], Callable[[str], Any]]] = {
    "DateTime": (_KEY_DT, _parse_dt),
    "Date": (_temporal_key("Date", _parse_date), _parse_date),
    "Time": (_temporal_key("Time", _parse_time), _parse_time),
}


def _key_num(x: Any) -> Any:
    return x if type(x) in _NUM else _NO


def _key_bool(x: Any) -> Any:
    return x if type(x) is bool else _NO


def _key_str(x: Any) -> Any:
    return x if type(x) is str else _NO


def _scalar_key(v: Scalar, attr: str, ctx: _Ctx) -> tuple[Callable[[Any], Any], Any]:
    """(key, q): a target x matches when key(x) is not _NO and compares to q."""
    if isinstance(v, bool):
        return _key_bool, v
    if isinstance(v, int | float):
        return _key_num, v
    if isinstance(v, Temporal):
        key, parse = _KEYS[v.kind]
        return key, parse(v.text)
    s = v.text if isinstance(v, Term) else v
    if ctx.expand_value is not None:
        s = ctx.expand_value(attr, s)
    if isinstance(v, str) and _DATETIME.fullmatch(s):  # "2020-01-01T00:00:00Z" vs createdAt
        return _KEY_DT, _parse_dt(s)
    return _key_str, s


# A target is (value, is_relationship) for one instance: value is a scalar or a list of
# candidate scalars (array elements, languageMap values); None when the element does not exist.
Target = tuple[Any, bool]
Targets = Callable[[Entity], Iterator[Target]]
Test = Callable[[Any, bool], bool]


def _instance_target(inst: dict[str, Any], members: tuple[str, ...]) -> Target | None:
    t = inst.get("type")
    rel = False
    if t == "Property" or t == "GeoProperty":
        v = inst.get("value")
    elif t == "Relationship":
        v, rel = inst.get("object"), True
    elif t == "ListRelationship":
        v, rel = inst.get("objectList"), True
    elif t == "LanguageProperty":
        lm = inst.get("languageMap") or {}
        if not members or members[0] == "*":
            return (list(lm.values()), False) if lm else None
        v, members = lm.get(members[0]), members[1:]
    elif t == "VocabProperty":
        v = inst.get("vocab")
    elif t == "ListProperty":
        v = inst.get("valueList")
    elif t == "JsonProperty":
        v = inst.get("json")
    else:
        v = inst.get("value")
    for m in members:
        if type(v) is dict and m in v:
            v = v[m]
        elif type(v) is list and m.isdigit() and int(m) < len(v):
            v = v[int(m)]
        else:
            return None
    return None if v is None else (v, rel)


def _timestamp(v: str) -> dict[str, str]:
    return {"@type": "DateTime", "@value": v}


def _compile_path(path: AttrPath, ctx: _Ctx) -> Targets:
    names, members, linked = path.names, path.members, path.linked
    head = names[0]
    if len(names) == 1 and head in _ENTITY_TIMESTAMPS and not members and linked is None:
        def entity_ts(e: Entity) -> Iterator[Target]:
            v = e.get(head)
            if v is not None:
                yield _timestamp(v), False
        return entity_ts
    iri = ctx.expand(head)
    steps: list[tuple[bool, str]] = []  # (is_metadata, name or IRI)
    for i, n in enumerate(names[1:], 1):
        if n in METADATA and i == len(names) - 1:
            steps.append((True, n))
        else:
            steps.append((False, ctx.expand(n)))
    final: Callable[[dict[str, Any]], Iterator[Target]]
    if linked is not None:
        inner = _compile_path(linked.path, ctx)
        type_iri = ctx.expand(linked.entity_type) if linked.entity_type else None
        resolve = ctx.resolve

        def final(inst: dict[str, Any]) -> Iterator[Target]:
            target = _instance_target(inst, ())
            if resolve is None or target is None or not target[1]:
                return
            for obj in target[0] if type(target[0]) is list else (target[0],):
                other = resolve(obj) if type(obj) is str else None
                if other is None or (type_iri and type_iri not in other.get("type", ())):
                    continue
                yield from inner(other)
    else:
        def final(inst: dict[str, Any]) -> Iterator[Target]:
            target = _instance_target(inst, members)
            if target is not None:
                yield target

    def walk(instances: list[dict[str, Any]], depth: int) -> Iterator[Target]:
        if depth == len(steps):
            for inst in instances:
                yield from final(inst)
            return
        is_meta, name = steps[depth]
        for inst in instances:
            if is_meta:
                v = inst.get(name)
                if v is not None:
                    yield (_timestamp(v) if name in _TIMESTAMP_META else v), False
            else:
                sub = (inst.get("subattrs") or {}).get(name)
                if sub:
                    yield from walk(sub, depth + 1)

    def targets(e: Entity) -> Iterator[Target]:
        insts = e.get("attrs", _EMPTY).get(iri)
        if insts:
            yield from walk(insts, 0)
    return targets


_ORDER = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


def _scalar_hit(op: str, v: Scalar, attr: str, ctx: _Ctx) -> Callable[[Any], bool]:
    """hit(x): does one candidate scalar satisfy `op v`? (== for the equality family)"""
    key, q = _scalar_key(v, attr, ctx)
    cmp = _ORDER.get(op, operator.eq)
    # the common kinds get closures without the key indirection (the hot path)
    if key is _key_num:
        return lambda x: type(x) in _NUM and cmp(x, q)
    if key is _key_str:
        return lambda x: type(x) is str and cmp(x, q)
    if key is _key_bool:
        return lambda x: type(x) is bool and cmp(x, q)

    def hit(x: Any) -> bool:
        k = key(x)
        return k is not _NO and cmp(k, q)
    return hit


def _compile_test(c: Comparison, ctx: _Ctx) -> Test:
    p = c.path
    while p.linked is not None:
        p = p.linked.path
    attr, op, v = p.names[-1], c.op, c.value
    if op in ("~=", "!~="):
        rx = _regex(v).search
        if op == "~=":
            return _any(lambda x: type(x) is str and rx(x) is not None)

        def no_match(xs: Any, rel: bool) -> bool:
            strs = [x for x in (xs if type(xs) is list else (xs,)) if type(x) is str]
            return bool(strs) and not any(rx(x) for x in strs)
        return no_match
    if op in _ORDER:
        return _any(_scalar_hit(op, v, attr, ctx), relationships=False)  # type: ignore[arg-type]
    if isinstance(v, Range):
        ge, le = _scalar_hit(">=", v.low, attr, ctx), _scalar_hit("<=", v.high, attr, ctx)
        hit: Callable[[Any], bool] = lambda x: ge(x) and le(x)  # noqa: E731
    elif isinstance(v, tuple):
        hits = [_scalar_hit("==", x, attr, ctx) for x in v]
        hit = lambda x: any(h(x) for h in hits)  # noqa: E731
    else:
        hit = _scalar_hit("==", v, attr, ctx)
    test = _any(hit)
    if op == "==":
        return test
    # != : the element exists and none of its values equals (differing types are unequal)
    return lambda xs, rel: not test(xs, rel)


def _any(hit: Callable[[Any], bool], relationships: bool = True) -> Test:
    def test(xs: Any, rel: bool) -> bool:
        if rel and not relationships:  # §4.9: a Relationship only takes == and !=
            return False
        if type(xs) is list:
            return any(hit(x) for x in xs)
        return hit(xs)
    return test


def _all_of(preds: list[Predicate]) -> Predicate:
    if len(preds) == 2:
        a, b = preds
        return lambda e: a(e) and b(e)
    if len(preds) == 3:
        a, b, c = preds
        return lambda e: a(e) and b(e) and c(e)
    return lambda e: all(p(e) for p in preds)


def _any_of(preds: list[Predicate]) -> Predicate:
    if len(preds) == 2:
        a, b = preds
        return lambda e: a(e) or b(e)
    return lambda e: any(p(e) for p in preds)


def _compile(node: QExpr, ctx: _Ctx) -> Predicate:
    if isinstance(node, And):
        return _all_of([_compile(i, ctx) for i in node.items])
    if isinstance(node, Or):
        return _any_of([_compile(i, ctx) for i in node.items])
    path = node.path  # type: ignore[attr-defined]
    simple = (len(path.names) == 1 and path.linked is None
              and path.names[0] not in _ENTITY_TIMESTAMPS)
    if isinstance(node, Exists):
        if simple:  # existence of a plain attribute: a dictionary lookup
            iri, members, neg = ctx.expand(path.names[0]), path.members, node.negated

            def has(e: Entity) -> bool:
                for inst in e.get("attrs", _EMPTY).get(iri) or ():
                    if _instance_target(inst, members) is not None:
                        return not neg
                return neg
            return has
        targets = _compile_path(path, ctx)
        if node.negated:
            return lambda e: next(targets(e), None) is None
        return lambda e: next(targets(e), None) is not None
    assert isinstance(node, Comparison)
    test = _compile_test(node, ctx)
    if simple:
        iri, members = ctx.expand(path.names[0]), path.members

        def simple_pred(e: Entity) -> bool:
            for inst in e.get("attrs", _EMPTY).get(iri) or ():
                target = _instance_target(inst, members)
                if target is not None and test(target[0], target[1]):
                    return True
            return False
        return simple_pred
    targets = _compile_path(path, ctx)
    return lambda e: any(test(xs, rel) for xs, rel in targets(e))
