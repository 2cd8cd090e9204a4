"""Per-entity-type grants of organisations: which company may read or write which types.

Data linkage (MIC guideline データ連携②). A grant names an entity type as an expanded IRI:
a name without ':' (`Shelter`) is the default-context IRI
(`https://uri.etsi.org/ngsi-ld/default-context/Shelter`), a name with ':' is an IRI as it is;
`*` grants every type. The grants are not decided here but where data is released and
written (issue 18): read grants ride in the store's `Reader` (applied in SQL on every read
path), write grants in its `Writer` (checked inside the write's transaction, on the types
stored and written after @context expansion). The gate decides only what does not depend on
the data: an operation whose answer is not filtered by type (the types and attributes lists,
registrations, context source subscriptions, @contexts) needs `*` of its kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cityos.operations import NGSI_READ, NGSI_WRITE, Operation

DEFAULT_VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
EVERY = "*"
# operations whose answers the store filters by the caller's type grants (or whose writes it
# checks): entities, batch operations, temporal entities, subscriptions (checked at creation,
# filtered at delivery), and NGSI v2's entities, batch operations and subscriptions
_FILTERED = ("/ngsi-ld/v1/entities", "/ngsi-ld/v1/entityOperations/",
             "/ngsi-ld/v1/temporal/entities", "/ngsi-ld/v1/temporal/entityOperations/",
             "/ngsi-ld/v1/subscriptions", "/v2/entities", "/v2/op/", "/v2/subscriptions")

_ENTITY_APIS = ("/ngsi-ld/", "/v2/")  # operations that answer about entities of some type


def mode_of(op: Operation) -> str | None:
    """`read` or `write` for NGSI operations that organisations may call, else None (another
    part's operation with an equal policy, such as an organisation's own consents, answers
    about no entity type)."""
    if not op.path.startswith(_ENTITY_APIS):
        return None
    policy = op.access
    return "read" if policy == NGSI_READ else "write" if policy == NGSI_WRITE else None


def expand(name: str) -> str:
    """The type IRI a grant names: as it is with ':', else in the default context."""
    return name if ":" in name else DEFAULT_VOCAB + name


@dataclass(frozen=True)
class TypeGrants:
    """What an organisation may read and write, as expanded type IRIs (None: every type)."""

    reads: frozenset[str] | None
    writes: frozenset[str] | None


EVERYTHING = TypeGrants(None, None)


def type_grants(grants: dict[str, Any] | None) -> TypeGrants:
    """An account's stored grants ({"read": [...], "write": [...]}) as `TypeGrants`."""
    grants = grants or {}
    return _type_grants(tuple(grants.get("read") or ()), tuple(grants.get("write") or ()))


@lru_cache(maxsize=4096)
def _type_grants(read: tuple[str, ...], write: tuple[str, ...]) -> TypeGrants:
    def one(names: tuple[str, ...]) -> frozenset[str] | None:
        return None if EVERY in names else frozenset(expand(n) for n in names)

    return TypeGrants(one(read), one(write))


def refusal(op: Operation, grants: TypeGrants) -> str | None:
    """Why an organisation with `grants` may not call `op` at all (None: it may, and the
    store releases and accepts only the types it is granted)."""
    mode = mode_of(op)
    if mode is None or op.path.startswith(_FILTERED):
        return None
    if (grants.reads if mode == "read" else grants.writes) is None:
        return None
    return (f"{op.method} {op.path} answers about every entity type: it needs a {mode} grant "
            f"on every type ('*')")


def granted(names: list[str], type_name: str) -> bool:
    """Whether grant names (an account's stored list) cover `type_name` (a name or an IRI,
    expanded the same way)."""
    return EVERY in names or expand(type_name) in {expand(n) for n in names}


def local_name(type_name: str) -> str:
    """The last segment of a type IRI (`.../default-context/Shelter` → `Shelter`): for
    messages, never for deciding."""
    return type_name.rstrip("/#").replace("#", "/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
