"""The on-demand transport service as the platform knows it (services/manifest.py)."""

from __future__ import annotations

from cityos.services.manifest import ConsentAsk, Manifest, Text, TypeUse

MANIFEST = Manifest(
    name="ondemand",
    title=Text("AIオンデマンド交通", "AI on-demand transport"),
    summary=Text(
        "町の乗り合い車を予約できます。乗車時間の目安と到着時刻をその場でお知らせします。",
        "Book a seat in the town's shared cars: the pickup window and the arrival are "
        "shown at once."),
    plan_rows=("plan-27", "plan-33"),
    org="町のオンデマンド交通",
    reads=(TypeUse("TownArea", "town: docs/services/ondemand.md (stops)"),),
    writes=(
        TypeUse("RideRequest", "town: docs/services/ondemand.md#data-models"),
        TypeUse("TripRecord", "town: docs/services/ondemand.md#data-models"),
    ),
    consents=(ConsentAsk(
        category="mobility", types=("TripRecord",),
        purpose=Text("乗った記録（仮名加工）を、町の交通計画（便の数や時間帯）に使います。",
                     "Your trips (pseudonymised) help the town plan its transport "
                     "(how many cars, at which hours)."),
        if_refused=Text("予約も乗車もこれまでどおりできます。乗った記録は計画に使いません。",
                        "You book and ride as before; your trips are not used for planning.")),),
    settings={"reopt_seconds": 1.0, "tick_seconds": 5.0, "always_open": False},
    audience="residents",
)
