"""Sightings → a last-seen place, with smoothing, hysteresis and a hold time (no flapping).

A tag near two receivers is heard by both, and its RSSI jumps by 10 dB from one second to the
next (bodies, walls, the tag's orientation). Taking "the receiver that heard it best last" as
its place makes it flap between the two. The rule (docs/services/watch-over.md, "The
last-seen rule"):

1. **Smoothing.** Each receiver's RSSI for a tag is smoothed, s ← s + α·(r − s) (α = 0.3),
   started afresh at the raw value when that receiver had not heard the tag for `stale_s`.
2. **First place, or the current receiver went quiet.** With no place yet, or when the
   current receiver has not heard the tag for `stale_s` (default 180 s), the receiver of
   the sighting becomes the place at once: there is no competitor to flap with.
3. **Hysteresis and hold.** Otherwise another receiver B replaces the current A only when
   B's smoothed RSSI beats A's by at least `margin_db` (default 6 dB) at every sighting of
   A or B for at least `hold_s` (default 60 s). A sighting that breaks the margin starts the
   hold again.

Sightings must come in time order per tag; an older one than the last processed is ignored
for the place (it is still a raw sighting).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from cityos.services.watchover.model import Move, Place, Sighting

ALPHA = 0.3


@dataclass(frozen=True)
class Hysteresis:
    """The rule's parameters (town settings: [services.options.watchover])."""

    margin_db: float = 6.0
    hold_s: float = 60.0
    stale_s: float = 180.0
    alpha: float = ALPHA


@dataclass
class _Heard:
    rssi: float  # smoothed
    at: dt.datetime  # last sighting by this receiver
    location: tuple[float, float] | None


@dataclass
class TagTrack:
    """One tag's state: the smoothed RSSI per receiver, the place, the receivers ahead."""

    tag: str
    place: Place | None = None
    heard: dict[str, _Heard] = field(default_factory=dict)
    ahead_since: dict[str, dt.datetime] = field(default_factory=dict)
    last: dt.datetime | None = None  # the latest sighting processed

    def observe(self, s: Sighting, rule: Hysteresis) -> Move | None:
        """Take in one sighting; the move when the place changed."""
        if self.last is not None and s.at < self.last:
            return None
        self.last = s.at
        stale = dt.timedelta(seconds=rule.stale_s)
        prior = self.heard.get(s.receiver)
        if prior is None or s.at - prior.at >= stale:
            self.heard[s.receiver] = _Heard(s.rssi, s.at, s.location)
        else:
            prior.rssi += rule.alpha * (s.rssi - prior.rssi)
            prior.at, prior.location = s.at, s.location or prior.location
        if self.place is None or s.at - self.heard[self.place.receiver].at >= stale:
            return self._move_to(s)
        current = self.place.receiver
        if s.receiver == current:
            self.place = Place(current, self.place.since, s.at, s.location or
                               self.place.location)
            level = self.heard[current].rssi + rule.margin_db
            for other in list(self.ahead_since):
                if self.heard[other].rssi < level or s.at - self.heard[other].at >= stale:
                    del self.ahead_since[other]
            return None
        if self.heard[s.receiver].rssi >= self.heard[current].rssi + rule.margin_db:
            since = self.ahead_since.setdefault(s.receiver, s.at)
            if (s.at - since).total_seconds() >= rule.hold_s:
                return self._move_to(s)
        else:
            self.ahead_since.pop(s.receiver, None)
        return None

    def _move_to(self, s: Sighting) -> Move:
        previous = self.place.receiver if self.place else None
        self.place = Place(s.receiver, s.at, s.at, s.location)
        self.ahead_since.clear()
        return Move(self.tag, s.at, s.receiver, previous, s.location)


class LastSeen:
    """The last-seen place of every tag."""

    def __init__(self, rule: Hysteresis | None = None) -> None:
        self.rule = rule or Hysteresis()
        self.tracks: dict[str, TagTrack] = {}

    def observe(self, sighting: Sighting) -> Move | None:
        track = self.tracks.setdefault(sighting.tag, TagTrack(sighting.tag))
        return track.observe(sighting, self.rule)

    def place(self, tag: str) -> Place | None:
        track = self.tracks.get(tag)
        return track.place if track else None

    def forget(self, tag: str) -> None:
        """Erasure or consent withdrawn: nothing of the tag is kept."""
        self.tracks.pop(tag, None)


def replay(sightings: list[Sighting], rule: Hysteresis | None = None) -> list[Move]:
    """The moves a recorded sequence gives (sorted by time first)."""
    last_seen = LastSeen(rule)
    moves = []
    for s in sorted(sightings, key=lambda s: s.at):
        move = last_seen.observe(s)
        if move is not None:
            moves.append(move)
    return moves
