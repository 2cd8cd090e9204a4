"""Times as people read and type them: Japan's clock, no ISO typing."""

from __future__ import annotations

import pytest

from cityos.web.jst import parse_typed, picker, shown


@pytest.mark.parametrize("typed", ["2026/12/31 17:00", "2026-12-31T17:00", "2026年12月31日 17時00分",
                                   "2026-12-31T08:00:00Z", "2026/12/31　17:00"])
def test_what_a_clerk_types_or_picks_is_japan_time(typed: str) -> None:
    assert shown(parse_typed(typed)) == "2026/12/31 17:00"


def test_a_date_alone_is_the_end_of_that_day_and_nonsense_is_refused() -> None:
    assert parse_typed("2026/12/31") == "2026-12-31T23:59:00+09:00"
    with pytest.raises(ValueError, match="2026/12/31 17:00"):
        parse_typed("来週の金曜")
    with pytest.raises(ValueError):
        parse_typed("2026/13/40 25:00")


def test_shown_in_japan_time_never_utc() -> None:
    assert shown("2026-12-07T11:33:52.653Z") == "2026/12/07 20:33"
    assert shown("2026-12-06T20:00:00Z", date_only=True) == "2026/12/07"  # already the 7th
    assert shown(1_796_000_000_000) == shown(1_796_000_000)  # milliseconds or seconds
    assert picker("2026-12-31T08:00:00Z") == "2026-12-31T17:00"
    assert shown("not a time") == "not a time" and shown(None) == ""
