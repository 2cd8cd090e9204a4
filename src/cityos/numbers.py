"""Bounded numbers from requests: one parser for integer parameters, bounds for durations and
for integers that reach the store.

A parameter out of its bounds is a 400 that says the bounds, never an `OverflowError` deeper
down (SQLite binds integers as int64; a far date or a long duration overflows milliseconds).
"""

from __future__ import annotations

import re

from cityos.ngsi.errors import BadRequestData

MAX_COUNT = 2**31  # offset, lastN and every other count-like parameter
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # what SQLite and PostgreSQL bigint hold
YEAR_SECONDS = 365 * 86_400
MAX_SECONDS = 100 * YEAR_SECONDS  # durations: aggrPeriodDuration, timeInterval, throttling
_INTEGER = re.compile(r"[+-]?[0-9]{1,30}")  # ASCII digits only (int() also takes '１', '1_0')


def bounded_int(raw: str, name: str, *, minimum: int = 0, maximum: int = MAX_COUNT) -> int:
    """The integer `raw` of parameter `name`, from `minimum` to `maximum`, else BadRequestData."""
    if not _INTEGER.fullmatch(raw):
        raise BadRequestData(f"{name} は整数です / {name} must be an integer, not {raw[:50]!r}")
    value = int(raw)
    if value < minimum:
        raise BadRequestData(f"{name} は {minimum} 以上です / {name} must be at least {minimum}")
    if value > maximum:
        raise BadRequestData(f"{name} は {maximum} 以下です / {name} must be at most {maximum}")
    return value


def bounded_seconds(value: float, name: str, maximum: float = MAX_SECONDS) -> float:
    """A duration in seconds no longer than `maximum` (100 years), else BadRequestData."""
    if not value <= maximum:  # also NaN
        raise BadRequestData(f"{name} は長すぎます / {name} is too long (at most {maximum:.0f} "
                             "seconds, 100 years)")
    return value


def fits_int64(value: int) -> bool:
    return INT64_MIN <= value <= INT64_MAX
