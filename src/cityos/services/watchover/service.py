"""The watch-over service at work: tags, consents, sightings in, notices out — all through
the platform's API with the service's own identity (a `Client`, never the store).

State in memory (rebuilt from the platform at start): the registered tags, whose consent is
in force, the last-seen tracker and the notice rules' state, today's sightings per tag.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import secrets
import time
from dataclasses import dataclass, field, replace
from typing import Any

from cityos.services.client import PlatformClient, PlatformError
from cityos.services.watchover import entities as E
from cityos.services.watchover.lastseen import Hysteresis
from cityos.services.watchover.model import (
    RECEIVER_KINDS,
    SITES,
    Notice,
    Receiver,
    SafeArea,
    Sighting,
    Tag,
    jst,
)
from cityos.services.watchover.retention import Retention
from cityos.services.watchover.rules import RuleSettings, Watcher
from cityos.services.watchover.search import STAFF_NAME, SearchRequest, new_request, request_of
from cityos.services.watchover.texts import notice_text

# a search request's id as new_request makes it: the URN, the tag, a random suffix
SEARCH_ID = re.compile(r"^urn:ngsi-ld:WatchSearchRequest:[A-Za-z0-9][A-Za-z0-9_.-]{2,63}-[0-9a-f]{12}$")

log = logging.getLogger("cityos.services.watchover")
CATEGORY = "location"
PURPOSE = "ServiceProvision"
CONSENT_TTL = 5.0  # seconds a consent answer is cached (a withdrawal: what came in is deleted)
WAITING_TTL = 0.0  # a registered tag waiting for consent is heard: ask again after this
RECEIVER_TYPE = "BeaconReceiver"
NOTICE = ("見守りタグの検知を記録し、最後に確認された場所と、登校・下校、長時間見つからないとき、夜間に"
          "安心エリアの外にいるときのお知らせを、タグを登録した保護者に届けます。同意しないと何も記録"
          "されません。 / We record where your watch-over tag is seen and tell the guardian who "
          "registered it the last-seen place, school arrival and leaving, long silences and "
          "being outside the safe area at night. Without your consent nothing is recorded.")


def utcnow() -> dt.datetime:
    """The wall clock (one place, so that tests can set it)."""
    return dt.datetime.now(dt.UTC)


class WatchError(ValueError):
    """Bad input from a guardian or staff: (Japanese, English) and an HTTP status."""

    def __init__(self, ja: str, en: str, status: int = 400) -> None:
        super().__init__(f"{ja} / {en}")
        self.ja, self.en, self.status = ja, en, status


@dataclass(frozen=True)
class WatchSettings:
    hysteresis: Hysteresis = field(default_factory=Hysteresis)
    rules: RuleSettings = field(default_factory=RuleSettings)
    retention: Retention = field(default_factory=Retention)
    search_hours_max: float = 24.0

    @staticmethod
    def of(options: dict[str, Any]) -> WatchSettings:
        """From `[services.options.watchover]` (unknown keys ignored, bad values refused)."""
        def num(key: str, default: float) -> float:
            raw = options.get(key, default)
            if isinstance(raw, bool) or not isinstance(raw, int | float) or raw < 0:
                raise WatchError(f"設定 {key} は0以上の数です", f"setting {key} is a number ≥ 0")
            return float(raw)

        return WatchSettings(
            Hysteresis(num("margin_db", 6.0), num("hold_s", 60.0), num("stale_s", 180.0)),
            RuleSettings(gate_rssi=-num("gate_rssi_abs", 85.0),
                         gate_gap_s=num("gate_gap_s", 1800.0),
                         not_seen_hours=num("not_seen_hours", 3.0),
                         day_from=int(num("day_from", 7)), day_to=int(num("day_to", 19)),
                         night_from=int(num("night_from", 20)),
                         night_to=int(num("night_to", 6))),
            Retention(int(num("sightings_days", 7)), int(num("last_seen_days", 90))),
            num("search_hours_max", 24.0))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def receiver_of(entity: dict[str, Any]) -> Receiver:
    """A WatchReceiver (the service's register: name, kind, site) or a BeaconReceiver (fed
    by an IoT device, named by its id) as a receiver; its key is what sightings name."""
    rid = str(E.value(entity.get("receiver")) or entity["id"])
    kind = str(E.value(entity.get("receiverKind")) or "fixed")
    site = str(E.value(entity.get("site")) or "street")
    loc = E.value(entity.get("location"))
    where = None
    if isinstance(loc, dict) and isinstance(loc.get("coordinates"), list):
        lon, lat = loc["coordinates"][:2]
        where = (float(lon), float(lat))
    name = str(E.value(entity.get("name")) or rid.rpartition(":")[2])
    return Receiver(rid, name, kind if kind in RECEIVER_KINDS else "fixed",  # type: ignore[arg-type]
                    site if site in SITES else "street", where)


def sighting_of(entity: dict[str, Any]) -> Sighting | None:
    """The sighting a BeaconReceiver notification carries (lastBeacon, rssi, location)."""
    tag = E.value(entity.get("lastBeacon"))
    rssi = E.value(entity.get("rssi"))
    if not isinstance(tag, str) or isinstance(rssi, bool) or not isinstance(rssi, int | float):
        return None
    attr = entity.get("lastBeacon")
    at = E.parse_time(attr.get("observedAt") if isinstance(attr, dict) else None) \
        or dt.datetime.now(dt.UTC)
    loc = E.value(entity.get("location"))
    where = None
    if isinstance(loc, dict) and isinstance(loc.get("coordinates"), list):
        where = (float(loc["coordinates"][0]), float(loc["coordinates"][1]))
    return Sighting(tag, str(entity["id"]), float(rssi), at, where)


@dataclass
class WatchService:
    """One town's watch-over, driven by the runtime (notifications, a clock tick)."""

    client: PlatformClient
    settings: WatchSettings = field(default_factory=WatchSettings)
    tags: dict[str, Tag] = field(default_factory=dict)
    receivers: dict[str, Receiver] = field(default_factory=dict)
    watcher: Watcher | None = None
    approved: set[str] = field(default_factory=set)  # residents whose consent is in force
    approved_at: float = 0.0
    days: dict[tuple[str, dt.date], list[list[Any]]] = field(default_factory=dict)
    moves: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    dropped: int = 0  # sightings of tags not registered or without consent (not kept)
    tokens: dict[str, str] = field(default_factory=dict)  # token hash -> receiver key
    clock: str = "wall"  # "events": now is the latest sighting's time (the demo's fast clock)
    tick_s: float = 60.0  # how often the runtime applies the clock's rules
    event_time: dt.datetime | None = None
    reported: dict[str, dt.datetime] = field(default_factory=dict)  # receiver -> last report

    def __post_init__(self) -> None:
        self.watcher = Watcher(self.receivers, self.tags, self.settings.rules,
                               self.settings.hysteresis)

    @property
    def w(self) -> Watcher:
        assert self.watcher is not None
        return self.watcher

    # the platform's state -----------------------------------------------------------------
    def now(self) -> dt.datetime:
        wall = dt.datetime.now(dt.UTC)
        if self.clock == "events" and self.event_time is not None:
            return self.event_time
        return wall

    async def load(self) -> None:
        """Receivers, tags and consents from the platform (at start and now and then)."""
        for entity in await self.client.query(RECEIVER_TYPE, key_values=False):
            receiver = receiver_of(entity)
            self.receivers.setdefault(receiver.id, receiver)
        for entity in await self.client.query("WatchReceiver"):
            receiver = receiver_of(entity)
            self.receivers[receiver.id] = receiver
            digest = E.value(entity.get("tokenHash"))
            if isinstance(digest, str) and digest:
                self.tokens[digest] = receiver.id
        await self.refresh_consents(force=True)
        seen = set()
        for entity in await self.client.query("WatchTag"):
            tag = E.tag_of(entity, consent=False)
            if tag is None:
                continue
            seen.add(tag.id)
            self.tags[tag.id] = replace(tag, consent=tag.person in self.approved)
        for gone in set(self.tags) - seen:  # erased by the platform, or deregistered
            self._forget(gone)

    async def refresh_consents(self, force: bool = False) -> None:
        """Which residents' location consent to this service is in force (cached 5 s);
        a tag whose consent ended loses everything the service kept of it."""
        if not force and time.monotonic() - self.approved_at < CONSENT_TTL:
            return
        response = await self.client.request("GET", "/personal/v1/consents",
                                             params={"state": "APPROVED"})
        items = response.json()
        now = time.time()
        self.approved = {str(c["subject"]) for c in items if c.get("category") == CATEGORY
                         and (c.get("until") is None or float(c["until"]) > now)}
        self.approved_at = time.monotonic()
        for tag in list(self.tags.values()):
            consent = tag.person in self.approved
            if tag.consent and not consent:
                await self._drop_data(tag)
            self.tags[tag.id] = replace(tag, consent=consent)

    def _forget(self, tag_id: str) -> None:
        self.tags.pop(tag_id, None)
        self.w.forget(tag_id)
        self.moves.pop(tag_id, None)
        for key in [k for k in self.days if k[0] == tag_id]:
            del self.days[key]

    async def _drop_data(self, tag: Tag) -> None:
        """Consent withdrawn: the sightings, last-seen place and notices are deleted."""
        self.w.forget(tag.id)
        self.moves.pop(tag.id, None)
        for key in [k for k in self.days if k[0] == tag.id]:
            del self.days[key]
        for kind in ("BeaconSighting", "WatchLastSeen", "WatchNotice"):
            for entity in await self.client.query(kind, q=f'tag=="{tag.id}"', attrs=["tag"]):
                await self.client.delete(str(entity["id"]))

    # guardians ----------------------------------------------------------------------------
    async def register(self, guardian: str, person: str, tag_id: str, label: str = "",
                       school_gates: tuple[str, ...] = (), safe_area: SafeArea | None = None,
                       now: dt.datetime | None = None) -> Tag:
        """A guardian registers a tag for a person; the person (or her representative) is
        asked for consent in her app. Nothing is kept of the tag's sightings until then."""
        if not E.TAG_ID.match(tag_id):
            raise WatchError("タグIDは英数字3〜64文字です",
                             "a tag id has 3 to 64 letters, digits, '.', '_' or '-'")
        if not person.startswith("res_"):
            raise WatchError("見守る方の住民IDを入れてください", "give the watched person's "
                             "resident id")
        known = self.tags.get(tag_id)
        if known is not None and known.guardian != guardian:
            raise WatchError("このタグは別の方が登録しています",
                             "another guardian registered this tag", 409)
        if person != guardian and any(t.person == person and t.guardian != guardian
                                      for t in self.tags.values()):
            # her consent is to be watched by the service, not by whoever asks: a second
            # guardian would ride on the first one's consent (review-attack finding 4)
            raise WatchError("この方は、すでに別の方が見守りに登録しています。ご家族で相談のうえ、"
                             "役場の窓口にお問い合わせください",
                             "another guardian watches this person already; please talk "
                             "with your family and ask the town office", 409)
        unknown = [g for g in school_gates if g not in self.receivers]
        if unknown:
            raise WatchError("校門の受信機が見つかりません", "no such school-gate receiver")
        if len(label) > 40:
            raise WatchError("呼び名は40文字までです", "a name has at most 40 characters")
        try:
            await self.client.ask_consent(
                person, CATEGORY, PURPOSE, service="見守り / Watch-over", notice=NOTICE)
        except PlatformError as exc:  # 409: an open consent exists already
            if exc.status == 404:
                raise WatchError("その住民は見つかりません", "no such resident", 404) from exc
            if exc.status != 409:
                raise
        tag = Tag(tag_id, person, guardian, label, school_gates, safe_area, False)
        await self.client.upsert([E.tag_entity(tag, now or dt.datetime.now(dt.UTC))])
        await self.refresh_consents(force=True)
        tag = replace(tag, consent=person in self.approved)
        self.tags[tag_id] = tag
        return tag

    def tags_of(self, guardian: str) -> list[Tag]:
        return sorted((t for t in self.tags.values() if t.guardian == guardian),
                      key=lambda t: t.label)

    async def deregister(self, guardian: str, tag_id: str) -> None:
        tag = self.tags.get(tag_id)
        if tag is None or tag.guardian != guardian:
            raise WatchError("そのタグは登録されていません", "no such tag", 404)
        await self._drop_data(tag)
        await self.client.delete(E.tag_entity_id(tag_id))
        self._forget(tag_id)

    # receivers ------------------------------------------------------------------------------
    async def add_receiver(self, receiver: Receiver, with_token: bool,
                           feeds: str | None = None) -> str | None:
        """Register (or rename) a receiver; with `with_token` a new write-only token for it,
        returned once (only its hash is kept)."""
        if not receiver.name.strip() or len(receiver.name) > 60:
            raise WatchError("受信機の名前は1〜60文字です", "a receiver's name has 1 to 60 "
                             "characters")
        token = ("wrt_" + secrets.token_urlsafe(24)) if with_token else None
        entity: dict[str, Any] = {
            "id": receiver.id if feeds is None else
            f"{E.URN}WatchReceiver:{feeds.rpartition(':')[2]}",
            "type": "WatchReceiver", "receiver": feeds or receiver.id, "name": receiver.name,
            "receiverKind": receiver.kind, "site": receiver.site}
        if receiver.location is not None:
            entity["location"] = {"type": "Point", "coordinates": list(receiver.location)}
        if token is not None:
            entity["tokenHash"] = token_hash(token)
            self.tokens = {h: r for h, r in self.tokens.items() if r != receiver.id}
            self.tokens[token_hash(token)] = receiver.id
        await self.client.upsert([entity])
        self.receivers[feeds or receiver.id] = replace(receiver, id=feeds or receiver.id)
        return token

    def receiver_by_token(self, token: str) -> Receiver | None:
        key = self.tokens.get(token_hash(token)) if token else None
        return self.receivers.get(key) if key else None

    # sightings in -------------------------------------------------------------------------
    async def ingest(self, sightings: list[Sighting]) -> list[Notice]:
        """Take in sightings (time order); keep those of consented tags, store the day's
        rows, the last-seen place and the notices; the notices."""
        await self.refresh_consents()
        if any(s.tag in self.tags and not self.tags[s.tag].consent for s in sightings) and \
                time.monotonic() - self.approved_at >= WAITING_TTL:
            await self.refresh_consents(force=True)  # she may have just said yes
        notices: list[Notice] = []
        touched: set[str] = set()
        for s in sorted(sightings, key=lambda s: s.at):
            if self.event_time is None or s.at > self.event_time:
                self.event_time = s.at
            if s.receiver not in self.reported or s.at > self.reported[s.receiver]:
                self.reported[s.receiver] = s.at
            tag = self.tags.get(s.tag)
            if tag is None or not tag.consent:
                self.dropped += 1
                continue
            key = (s.tag, jst(s.at).date())
            if key not in self.days:
                await self._restore(*key)
            before = self.w.last_seen.place(s.tag)
            notices += self.w.sighting(s)
            after = self.w.last_seen.place(s.tag)
            if after is not None and (before is None or before.receiver != after.receiver):
                self._moved(s.tag, after.receiver, after.since, after.location)
            E.compact(self.days.setdefault(key, []), s)
            touched.add(s.tag)
        await self._store(touched, notices)
        return notices

    async def _restore(self, tag: str, day: dt.date) -> None:
        """After a restart: the day's rows and moves stored before (nothing is lost)."""
        stored = await self.client.get(E.day_entity_id(tag, day))
        rows = E.value((stored or {}).get("sightings"))
        self.days[(tag, day)] = list(rows) if isinstance(rows, list) else []
        if tag not in self.moves:
            place = await self.client.get(E.last_seen_id(tag))
            moves = E.value((place or {}).get("moves"))
            self.moves[tag] = [m for m in moves if isinstance(m, dict)] \
                if isinstance(moves, list) else []

    def _moved(self, tag: str, receiver: str, at: dt.datetime,
               where: tuple[float, float] | None) -> None:
        known = self.receivers.get(receiver)
        row = {"at": E.iso(at), "receiver": receiver, "name": known.name if known else receiver,
               "location": list(where or (known.location if known and known.location
                                          else ())) or None}
        day = jst(at).date().isoformat()
        moves = [m for m in self.moves.get(tag, []) if m["at"][:10] == day]
        self.moves[tag] = [*moves, row][-200:]

    def where(self, receiver: str, location: tuple[float, float] | None
              ) -> tuple[str, tuple[float, float] | None]:
        known = self.receivers.get(receiver)
        return (known.name if known else receiver.rpartition(":")[2],
                location or (known.location if known else None))

    async def _store(self, tags: set[str], notices: list[Notice]) -> None:
        batch: list[dict[str, Any]] = []
        for tag_id in tags:
            tag = self.tags[tag_id]
            for (t, day), rows in self.days.items():
                if t == tag_id:
                    batch.append(E.day_entity(tag, day, rows))
            place = self.w.last_seen.place(tag_id)
            if place is not None:
                name, where = self.where(place.receiver, place.location)
                batch.append(E.last_seen_entity(tag, place, name, where,
                                                self.moves.get(tag_id, [])))
        for notice in notices:
            tag = self.tags[notice.tag]
            name, _ = self.where(notice.receiver or "", None) if notice.receiver else ("", None)
            batch.append(E.notice_entity(tag, notice, notice_text(notice, tag.label, name),
                                         name))
        if batch:
            try:
                await self.client.upsert(batch)
            except PlatformError as exc:  # some refused (e.g. an id another org made first):
                if exc.status != 207:  # the rest are stored; the receiver's report stands
                    raise
                log.warning("watch-over: entities not stored: %s", exc)
        for key in [k for k in self.days if k[1] < jst(self.now()).date()]:
            del self.days[key]  # yesterday's rows are stored; today's stay in memory

    async def tick(self, now: dt.datetime) -> list[Notice]:
        """The clock's notices (no sighting in the daytime), stored."""
        await self.refresh_consents()
        notices = self.w.tick(now)
        await self._store(set(), notices)
        return notices

    # reading back (for the guardian, never for a volunteer) --------------------------------
    async def last_seen(self, tag_id: str) -> dict[str, Any] | None:
        return await self.client.get(E.last_seen_id(tag_id))

    async def day(self, tag_id: str, day: dt.date) -> dict[str, Any] | None:
        return await self.client.get(E.day_entity_id(tag_id, day))

    async def notices_for(self, guardian: str, limit: int = 50) -> list[dict[str, Any]]:
        mine = {t.id for t in self.tags_of(guardian)}
        if not mine:
            return []
        items = await self.client.query("WatchNotice", q=f'guardian=="{guardian}"')
        items = [n for n in items if n.get("tag") in mine]
        return sorted(items, key=lambda n: str(n.get("at")), reverse=True)[:limit]

    # retention ------------------------------------------------------------------------------
    async def purge(self, now: dt.datetime) -> int:
        """Delete sightings older than `sightings_days`, last-seen places and notices older
        than `last_seen_days`; how many entities were deleted."""
        keep = self.settings.retention
        cut_days = E.today(keep.sightings_cutoff(now))
        cut_long = keep.last_seen_cutoff(now)
        gone = 0
        for entity in await self.client.query("BeaconSighting", attrs=["date", "tag"]):
            date = str(entity.get("date") or "")
            if date and date < cut_days.isoformat():
                await self.client.delete(str(entity["id"]))
                gone += 1
        for kind, attr in (("WatchLastSeen", "seenAt"), ("WatchNotice", "at")):
            for entity in await self.client.query(kind, attrs=[attr]):
                at = E.parse_time(entity.get(attr))
                if at is not None and at < cut_long:
                    await self.client.delete(str(entity["id"]))
                    gone += 1
        return gone

    # search requests ----------------------------------------------------------------------
    async def file_search(self, guardian: str, tag_id: str, staff: list[str], hours: float,
                          now: dt.datetime, reason: str = "") -> SearchRequest:
        """A guardian asks the town for help finding the person of her tag."""
        tag = self.tags.get(tag_id)
        if tag is None or tag.guardian != guardian:
            raise WatchError("そのタグは登録されていません", "no such tag", 404)
        staff = [s.strip() for s in staff if s.strip()]
        if not staff or len(staff) > 5 or not all(STAFF_NAME.match(s) for s in staff):
            raise WatchError("担当職員のIDを1〜5人分入れてください",
                             "name one to five staff members (their ids)")
        if not 0 < hours <= self.settings.search_hours_max:
            raise WatchError(f"期間は{self.settings.search_hours_max:g}時間までです",
                             f"a search request lasts at most "
                             f"{self.settings.search_hours_max:g} hours")
        request = new_request(tag_id, tag.person, guardian, staff, hours, now, reason)
        await self.client.upsert([request.entity()])
        return request

    async def searches(self) -> list[tuple[SearchRequest, list[dict[str, Any]]]]:
        out = []
        for entity in await self.client.query("WatchSearchRequest"):
            request = request_of(entity)
            if request is not None:
                opened = E.value(entity.get("opened"))
                out.append((request, opened if isinstance(opened, list) else []))
        return sorted(out, key=lambda r: r[0].filed, reverse=True)

    async def open_search(self, request_id: str, staff: str,
                          now: dt.datetime) -> dict[str, Any]:
        """The person's last-seen place for a named staff member while the request is in
        force (recorded in the request); WatchError 403 otherwise."""
        entity = None
        if SEARCH_ID.match(request_id):  # anything else is no request (never a path to fetch)
            try:
                entity = await self.client.get(request_id)
            except PlatformError:  # an id the broker refuses: no such request either
                entity = None
        request = request_of(entity) if entity else None
        if request is None:
            raise WatchError("その捜索依頼はありません", "no such search request", 404)
        if not request.open_to(staff, now):
            raise WatchError("この捜索依頼では位置を見られません（担当外か期限切れ）",
                             "this search request does not open the place to you "
                             "(not named, or expired)", 403)
        opened = E.value(entity.get("opened")) if entity else []
        record = {"at": E.iso(now), "staff": staff}
        await self.client.upsert([request.entity([*(opened or []), record][-100:])])
        place = await self.last_seen(request.tag)
        tag = self.tags.get(request.tag)
        return {"request": request.id, "label": tag.label if tag else request.tag,
                "until": E.iso(request.until), "lastSeen": place}

    # receivers (staff: liveness and coverage, never individuals) ---------------------------
    async def receiver_status(self, now: dt.datetime, quiet_s: float = 600.0
                              ) -> list[dict[str, Any]]:
        """Every receiver: where it is, what kind, when it last reported, whether it is live
        (reported within `quiet_s`) — never a tag or a person."""
        heard: dict[str, dt.datetime] = dict(self.reported)
        for entity in await self.client.query(RECEIVER_TYPE, key_values=False):
            receiver = receiver_of(entity)
            self.receivers.setdefault(receiver.id, receiver)
            attr = entity.get("beaconsSeen") or entity.get("lastBeacon") or {}
            at = E.parse_time(attr.get("observedAt") if isinstance(attr, dict) else None)
            if at is not None and (receiver.id not in heard or at > heard[receiver.id]):
                heard[receiver.id] = at
        out = []
        for receiver in self.receivers.values():
            at = heard.get(receiver.id)
            out.append({"id": receiver.id, "name": receiver.name, "kind": receiver.kind,
                        "site": receiver.site, "location": receiver.location,
                        "lastReport": E.iso(at) if at else None,
                        "live": at is not None and abs((now - at).total_seconds()) <= quiet_s})
        return sorted(out, key=lambda r: (RECEIVER_KINDS.index(r["kind"]), r["name"]))
