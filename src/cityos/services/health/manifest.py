"""健康 (health, ⑧): the town's checkup service — what it declares (docs/services/health.md)."""

from __future__ import annotations

from cityos.personal.datacatalog import CatalogEntry
from cityos.services.manifest import ConsentAsk, Manifest, Text, TypeUse

MODEL = "town: docs/services/health.md (特定健診 items)"

MANIFEST = Manifest(
    name="health",
    title=Text("健康", "Health"),
    summary=Text(
        "国保の特定健診の結果を毎年の変化と基準範囲でお見せし、町のモデルで生活習慣病の"
        "リスクとその理由、運動教室・受診・栄養相談などの健康プランをご提案します。"
        "結果を見られるのはご本人と、ご本人が同意した相手だけです。",
        "Your national health insurance checkups over the years against the reference "
        "ranges, your risk of lifestyle disease from the town's model with its reasons, and "
        "a health plan (exercise class, clinic visit, dietitian). Only you and those you "
        "consent to see them."),
    # ⑧ rows: AI analysis of NHI checkups / onset prediction; the residents' regular checkups
    plan_rows=("plan-09", "plan-12"),
    org="町の健康サービス",
    reads=(TypeUse("HealthObservation", "town: docs/services/health.md (wearables)"),),
    writes=(TypeUse("HealthCheckup", MODEL),
            TypeUse("AnonymisedExtract", "town: docs/privacy.md (record of an extract)")),
    consents=(ConsentAsk(
        category="health", types=("HealthObservation",),
        purpose=Text(
            "体重計・血圧計・活動量計の測定値を、あなたの健康ページのグラフと健康プランに"
            "使います。",
            "We use your scale, blood-pressure monitor and activity tracker readings in the "
            "charts and health plan of your health page."),
        if_refused=Text(
            "健診の結果だけでグラフと健康プランを作ります。いつでも同意し直せます。",
            "Your charts and plan use your checkups only; you can consent at any time.")),
        ConsentAsk(
            category="health", types=("HealthCheckup",),
            purpose=Text(
                "健診の結果を、誰のものか分からないように加工（匿名加工情報）して、町と大学の"
                "健康づくりの研究に使います。オフにすると、あなたの記録は加工した情報にも"
                "含めません。",
                "We use your checkups, processed so that no one can tell they are yours "
                "(anonymised information), in the town's and the university's health "
                "research. Turn it off and your records are left out even of that."),
            if_refused=Text(
                "あなたの記録は研究用の匿名加工情報に含めません。町の健診とサービスは"
                "これまでどおりです。",
                "Your records are left out of the anonymised research data; your checkups "
                "and the town's services stay as they are."))),
    catalog=(CatalogEntry("AnonymisedExtract", "non-personal", "", "",
                          "匿名加工情報の作成記録 / the record of an anonymised extract"),),
    settings={
        "model": "",  # a model saved by `cityos health model fit` (empty: none; demo: synthetic)
        "small_cell": 10,  # no aggregate cell under this many people
        "exercise_class": "いきいき健康体操（保健福祉センター・毎週火曜 10時） / "
                          "exercise class (health centre, Tuesdays 10:00)",
        "dietitian": "管理栄養士の栄養相談（保健福祉センター・予約制） / "
                     "dietitian's advice (health centre, by appointment)",
        "clinic": "かかりつけ医への受診 / a visit to your doctor",
        "quit_smoking": "禁煙外来のご案内 / quit-smoking clinic",
    },
    audience="residents",
)
