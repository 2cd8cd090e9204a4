"""The guardian's notices, from sightings and the clock (pure: no platform, no wall clock).

Three rules, each documented in docs/services/watch-over.md ("The notice rules"):

- **School gate** (arrived / left): a *pass* is a sighting by one of the tag's school-gate
  receivers at `gate_rssi` dBm or stronger after `gate_gap_s` (default 30 min) without one.
  Passes of a JST day alternate: the first is 登校 (arrived), the next 下校 (left), …
- **Not seen** in the daytime: when the tag has not been heard for `not_seen_hours`
  (default 3) counted only within the daytime window (07:00–19:00 JST), one notice; the
  next sighting re-arms it. A night without sightings is not silence, nor is a school day
  between 登校 and 下校 (the child is at school, out of the gate receiver's range).
- **Outside the safe area at night**: between `night_from` (20:00) and `night_to` (06:00
  JST), when the last-seen place (hysteresis applied) lies outside the tag's safe area, one
  notice per night and episode; coming back inside re-arms it.

Tags without consent in force are ignored: no state, no notice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from cityos.services.watchover.lastseen import Hysteresis, LastSeen
from cityos.services.watchover.model import JST, Notice, Receiver, Sighting, Tag, jst


@dataclass(frozen=True)
class RuleSettings:
    gate_rssi: float = -85.0
    gate_gap_s: float = 1800.0
    not_seen_hours: float = 3.0
    day_from: int = 7  # JST hour the daytime starts
    day_to: int = 19  # JST hour the daytime ends
    night_from: int = 20
    night_to: int = 6


def daytime_seconds(start: dt.datetime, end: dt.datetime, day_from: int, day_to: int) -> float:
    """Seconds of [start, end) that fall within day_from:00–day_to:00 JST on any day."""
    if end <= start:
        return 0.0
    total = 0.0
    day = jst(start).date()
    last = jst(end).date()
    while day <= last:
        lo = dt.datetime.combine(day, dt.time(day_from), JST)
        hi = dt.datetime.combine(day, dt.time(day_to), JST)
        total += max(0.0, (min(hi, end) - max(lo, start)).total_seconds())
        day += dt.timedelta(days=1)
    return total


def night_of(at: dt.datetime, night_from: int, night_to: int) -> dt.date | None:
    """The JST date the night began on, when `at` is at night; else None."""
    local = jst(at)
    if local.hour >= night_from:
        return local.date()
    if local.hour < night_to:
        return local.date() - dt.timedelta(days=1)
    return None


@dataclass
class _TagRules:
    last_heard: dt.datetime | None = None
    gate_heard: dict[str, dt.datetime] = field(default_factory=dict)
    passes: dict[dt.date, int] = field(default_factory=dict)  # JST day -> passes so far
    silent_told: bool = False
    outside_night: dt.date | None = None  # the night an outside notice was given


class Watcher:
    """Applies the last-seen rule and the notice rules to the registered, consented tags."""

    def __init__(self, receivers: dict[str, Receiver], tags: dict[str, Tag],
                 rules: RuleSettings | None = None, hysteresis: Hysteresis | None = None,
                 registered_at: dt.datetime | None = None) -> None:
        self.receivers = receivers
        self.tags = tags
        self.rules = rules or RuleSettings()
        self.last_seen = LastSeen(hysteresis)
        self.state: dict[str, _TagRules] = {}
        self.registered_at = registered_at  # silence counts from here for a tag never seen

    def watched(self, tag: str) -> bool:
        known = self.tags.get(tag)
        return known is not None and known.consent

    def forget(self, tag: str) -> None:
        self.last_seen.forget(tag)
        self.state.pop(tag, None)

    def sighting(self, s: Sighting) -> list[Notice]:
        """Notices caused by one sighting (in time order)."""
        if not self.watched(s.tag):
            return []
        tag = self.tags[s.tag]
        state = self.state.setdefault(s.tag, _TagRules())
        notices: list[Notice] = []
        if state.last_heard is None or s.at >= state.last_heard:
            state.last_heard = s.at
            state.silent_told = False
        if s.receiver in tag.school_gates and s.rssi >= self.rules.gate_rssi:
            before = state.gate_heard.get(s.receiver)
            state.gate_heard[s.receiver] = s.at
            if before is None or (s.at - before).total_seconds() >= self.rules.gate_gap_s:
                day = jst(s.at).date()
                n = state.passes.get(day, 0)
                state.passes = {day: n + 1}
                notices.append(Notice(s.tag, "arrived" if n % 2 == 0 else "left", s.at,
                                      s.receiver))
        self.last_seen.observe(s)
        notices += self._night(tag, state, s.at)
        return notices

    def _night(self, tag: Tag, state: _TagRules, at: dt.datetime) -> list[Notice]:
        night = night_of(at, self.rules.night_from, self.rules.night_to)
        place = self.last_seen.place(tag.id)
        if night is None or tag.safe_area is None or place is None:
            return []
        receiver = self.receivers.get(place.receiver)
        where = place.location or (receiver.location if receiver else None)
        if where is None:
            return []
        if tag.safe_area.contains(where):
            state.outside_night = None
            return []
        if state.outside_night == night:
            return []
        state.outside_night = night
        return [Notice(tag.id, "outside-at-night", at, place.receiver)]

    @staticmethod
    def _at_school(state: _TagRules, now: dt.datetime) -> bool:
        """Arrived at the school gate today and not yet left."""
        return _at_school_today(state.passes, now)

    def tick(self, now: dt.datetime) -> list[Notice]:
        """Notices the passing of time causes (call every minute or so)."""
        notices = []
        for tag in self.tags.values():
            if not tag.consent:
                continue
            state = self.state.setdefault(tag.id, _TagRules())
            since = state.last_heard or self.registered_at
            if since is None or state.silent_told or self._at_school(state, now):
                continue
            quiet = daytime_seconds(since, now, self.rules.day_from, self.rules.day_to)
            if quiet >= self.rules.not_seen_hours * 3600:
                state.silent_told = True
                place = self.last_seen.place(tag.id)
                notices.append(Notice(tag.id, "not-seen", now,
                                      place.receiver if place else None,
                                      since=state.last_heard))
        return notices


def _at_school_today(passes: dict[dt.date, int], now: dt.datetime) -> bool:
    return passes.get(jst(now).date(), 0) % 2 == 1


def run_day(watcher: Watcher, sightings: list[Sighting], start: dt.datetime,
            end: dt.datetime, step_s: float = 60.0) -> list[Notice]:
    """Replay a recorded day: sightings in time order, the clock ticking every `step_s`."""
    notices: list[Notice] = []
    queue = sorted(sightings, key=lambda s: s.at)
    now, i = start, 0
    while now <= end:
        while i < len(queue) and queue[i].at <= now:
            notices += watcher.sighting(queue[i])
            i += 1
        notices += watcher.tick(now)
        now += dt.timedelta(seconds=step_s)
    return notices
