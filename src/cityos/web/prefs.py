"""Display preferences kept in a cookie: language, text size, contrast.

Not a secret and not tied to an account, so that they work before signing in (WCAG 2.2
1.4.4 resize text, 1.4.6 contrast): `lang=en&size=large&contrast=high`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from cityos.web.i18n import DEFAULT_LANGUAGE, LANGUAGES

COOKIE = "cityos_prefs"
SIZES = ("normal", "large", "xlarge")
CONTRASTS = ("normal", "high")
MAX_AGE = 400 * 86_400  # the longest a browser keeps a cookie (RFC 6265bis)


@dataclass(frozen=True)
class Prefs:
    lang: str = DEFAULT_LANGUAGE
    size: str = "normal"
    contrast: str = "normal"

    @property
    def css_classes(self) -> str:
        """Classes of the <html> element that base.css turns into sizes and colours."""
        return f"text-{self.size} contrast-{self.contrast}"

    def to_cookie(self) -> str:
        return urlencode({"lang": self.lang, "size": self.size, "contrast": self.contrast})


def parse_prefs(raw: str | None) -> Prefs:
    """Preferences from the cookie value; anything unknown falls back to the default."""
    if not raw:
        return Prefs()
    values = dict(parse_qsl(raw[:200]))
    lang = values.get("lang", DEFAULT_LANGUAGE)
    size = values.get("size", "normal")
    contrast = values.get("contrast", "normal")
    return Prefs(lang if lang in LANGUAGES else DEFAULT_LANGUAGE,
                 size if size in SIZES else "normal",
                 contrast if contrast in CONTRASTS else "normal")


def with_choices(prefs: Prefs, choices: dict[str, str]) -> Prefs:
    """`prefs` with the known choices of a form or query applied (unknown values ignored)."""
    lang = choices.get("lang", prefs.lang)
    size = choices.get("size", prefs.size)
    contrast = choices.get("contrast", prefs.contrast)
    return Prefs(lang if lang in LANGUAGES else prefs.lang,
                 size if size in SIZES else prefs.size,
                 contrast if contrast in CONTRASTS else prefs.contrast)
