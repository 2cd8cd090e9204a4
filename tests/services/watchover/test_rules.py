"""Each notice rule on the scripted day (data/scripted_day.csv)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from cityos.services.watchover.model import Notice, jst
from cityos.services.watchover.rules import (
    RuleSettings,
    Watcher,
    daytime_seconds,
    run_day,
)
from cityos.services.watchover.texts import notice_text

from .recorded import DAY_END, DAY_START, RECEIVERS, TAGS, load


def day(rules: RuleSettings | None = None, tags: dict | None = None) -> list[Notice]:
    watcher = Watcher(RECEIVERS, tags or TAGS, rules, registered_at=DAY_START)
    return run_day(watcher, load("scripted_day.csv"), DAY_START, DAY_END)


def hhmm(notice: Notice) -> str:
    return jst(notice.at).strftime("%H:%M")


def test_the_school_gate_gives_arrival_and_leaving() -> None:
    gate = [n for n in day() if n.kind in ("arrived", "left")]
    assert [(n.tag, n.kind, hhmm(n)) for n in gate] == [
        ("bcn-taro", "arrived", "07:55"), ("bcn-taro", "left", "15:30")]
    # the weak sighting from the far side of the yard at 10:15 was not a pass


def test_a_stronger_gate_threshold_would_count_the_yard_sighting() -> None:
    gate = [n for n in day(RuleSettings(gate_rssi=-95.0)) if n.kind in ("arrived", "left")]
    assert [n.kind for n in gate] == ["arrived", "left", "arrived"]


def test_no_sighting_for_three_daytime_hours_is_told_once() -> None:
    silent = [n for n in day() if n.kind == "not-seen"]
    assert [(n.tag, hhmm(n)) for n in silent] == [("bcn-kiyo", "13:05")]
    assert silent[0].since is not None and hhmm(
        dataclasses.replace(silent[0], at=silent[0].since)) == "10:05"
    assert silent[0].receiver == "rx-shelter"
    ja, en = notice_text(silent[0], "きよ", "ふれあい会館")
    assert ja == "きよさんのタグが10時05分にふれあい会館で検知されてから、見つかっていません。"
    assert "10:05" in en


def test_school_hours_are_not_silence_but_a_shorter_setting_catches_the_evening() -> None:
    silent = [n for n in day(RuleSettings(not_seen_hours=2.0)) if n.kind == "not-seen"]
    # たろう is at school 07:55–15:30 (not told), last heard at home at 16:21:40, quiet until 19:00
    assert [(n.tag, hhmm(n)) for n in silent] == [("bcn-kiyo", "12:05"), ("bcn-taro", "18:22")]


def test_the_night_does_not_count_as_silence() -> None:
    assert daytime_seconds(dt.datetime.fromisoformat("2026-12-07T18:00:00+09:00"),
                           dt.datetime.fromisoformat("2026-12-08T08:00:00+09:00"), 7, 19) == 7200
    # きよ is not told again in the evening, nor is たろう after 19:00
    assert [n.tag for n in day() if n.kind == "not-seen"] == ["bcn-kiyo"]


def test_seen_outside_the_safe_area_at_night_is_told_once() -> None:
    night = [n for n in day() if n.kind == "outside-at-night"]
    assert [(n.tag, hhmm(n), n.receiver) for n in night] == [("bcn-taro", "20:40", "rx-station")]
    ja, _ = notice_text(night[0], "たろう", "光風台駅")
    assert ja == "たろうさんが夜間に安心エリアの外（光風台駅）で検知されました（20時40分）。"


def test_the_same_place_in_the_daytime_is_no_night_notice() -> None:
    late = RuleSettings(night_from=22)
    assert [n for n in day(late) if n.kind == "outside-at-night"] == []


def test_a_tag_without_consent_gives_nothing() -> None:
    assert [n for n in day() if n.tag == "bcn-noconsent"] == []
    consented = {**TAGS, "bcn-noconsent": dataclasses.replace(TAGS["bcn-noconsent"],
                                                              consent=True)}
    assert {n.kind for n in day(tags=consented) if n.tag == "bcn-noconsent"} == {
        "arrived", "outside-at-night"}
