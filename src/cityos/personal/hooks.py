"""The hooks the NGSI layer calls on personal data (`cityos.ngsi.ports`), re-exported.

`app.state.tracker` receives every release of entities (issue 6, the data tracker) and
`app.state.readers` makes each request's consent `Reader`; until personal/ installs its own,
the ports' defaults take the calls (record nothing, non-personal rows only).
"""

from __future__ import annotations

from cityos.ngsi.ports import NULL_TRACKER, NullTracker, Tracker, tracker_of

__all__ = ["NULL_TRACKER", "NullTracker", "Tracker", "tracker_of"]
