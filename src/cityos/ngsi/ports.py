"""What the NGSI layer asks of the parts around it, as protocols with safe defaults.

The broker never imports personal/ or access/: they install their implementations on the
app's state at start (`app.state.tracker`, `.readers`, `.type_grants`), and until they do
(a broker on its own, in tests) the defaults here answer: record nothing, read non-personal
rows only, every type granted (the gate is what makes a principal at all).
"""

from __future__ import annotations

from typing import Protocol

from starlette.requests import Request

from cityos.storage.base import Entity, Reader


class Tracker(Protocol):
    """Told of every entity released to a principal; synchronous and cheap (it queues)."""

    def released(self, principal_sub: str, tenant: str, entities: list[Entity], *,
                 purpose: str | None, via: str) -> None:
        """`via`: "retrieve", "query", "batch", "temporal", "notification", "federation"."""
        ...


class NullTracker:
    """Records nothing: the tracker before personal/ installs its own."""

    def released(self, principal_sub: str, tenant: str, entities: list[Entity], *,
                 purpose: str | None, via: str) -> None:
        return None


NULL_TRACKER = NullTracker()


def tracker_of(state: object) -> Tracker:
    """`app.state.tracker`, or the NullTracker when none is installed."""
    return getattr(state, "tracker", None) or NULL_TRACKER


class Readers(Protocol):
    """Which personal rows the caller of a request may read (personal/: consents, mandates)."""

    def reader_for(self, request: Request) -> Reader: ...


class _NonPersonal:
    def reader_for(self, request: Request) -> Reader:
        return Reader()


NON_PERSONAL = _NonPersonal()


def readers_of(state: object) -> Readers:
    """`app.state.readers`, or non-personal rows only when none is installed."""
    return getattr(state, "readers", None) or NON_PERSONAL


class TypeGrants(Protocol):
    """A principal's read grants now (access/: the account, cached briefly like the gate's)."""

    async def reads(self, sub: str) -> frozenset[str] | None:
        """The expanded entity types `sub` may read now; None: every type."""
        ...


class _EveryType:
    async def reads(self, sub: str) -> frozenset[str] | None:
        return None


EVERY_TYPE = _EveryType()


def type_grants_of(state: object) -> TypeGrants:
    """`app.state.type_grants`, or every type when none is installed."""
    return getattr(state, "type_grants", None) or EVERY_TYPE
