"""The words of the health pages (Japanese, English)."""

from __future__ import annotations

from cityos.web.i18n import add_messages

MESSAGES = {
    "hl.title": ("健康", "Health"),
    "hl.lead": ("毎年の健診（国保の特定健診）の結果と、これからの健康のためのご提案です。",
                "Your yearly checkups (national health insurance) and suggestions for your "
                "health."),
    "hl.unavailable": ("健康サービスはいま止まっています。しばらくしてからお試しください。",
                       "The health service is not running now. Please try again later."),
    "hl.staff_only": ("このページは住民の方のためのページです。職員の方はコンソールをお使いください。",
                      "This page is for residents. Staff, please use the console."),
    "hl.none": ("健診の結果はまだ届いていません。健診を受けると、ここに表示されます。",
                "No checkup results yet. They appear here after your checkup."),
    "hl.who": ("この結果を見られるのは、あなたと、あなたが同意した相手だけです。相手ごとの同意は"
               "「わたしのデータ」で確かめ、いつでも変えられます。",
               "Only you and those you consent to can see these results. Check and change "
               "each consent in “My data” at any time."),
    "hl.mydata": ("わたしのデータを開く", "Open My data"),
    "hl.risk": ("わたしのリスク", "My risk"),
    "hl.risk.value": ("{outcome}可能性は、およそ {percent}% です。",
                      "The chance that {outcome} is about {percent}%."),
    "hl.risk.level.high": ("高め", "higher"),
    "hl.risk.level.low": ("低め", "lower"),
    "hl.risk.compared": ("町のモデルでは「{level}」の区分です。", "The town's model rates it “{level}”."),
    "hl.risk.reasons": ("リスクを上げている主な理由", "What raises your risk most"),
    "hl.risk.no_reasons": ("特にリスクを上げている項目はありません。",
                           "Nothing in particular raises your risk."),
    "hl.risk.pending": ("リスクの計算を準備しています。しばらくしてから開き直してください。",
                        "Your risk is being prepared. Please open this page again later."),
    "hl.risk.none": ("町のリスクモデルはまだ使われていません。",
                     "The town's risk model is not in use yet."),
    "hl.risk.note": ("これは病気の診断ではありません。気になることは医師や保健師にご相談ください。",
                     "This is not a diagnosis. Talk to a doctor or public health nurse about "
                     "anything that worries you."),
    "hl.plan": ("あなたへの健康プラン", "Your health plan"),
    "hl.plan.none": ("いまの生活を続けましょう。来年の健診もお忘れなく。",
                     "Keep up your habits, and see you at next year's checkup."),
    "hl.trend": ("健診の結果の移り変わり", "Your checkups over the years"),
    "hl.range": ("基準範囲: {range}", "Reference range: {range}"),
    "hl.year": ("年", "Year"),
    "hl.value": ("結果", "Result"),
    "hl.judgement": ("判定", "Judgement"),
    "hl.level.0": ("基準範囲内", "within range"),
    "hl.level.1": ("注意（保健指導の目安）", "watch (guidance level)"),
    "hl.level.2": ("受診をおすすめ", "see a doctor"),
    "hl.year.value": ("{year}年", "{year}"),
    "hl.change.up": ("前の年より {delta} 上がりました", "up {delta} from the year before"),
    "hl.change.down": ("前の年より {delta} 下がりました", "down {delta} from the year before"),
    "hl.change.same": ("前の年と同じです", "same as the year before"),
    "hl.research": ("研究への協力", "Research"),
    "hl.research.in": ("あなたの健診の結果は、誰のものか分からないように加工したうえで、町と大学の"
                       "健康づくりの研究に使われることがあります。望まない場合は「わたしのデータ」で"
                       "「健康づくりの研究」をオフにしてください。",
                       "Your checkups may be used, processed so that no one can tell they are "
                       "yours, in the town's and the university's health research. If you do "
                       "not want this, turn “health research” off in “My data”."),
    "hl.research.out": ("研究への利用はオフです。あなたの記録は研究用の情報に含めません。",
                        "Research use is off: your records are left out of research data."),
    "hl.console.title": ("健康（集計）", "Health (aggregates)"),
    "hl.console.lead": ("町の国保健診の集計です。各人の最新の健診を、性別・年代ごとに数えています。"
                        "個人の結果は表示しません。{small}人未満の区分は数字を表示しません。",
                        "The town's national health insurance checkups in aggregate: each "
                        "person's latest checkup, by sex and age band. No individual result is "
                        "shown; a group under {small} people shows no figures."),
    "hl.console.group": ("区分", "Group"),
    "hl.console.people": ("人数", "People"),
    "hl.console.share": ("{item} が目安以上", "{item} at guidance level or above"),
    "hl.console.hidden": ("{small}人未満のため表示しません", "under {small} people: not shown"),
    "hl.console.total": ("表示した区分の人数: {n}人（{hidden}区分は少人数のため非表示）",
                         "People in the groups shown: {n} ({hidden} small groups not shown)"),
    "hl.console.model": ("リスクモデル", "Risk model"),
    "hl.console.model.none": ("リスクモデルは使われていません。", "No risk model is in use."),
    "hl.console.model.line": ("{kind}（交差検証 AUC {auc}、ロジスティック回帰 {base}）",
                              "{kind} (cross-validated AUC {auc}; logistic regression {base})"),
    "hl.console.model.fallback": ("候補モデルがロジスティック回帰に勝てなかったため、ロジスティック"
                                  "回帰そのものを使っています。",
                                  "No candidate beat the logistic regression, so the logistic "
                                  "regression itself is used."),
}
add_messages(MESSAGES)
