"""Japanese corporate numbers (法人番号): 13 digits whose first digit checks the other twelve.

National Tax Agency, 法人番号の指定等に関する省令 第2条 (check digit = 9 − (Σ Pn·Qn mod 9)).
"""

from __future__ import annotations


class InvalidCorporateNumber(ValueError):
    """The text is not a 13-digit corporate number with a correct check digit."""


def check_digit(base: str) -> int:
    """The check digit of a 12-digit base number (digits counted from the right, weights 1, 2)."""
    total = sum(int(d) * (1 if n % 2 else 2) for n, d in enumerate(reversed(base), start=1))
    return 9 - total % 9


def validate_corporate_number(text: str) -> str:
    """Return the corporate number normalised (spaces and hyphens removed), or raise."""
    number = text.replace("-", "").replace(" ", "").strip()
    if len(number) != 13 or not number.isascii() or not number.isdigit():
        raise InvalidCorporateNumber(f"法人番号は13桁の数字です({text!r} は不可) / a corporate "
                                     f"number has 13 digits, not {text!r}")
    if int(number[0]) != check_digit(number[1:]):
        raise InvalidCorporateNumber(f"{number}: 法人番号のチェックディジット(先頭の1桁)が正しく"
                                     "ありません / the check digit (first digit) is wrong")
    return number
