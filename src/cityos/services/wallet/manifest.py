"""The town digital currency (地域通貨・デジタル通貨決済): plan rows 24, 28 and 30."""

from __future__ import annotations

from cityos.services.manifest import ConsentAsk, Manifest, Text, TypeUse

DOC = "town: docs/services/wallet.md (Digital Agency local-currency naming where it has one)"

MANIFEST = Manifest(
    name="wallet",
    title=Text("町のデジタル通貨", "Town digital currency"),
    summary=Text("町のお店で QR コードを読んで支払えます。町のプレミアム商品券やボランティア・"
                 "健康づくりのポイントも受け取れます。",
                 "Pay at shops in town by scanning a QR code; receive the town's premium "
                 "vouchers and points for volunteering or health activities."),
    plan_rows=("plan-24", "plan-28", "plan-30"),
    org="町の地域通貨",
    writes=(TypeUse("Purchase", DOC),),
    consents=(ConsentAsk(
        category="purchase", types=("Purchase",),
        purpose=Text("町のデジタル通貨で支払った記録（日時・お店・金額）を、あなたの「わたしのデータ」"
                     "に残し、あなたが認めた町のサービスが使えるようにします。",
                     "Keep a record of your payments in the town currency (time, shop, "
                     "amount) in your “My data”, for the town services you allow."),
        if_refused=Text("支払いはこれまでどおりできます。支払いの記録は通貨の台帳にだけ残り、"
                        "「わたしのデータ」には載りません。",
                        "You can pay as before; the record stays only in the currency's "
                        "ledger, not in “My data”.")),),
    settings={"request_minutes": 5, "max_amount": 100_000, "points_days": 180},
    audience="residents",
)
