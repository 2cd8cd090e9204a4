"""Running a query-language grammar: nesting bounds and Lark errors turned into BadRequestData.

Shared by q (§4.9), scopeQ (§4.19) and the type selection language (§4.17).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lark import Lark, Transformer
from lark.exceptions import LarkError, UnexpectedInput, VisitError

from cityos.ngsi.errors import BadRequestData, NgsiError

MAX_DEPTH = 32  # nesting of (), {} in canonical text; deeper could exhaust the stack


def nesting_depth(text: str) -> int:
    """Deepest nesting of () and {} outside quoted strings."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "({":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")}":
            depth -= 1
    return deepest


def parse_text(parser: Lark, to_ast: Transformer[Any, Any], text: str, what: str,
               describe: Callable[[str, UnexpectedInput], str]) -> Any:
    """The AST of `text`, or BadRequestData: "Invalid {what}: …" with the error position."""
    too_deep = f"Invalid {what}: nested deeper than {MAX_DEPTH} levels"
    if nesting_depth(text) > 2 * MAX_DEPTH:  # before lark recurses over it
        raise BadRequestData(too_deep)
    try:
        ast = to_ast.transform(parser.parse(text))
    except VisitError as exc:
        if isinstance(exc.orig_exc, NgsiError):
            raise exc.orig_exc from None
        raise BadRequestData(f"Invalid {what}: {exc.orig_exc}") from None
    except UnexpectedInput as exc:
        raise BadRequestData(describe(text, exc)) from None
    except (LarkError, RecursionError) as exc:
        raise BadRequestData(f"Invalid {what}: {type(exc).__name__}") from None
    if nesting_depth(str(ast)) > MAX_DEPTH:  # so the canonical text always parses back
        raise BadRequestData(too_deep)
    return ast


def error_position(text: str, exc: UnexpectedInput) -> int:
    """Where parsing failed; the end of the text when the input stopped too early."""
    pos = getattr(exc, "pos_in_stream", None)
    token = getattr(exc, "token", None)
    if pos is None or pos >= len(text) or (token is not None and token.type == "$END"):
        return len(text)
    return int(pos)
