"""The watch-over entities as the service writes them (NGSI-LD keyValues, core @context).

Every entity about a watched person names her in `refResident` (the data catalog's subject
attribute), so the platform seals it under her key, gates it by her consents, records its
releases in her data tracker and deletes it when she is erased:

- `WatchTag` — a registered tag: `tag`, `guardian`, `label`, `schoolGates`, `safeArea`.
- `BeaconSighting` — the raw sightings of one tag on one JST day (`date`, `sightings`:
  [time, receiver, rssi, lon, lat, count]); kept `sightings_days` (default 7).
- `WatchLastSeen` — the tag's last-seen place (`receiver`, `receiverName`, `location`,
  `since`, `seenAt`) and the day's moves; kept `last_seen_days` (default 90).
- `WatchNotice` — one notice to the guardian (`kind`, `at`, `receiver`, `textJa`, `textEn`).
- `WatchSearchRequest` — a guardian's request that opens the last-seen place to named staff
  until `until`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from cityos.services.watchover.model import (
    JST,
    Move,
    Notice,
    Place,
    SafeArea,
    Sighting,
    Tag,
    jst,
)

TAG_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,63}$")
URN = "urn:ngsi-ld:"


def value(attr: Any) -> Any:
    """An attribute's value in keyValues or normalized form."""
    if isinstance(attr, dict) and attr.get("type") in ("Property", "GeoProperty"):
        return attr.get("value")
    if isinstance(attr, dict) and attr.get("type") == "Relationship":
        return attr.get("object")
    return attr


def subject(attr: Any) -> str:
    raw = value(attr)
    if isinstance(raw, list):
        raw = raw[0] if raw else ""
    text = str(raw or "")
    return text.removeprefix(URN + "Resident:")


def iso(at: dt.datetime) -> str:
    return jst(at).isoformat(timespec="seconds")


def parse_time(text: Any) -> dt.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        at = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def tag_entity_id(tag: str) -> str:
    return f"{URN}WatchTag:{tag}"


def day_entity_id(tag: str, day: dt.date) -> str:
    return f"{URN}BeaconSighting:{tag}-{day:%Y%m%d}"


def last_seen_id(tag: str) -> str:
    return f"{URN}WatchLastSeen:{tag}"


def tag_entity(tag: Tag, registered: dt.datetime) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "id": tag_entity_id(tag.id), "type": "WatchTag", "refResident": tag.person,
        "tag": tag.id, "guardian": tag.guardian, "label": tag.label or tag.id,
        "schoolGates": list(tag.school_gates), "registeredAt": iso(registered)}
    if tag.safe_area is not None:
        entity["safeArea"] = {"center": list(tag.safe_area.center),
                              "radiusM": tag.safe_area.radius_m}
    return entity


def tag_of(entity: dict[str, Any], consent: bool) -> Tag | None:
    tag = value(entity.get("tag"))
    if not isinstance(tag, str):
        return None
    area = value(entity.get("safeArea"))
    safe = None
    if isinstance(area, dict) and isinstance(area.get("center"), list):
        try:
            lon, lat = (float(v) for v in area["center"])
            safe = SafeArea((lon, lat), float(area.get("radiusM", 500)))
        except (TypeError, ValueError):
            safe = None
    gates = value(entity.get("schoolGates"))
    return Tag(tag, subject(entity.get("refResident")), str(value(entity.get("guardian")) or ""),
               str(value(entity.get("label")) or tag),
               tuple(str(g) for g in gates) if isinstance(gates, list) else (), safe, consent)


def compact(rows: list[list[Any]], s: Sighting) -> None:
    """Add a sighting to a day's rows: one row per receiver and minute (strongest RSSI kept,
    `count` sightings merged), so a day stays small however often receivers report."""
    minute = iso(s.at)[:16]
    lon, lat = s.location if s.location else (None, None)
    for row in reversed(rows[-20:]):
        if row[1] == s.receiver and str(row[0])[:16] == minute:
            row[2] = max(float(row[2]), s.rssi)
            row[5] = int(row[5]) + 1
            return
    rows.append([iso(s.at), s.receiver, s.rssi, lon, lat, 1])


def day_entity(tag: Tag, day: dt.date, rows: list[list[Any]]) -> dict[str, Any]:
    return {"id": day_entity_id(tag.id, day), "type": "BeaconSighting",
            "refResident": tag.person, "tag": tag.id, "date": day.isoformat(),
            "sightings": rows}


def last_seen_entity(tag: Tag, place: Place, name: str, where: tuple[float, float] | None,
                     moves: list[dict[str, Any]]) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "id": last_seen_id(tag.id), "type": "WatchLastSeen", "refResident": tag.person,
        "tag": tag.id, "receiver": place.receiver, "receiverName": name,
        "since": iso(place.since), "seenAt": iso(place.seen_at),
        "date": jst(place.seen_at).date().isoformat(), "moves": moves}
    if where is not None:
        entity["location"] = {"type": "Point", "coordinates": list(where)}
    return entity


def move_row(move: Move, name: str, where: tuple[float, float] | None) -> dict[str, Any]:
    return {"at": iso(move.at), "receiver": move.receiver, "name": name,
            "location": list(where) if where else None}


def notice_entity(tag: Tag, notice: Notice, texts: tuple[str, str],
                  place: str) -> dict[str, Any]:
    return {"id": f"{URN}WatchNotice:{notice.key().replace(':', '-')}", "type": "WatchNotice",
            "refResident": tag.person, "tag": tag.id, "guardian": tag.guardian,
            "kind": notice.kind, "at": iso(notice.at), "receiver": notice.receiver or "",
            "place": place, "textJa": texts[0], "textEn": texts[1]}


def today(now: dt.datetime) -> dt.date:
    return now.astimezone(JST).date()
