"""How a time is shown to a person and read from one: the town's clock (JST, no summer time).

Data keeps ISO 8601 (UTC or with its offset); pages show `2026/12/31 17:00` in Japan's time
and accept what a clerk types (`2026/12/31 17:00`, a browser's date-time picker, or ISO).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

JST = timezone(timedelta(hours=9), "JST")
_TYPED = re.compile(r"^\s*(\d{4})[/\-年.](\d{1,2})[/\-月.](\d{1,2})日?"
                    r"(?:[ T　]+(\d{1,2})[:時](\d{2})分?)?\s*$")


def moment(value: Any) -> datetime | None:
    """An aware datetime from ISO text or an epoch (seconds, or milliseconds when huge)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, JST)
    if isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=JST)
    return None


def shown(value: Any, date_only: bool = False) -> str:
    """`2026/12/31 17:00` in Japan's time; the text itself when it is not a time."""
    found = moment(value)
    if found is None:
        return "" if value is None else str(value)
    local = found.astimezone(JST)
    return local.strftime("%Y/%m/%d" if date_only else "%Y/%m/%d %H:%M")


def picker(value: Any) -> str:
    """The value of an `<input type="datetime-local">` (Japan's time, minutes)."""
    found = moment(value)
    return found.astimezone(JST).strftime("%Y-%m-%dT%H:%M") if found else ""


def parse_typed(text: str) -> str:
    """ISO 8601 (with +09:00) of what a person typed or picked; a date alone is the end of
    that day. ValueError (Japanese and English) when it is not a date."""
    typed = _TYPED.match(text)
    if typed:
        year, month, day, hour, minute = typed.groups()
        hh, mm = (int(hour), int(minute)) if hour is not None else (23, 59)
        try:
            return datetime(int(year), int(month), int(day), hh, mm, tzinfo=JST).isoformat()
        except ValueError:
            pass
    found = moment(text)
    if found is None:
        raise ValueError("日時は 2026/12/31 17:00 のように入力してください / enter a date and "
                         "time such as 2026/12/31 17:00")
    return found.isoformat()
