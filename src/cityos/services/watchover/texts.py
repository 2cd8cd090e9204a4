"""What a guardian reads: notices in natural Japanese and English, times in JST."""

from __future__ import annotations

import datetime as dt

from cityos.services.watchover.model import Notice, jst


def hm(at: dt.datetime) -> str:
    """"8時05分" / "8:05" in JST."""
    local = jst(at)
    return f"{local.hour}時{local.minute:02d}分"


def hm_en(at: dt.datetime) -> str:
    local = jst(at)
    return f"{local.hour}:{local.minute:02d}"


def notice_text(notice: Notice, who: str, place: str) -> tuple[str, str]:
    """(Japanese, English) for one notice; `who` is the guardian's label for the person,
    `place` the receiver's name ("" when unknown)."""
    at_ja, at_en = hm(notice.at), hm_en(notice.at)
    if notice.kind == "arrived":
        return (f"{who}さんが{at_ja}に{place}を通過しました（登校）。",
                f"{who} passed {place} at {at_en} (arrived at school).")
    if notice.kind == "left":
        return (f"{who}さんが{at_ja}に{place}を通過しました（下校）。",
                f"{who} passed {place} at {at_en} (left school).")
    if notice.kind == "not-seen":
        if notice.since is None:
            return (f"{who}さんのタグはまだ一度も検知されていません。",
                    f"{who}'s tag has not been seen yet.")
        last = f"{place}で" if place else ""
        last_en = f" at {place}" if place else ""
        return (f"{who}さんのタグが{hm(notice.since)}に{last}検知されてから、見つかっていません。",
                f"{who}'s tag has not been seen since {hm_en(notice.since)}{last_en}.")
    return (f"{who}さんが夜間に安心エリアの外（{place}）で検知されました（{at_ja}）。",
            f"{who} was seen outside the safe area at night ({place}, {at_en}).")
