"""The order a resident expects town areas in: ときわ台一丁目, 二丁目, 三丁目 … (not the code
point order 一, 三, 二, 五, 六, 四 of a plain string sort)."""

from __future__ import annotations

import re

_NUMERALS = {c: n for n, c in enumerate("〇一二三四五六七八九", start=0)}
_CHOME = re.compile(r"^(.*?)([〇一二三四五六七八九十]+)丁目$")


def kanji_number(text: str) -> int:
    """一 → 1, 十 → 10, 十二 → 12, 二十三 → 23 (the numerals of 丁目)."""
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_NUMERALS[tens] if tens else 1) * 10 + (_NUMERALS[ones] if ones else 0)
    return int("".join(str(_NUMERALS[c]) for c in text))


def area_key(name: str) -> tuple[str, int]:
    """Sort key: the area's name without its 丁目, then the 丁目's number (0 for none)."""
    found = _CHOME.match(name)
    if found is None:
        return name, 0
    return found.group(1), kanji_number(found.group(2))
