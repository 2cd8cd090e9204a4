"""The hooks the NGSI layer calls on personal data, with their do-nothing defaults.

`app.state.tracker` receives every release of entities (issue 6, the data tracker); until
personal/ installs its own, a `NullTracker` takes the calls and drops them.
"""

from __future__ import annotations

from typing import Protocol

from cityos.storage.base import Entity


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
