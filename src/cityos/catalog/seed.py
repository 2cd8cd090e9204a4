"""The demo town's catalog: the plan's 59 services with fictional providers, and a first notice.

Seeding is idempotent like the rest of the demo town: a service that exists (perhaps edited by
staff) is left as it is.
"""

from __future__ import annotations

import csv
import re
from importlib import resources
from typing import Any

from cityos.catalog.model import field_of, price_of
from cityos.catalog.services import Notices, ServiceCatalog
from cityos.storage.base import Store

# fictional providers per field; the first seven are the demo town's organisations
PROVIDERS = {
    "disaster": "豊能防災サービス", "safety": "とよの見守りネット",
    "mobility": "とよのオンデマンド交通", "health": "北摂ヘルスケア",
    "energy": "豊能グリーンエナジー", "tourism": "能勢おかいもの便", "logistics": "能勢おかいもの便",
    "payment": "とよのコイン", "infrastructure": "とよのインフラ点検",
    "education": "豊能デジタル学び舎", "government": "豊能町役場", "other": "豊能町役場",
}
SCHEMES = {"disaster": "toyono-bousai", "safety": "toyono-mimamori", "mobility": "toyono-ondemand",
           "health": "hokusetsu-health", "energy": "toyono-green", "tourism": "nose-okaimono",
           "logistics": "nose-okaimono", "payment": "toyono-coin", "infrastructure": "toyono-infra",
           "education": "toyono-manabi", "government": "toyono-town", "other": "toyono-town"}
ACTIVE_ROWS = {1, 3, 21, 24, 27, 40, 44, 45}  # what the demo town shows running
# the town's own work (analysis, planning, inspection): on the console, not in the app
TOWN_ROWS = {31, 32, 34, 35, 36, 39, 48, 49, 52, 53, 54, 55, 57}
# misprints in the plan's table, corrected for residents (the plan's wording otherwise)
CORRECTIONS = {"ブッシュ・レコメンデーション": "プッシュ・レコメンデーション",
               "移動販売カードの配備": "移動販売カーの配備"}
_CLASS = re.compile(r"パーソナルデータ\((個人情報|匿名加工情報等)\)|非パーソナルデータ")
FIRST_NOTICE = {
    "title": {"ja": "豊能町スマートシティのデモ環境へようこそ",
              "en": "Welcome to the Toyono smart city demo"},
    "body": {"ja": "このまちの住民・事業者・データはすべて架空です（避難所と町域は実データ）。",
             "en": "Residents, companies and their data are fictional (shelters and town "
                   "areas are real open data)."},
    "severity": "info",
}


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("cityos.catalog").joinpath("data", name).read_text("utf-8")
    return list(csv.DictReader(text.splitlines(), delimiter="\t"))


def _corrected(text: str) -> str:
    for wrong, right in CORRECTIONS.items():
        text = text.replace(wrong, right)
    return text


def _status(row: int, linkage: str) -> str:
    if row in ACTIVE_ROWS:
        return "active"
    return "pilot" if linkage.strip() in ("JP-Link", "Symphonict") else "planned"


def _categories(data: str, data_class: str) -> list[str]:
    found = _CLASS.search(data_class)
    items = [found.group(0)] if found else []
    items += [p.strip() for p in re.split(r"[、・,]", data) if p.strip() not in ("", "—", "-")]
    return list(dict.fromkeys(items))


def plan_services() -> list[dict[str, Any]]:
    """The plan's services as catalog entries (ids `plan-01` … `plan-59`)."""
    english = {int(r["row"]): r["name_en"] for r in _rows("services_en.tsv")}
    services = []
    for n, row in enumerate(_rows("services_from_plan.tsv"), start=1):
        try:
            field = field_of(row["field"])
        except ValueError:  # a misprint in the plan's table (the carbon-neutral group)
            field = "energy"
        prices = (row.get("price_resident_municipality") or "").split()
        resident, municipality = [*prices, "未定", "未定"][:2]
        ident = f"plan-{n:02d}"
        services.append({
            "id": ident,
            "name": {"ja": _corrected(row["service"].strip()), "en": english.get(n, "")},
            "field": field,
            "provider": PROVIDERS[field],
            "description": {"ja": row["service_group"].strip(), "en": ""},
            "deepLink": f"{SCHEMES[field]}://service/{ident}",
            "webFallback": f"https://{SCHEMES[field]}.example.jp/{ident}",
            "price": {"resident": price_of(resident), "municipality": price_of(municipality)},
            "dataCategories": _categories(row.get("data") or "", row.get("data_class") or ""),
            "status": _status(n, row.get("linkage") or ""),
            "audience": "town" if n in TOWN_ROWS else "residents",
            "linkVerified": False,  # fictional providers: nothing to open (built-ins open)
        })
    return services


async def seed_catalog(store: Store, tenant: str = "") -> int:
    """Add the plan's services that are missing, and a first notice on an empty board;
    returns how many services were added."""
    catalog = ServiceCatalog(store, tenant)
    have = {s["id"] for s in await catalog.list()}
    added = 0
    for service in plan_services():
        if service["id"] not in have:
            await catalog.put(service)
            added += 1
    notices = Notices(store, tenant)
    if added and not await notices.list():
        await notices.publish(FIRST_NOTICE)
    return added
