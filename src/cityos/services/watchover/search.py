"""A guardian's search request (捜索依頼): the one way staff see a watched person's place.

Staff see receivers, never individuals. When a guardian asks the town for help, she files a
request naming the staff member(s) the town office gave her and for how long (at most
`search_hours_max`, default 24 h). Until then, the named staff — and only they — may open
the person's last-seen place; each opening is recorded in the request (the guardian sees who
looked and when) and in the platform's audit trail. After `until`, nobody may.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from typing import Any

from cityos.services.watchover.entities import URN, iso, parse_time, value

STAFF_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


@dataclass(frozen=True)
class SearchRequest:
    id: str
    tag: str
    person: str
    guardian: str
    staff: tuple[str, ...]
    filed: dt.datetime
    until: dt.datetime
    reason: str = ""

    def open_to(self, staff: str, now: dt.datetime) -> bool:
        """Whether `staff` may see the person's last-seen place at `now`."""
        return staff in self.staff and self.filed <= now < self.until

    def entity(self, opened: list[dict[str, str]] | None = None) -> dict[str, Any]:
        return {"id": self.id, "type": "WatchSearchRequest", "refResident": self.person,
                "tag": self.tag, "guardian": self.guardian, "staff": list(self.staff),
                "filed": iso(self.filed), "until": iso(self.until), "reason": self.reason,
                "opened": opened or []}


def new_request(tag: str, person: str, guardian: str, staff: list[str], hours: float,
                now: dt.datetime, reason: str = "") -> SearchRequest:
    ident = f"{URN}WatchSearchRequest:{tag}-{secrets.token_hex(6)}"
    return SearchRequest(ident, tag, person, guardian, tuple(staff), now,
                         now + dt.timedelta(hours=hours), reason[:200])


def request_of(entity: dict[str, Any]) -> SearchRequest | None:
    filed, until = parse_time(value(entity.get("filed"))), parse_time(value(entity.get("until")))
    staff = value(entity.get("staff"))
    if filed is None or until is None or not isinstance(staff, list):
        return None
    return SearchRequest(str(entity["id"]), str(value(entity.get("tag")) or ""),
                         str(value(entity.get("refResident")) or ""),
                         str(value(entity.get("guardian")) or ""),
                         tuple(str(s) for s in staff), filed, until,
                         str(value(entity.get("reason")) or ""))
