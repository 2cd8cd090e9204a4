"""見守り (watch-over) by beacons: what the service declares (docs/services/watch-over.md)."""

from __future__ import annotations

from cityos.personal.datacatalog import CatalogEntry
from cityos.services.manifest import ConsentAsk, Manifest, Text, TypeUse

MODEL = "town: docs/services/watch-over.md"
PERSONAL = ("BeaconSighting", "WatchTag", "WatchLastSeen", "WatchNotice", "WatchSearchRequest")

MANIFEST = Manifest(
    name="watchover",
    title=Text("見守り", "Watch-over"),
    summary=Text(
        "お子さんやご高齢の家族が持つ見守りタグを、学校・駅・避難所・役場の受信機や、公用車・"
        "郵便バイク、見守りボランティアのスマートフォンが検知し、最後に確認された場所と通知を"
        "保護者に届けます。",
        "Beacon tags carried by children and older residents are seen by receivers at schools, "
        "stations, shelters and the town hall, on official cars and postal bikes, and by "
        "volunteers' phones; guardians get the last-seen place and notices."),
    # ②見守り rows of the plan: beacons/smartphones, OTTADE! (BLE), patrols by postal and bank
    # staff (mobile receivers), children's location at school (sensors)
    plan_rows=("plan-02", "plan-03", "plan-07", "plan-16"),
    org="町の見守りサービス",
    reads=(TypeUse("BeaconReceiver", "town: docs/demo-town.md (IoT beacon-receiver)"),),
    writes=(
        TypeUse("WatchTag", MODEL),
        TypeUse("BeaconSighting", MODEL),
        TypeUse("WatchLastSeen", MODEL),
        TypeUse("WatchNotice", MODEL),
        TypeUse("WatchSearchRequest", MODEL),
        TypeUse("WatchReceiver", MODEL),
    ),
    consents=(ConsentAsk(
        category="location", types=PERSONAL,
        purpose=Text(
            "見守りタグの検知を記録し、最後に確認された場所と、登校・下校、長時間見つからない"
            "とき、夜間に安心エリアの外にいるときのお知らせを、登録した保護者に届けます。",
            "We record where your watch-over tag is seen and tell the guardian who registered "
            "it the last-seen place, school arrival and leaving, long silences and being "
            "outside the safe area at night."),
        if_refused=Text(
            "タグの検知は記録されず、保護者にお知らせも届きません。いつでも同意し直せます。",
            "Nothing of the tag is recorded and the guardian gets no notices; you can consent "
            "at any time.")),),
    catalog=(
        CatalogEntry("WatchTag", "personal", "location", "refResident",
                     "見守りタグの登録 / a registered watch-over tag"),
        CatalogEntry("WatchLastSeen", "personal", "location", "refResident",
                     "見守りタグの最終確認場所 / where a watch-over tag was last seen"),
        CatalogEntry("WatchNotice", "personal", "location", "refResident",
                     "見守りのお知らせ / a watch-over notice to the guardian"),
        CatalogEntry("WatchSearchRequest", "personal", "location", "refResident",
                     "見守りの捜索依頼 / a guardian's search request"),
        CatalogEntry("WatchReceiver", "non-personal", "", "",
                     "見守りの受信機 / a watch-over receiver"),
    ),
    settings={
        "margin_db": 6.0, "hold_s": 60.0, "stale_s": 180.0,
        "gate_rssi_abs": 85.0, "gate_gap_s": 1800.0, "not_seen_hours": 3.0,
        "day_from": 7, "day_to": 19, "night_from": 20, "night_to": 6,
        "sightings_days": 7, "last_seen_days": 90, "search_hours_max": 24.0,
        "tick_s": 60.0,
    },
    audience="residents",
)
