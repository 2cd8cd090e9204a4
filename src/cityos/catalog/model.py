"""What a catalog service and a notice are, and how incoming ones are checked.

Fields ①…⑬ follow the plan's data–service table (データ・サービス相関表); ④ and ⑨ are unused there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


class CatalogError(ValueError):
    """A service or notice that cannot be stored, with the reason in Japanese and English."""


@dataclass(frozen=True)
class Field:
    key: str
    mark: str  # ① … ⑬ as the plan prints them ("" for その他)
    ja: str
    en: str

    @property
    def label_ja(self) -> str:
        return f"{self.mark}{self.ja}"


FIELDS = (
    Field("disaster", "①", "防災", "Disaster prevention"),
    Field("safety", "②", "セキュリティ・見守り", "Safety and watch-over"),
    Field("infrastructure", "③", "インフラ維持管理", "Infrastructure maintenance"),
    Field("tourism", "⑤", "観光・地域活性化", "Tourism and local revitalisation"),
    Field("mobility", "⑥", "交通・モビリティ", "Transport and mobility"),
    Field("logistics", "⑦", "物流", "Logistics"),
    Field("health", "⑧", "健康・医療", "Health and medical care"),
    Field("energy", "⑩", "環境・エネルギー", "Environment and energy"),
    Field("education", "⑪", "教育", "Education"),
    Field("government", "⑫", "行政", "Administration"),
    Field("payment", "⑬", "支払い", "Payment"),
    Field("other", "", "その他", "Other"),
)
FIELD_BY_KEY = {f.key: f for f in FIELDS}
PRICES = {"free": ("無償", "free"), "paid": ("有償", "paid"), "undecided": ("未定", "undecided")}
STATUSES = {"active": ("提供中", "active"), "pilot": ("実証中", "pilot"),
            "planned": ("予定", "planned")}
AUDIENCES = {"residents": ("住民向け（アプリに表示）", "for residents (shown in the app)"),
             "town": ("役場向け（コンソールのみ）", "for the town (console only)")}
SEVERITIES = {"info": ("お知らせ", "notice"), "warning": ("注意", "warning"),
              "emergency": ("緊急", "emergency")}
_PRICE_WORDS = {"無償": "free", "無料": "free", "有償": "paid", "有料": "paid", "未定": "undecided",
                "—": "undecided", "-": "undecided", "": "undecided"}
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]{1,31}$")
_UNSAFE_SCHEMES = {"javascript", "data", "vbscript", "file", "blob", "about"}
MAX_TEXT = 2000
MAX_NAME = 120


def field_of(value: Any) -> str:
    """The field key of `value`: a key (`disaster`), a plan label (`①防災`, `防災`) or a mark."""
    text = str(value or "").strip()
    if text in FIELD_BY_KEY:
        return text
    for f in FIELDS:
        if text in (f.label_ja, f.ja, f.en) or (f.mark and text == f.mark):
            return f.key
    raise CatalogError(f"分野 {text[:40]!r} は ①防災…⑬支払い のどれでもありません / "
                       f"field {text[:40]!r} is none of {', '.join(FIELD_BY_KEY)}")


def price_of(value: Any) -> str:
    text = str(value if value is not None else "").strip()
    if text in PRICES:
        return text
    if text in _PRICE_WORDS:
        return _PRICE_WORDS[text]
    raise CatalogError(f"価格 {text[:20]!r} は 無償・有償・未定 のどれかです / price {text[:20]!r} "
                       "is one of free, paid, undecided")


def _text(data: dict[str, Any], key: str, limit: int, required: bool) -> dict[str, str]:
    """A ja/en text: {"ja": …, "en": …}; a plain string counts as Japanese."""
    value = data.get(key)
    if isinstance(value, str):
        value = {"ja": value}
    if value is None:
        value = {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise CatalogError(f"{key} は {{ja, en}} の文字列です / {key} is {{ja, en}} text")
    out = {lang: value.get(lang, "").strip() for lang in ("ja", "en")}
    if required and not out["ja"]:
        raise CatalogError(f"{key}.ja (日本語) が必要です / {key}.ja (Japanese) is required")
    for lang, text in out.items():
        if len(text) > limit:
            raise CatalogError(f"{key}.{lang} が {limit} 文字を超えています / {key}.{lang} is "
                               f"over {limit} characters")
    return out


def check_link(value: Any, name: str, *, https_only: bool) -> str:
    """A deep link (an app URL scheme or https) or a web fallback (https, or a path here)."""
    text = str(value or "").strip()
    if not text:
        return ""
    if len(text) > 500:
        raise CatalogError(f"{name} が長すぎます / {name} is over 500 characters")
    if text.startswith("/") and not text.startswith("//"):
        return text  # a page of this platform
    scheme = urlsplit(text).scheme.lower()
    if https_only:
        if scheme != "https" or not urlsplit(text).netloc:
            raise CatalogError(f"{name} は https:// の URL です / {name} must be an https:// URL")
        return text
    if not _SCHEME.match(scheme) or scheme in _UNSAFE_SCHEMES or scheme == "http":
        raise CatalogError(f"{name} はアプリの URL スキーム (例 toyono-bousai://) か https:// です / "
                           f"{name} must be an app URL scheme (e.g. toyono-bousai://) or https://")
    if scheme == "https" and not urlsplit(text).netloc:
        raise CatalogError(f"{name} の https URL にホストがありません / {name} has no host")
    return text


def _choice(data: dict[str, Any], key: str, allowed: dict[str, Any], default: str) -> str:
    value = str(data.get(key) or default)
    if value not in allowed:
        raise CatalogError(f"{key} は {', '.join(allowed)} のどれかです / {key} is one of "
                           f"{', '.join(allowed)}")
    return value


def _strings(value: Any, key: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or len(value) > 50:
        raise CatalogError(f"{key} は文字列のリストです / {key} is a list of strings (≤ 50)")
    return [v.strip()[:80] for v in value if v.strip()]


def _flag(value: Any, key: str) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    if value in ("on", "1", "true"):  # a form's checkbox
        return True
    if value in ("", "0", "false"):
        return False
    raise CatalogError(f"{key} は true か false です / {key} is true or false")


def check_id(value: Any, what: str = "id") -> str:
    text = str(value or "")
    if not _ID.match(text):
        raise CatalogError(f"{what} は英小文字・数字・ハイフン (64 文字まで) です / {what} is "
                           "lower-case letters, digits and hyphens (up to 64)")
    return text


def check_service(data: Any) -> dict[str, Any]:
    """A stored service from what a client sent (raises CatalogError with the first problem)."""
    if not isinstance(data, dict):
        raise CatalogError("サービスは JSON オブジェクトです / a service is a JSON object")
    price = data.get("price") or {}
    if not isinstance(price, dict):
        raise CatalogError("price は {resident, municipality} です / price is "
                           "{resident, municipality}")
    service = {
        "id": check_id(data.get("id")),
        "name": _text(data, "name", MAX_NAME, True),
        "field": field_of(data.get("field")),
        "provider": str(data.get("provider") or "").strip()[:MAX_NAME],
        "description": _text(data, "description", MAX_TEXT, False),
        "deepLink": check_link(data.get("deepLink"), "deepLink", https_only=False),
        "webFallback": check_link(data.get("webFallback"), "webFallback", https_only=True),
        "price": {"resident": price_of(price.get("resident")),
                  "municipality": price_of(price.get("municipality"))},
        "dataCategories": _strings(data.get("dataCategories"), "dataCategories"),
        "status": _choice(data, "status", STATUSES, "active"),
        # residents see it in the app; the town's back-office services only on the console
        "audience": _choice(data, "audience", AUDIENCES, "residents"),
        # staff opened the link and saw the service answer: only then the app shows 「開く」
        "linkVerified": _flag(data.get("linkVerified"), "linkVerified"),
    }
    if not service["provider"]:
        raise CatalogError("provider (提供事業者) が必要です / provider is required")
    if not service["deepLink"] and not service["webFallback"]:
        raise CatalogError("deepLink か webFallback のどちらかが必要です / a service needs a "
                           "deepLink or a webFallback")
    return service


def check_notice(data: Any) -> dict[str, Any]:
    """A stored notice (お知らせ) from what staff sent."""
    if not isinstance(data, dict):
        raise CatalogError("お知らせは JSON オブジェクトです / a notice is a JSON object")
    notice = {
        "title": _text(data, "title", MAX_NAME, True),
        "body": _text(data, "body", MAX_TEXT, False),
        "severity": _choice(data, "severity", SEVERITIES, "info"),
    }
    until = data.get("until")
    if until not in (None, ""):
        from datetime import datetime

        try:
            datetime.fromisoformat(str(until).replace("Z", "+00:00"))
        except ValueError:
            raise CatalogError("until は ISO 8601 の日時です / until is an ISO 8601 date-time") \
                from None
        notice["until"] = str(until)
    return notice
