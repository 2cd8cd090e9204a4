"""How long the watch-over data is kept: raw sightings short, the last-seen place longer.

Settings (cityos.toml `[services.options.watchover]`): `sightings_days` (default 7) for raw
sightings and the day's history, `last_seen_days` (default 90) for the last-seen place and the
notices. Erasure and a withdrawn consent remove everything of the tag at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

SIGHTINGS_DAYS = 7
LAST_SEEN_DAYS = 90


@dataclass(frozen=True)
class Retention:
    sightings_days: int = SIGHTINGS_DAYS
    last_seen_days: int = LAST_SEEN_DAYS

    def sightings_cutoff(self, now: dt.datetime) -> dt.datetime:
        return now - dt.timedelta(days=self.sightings_days)

    def last_seen_cutoff(self, now: dt.datetime) -> dt.datetime:
        return now - dt.timedelta(days=self.last_seen_days)


def expired(items: Iterable[tuple[dt.datetime, T]], cutoff: dt.datetime) -> list[T]:
    """The items (at, item) older than the cutoff: to delete."""
    return [item for at, item in items if at < cutoff]
