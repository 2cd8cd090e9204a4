"""The re-identification risk report of an extract, and the public notice of the items it
contains (APPI Art. 43(3); Art. 43(4) when it is given to a third party such as a university).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from cityos.privacy.anonymise import Extract

ITEM_NAMES: dict[str, str] = {
    "age": "年齢（階級）", "sex": "性別", "area": "居住地域", "exam_date": "健診年月",
    "bmi": "BMI", "waist": "腹囲", "sbp": "収縮期血圧", "dbp": "拡張期血圧",
    "fpg": "空腹時血糖", "hba1c": "HbA1c", "tg": "中性脂肪", "hdl": "HDLコレステロール",
    "ldl": "LDLコレステロール", "ast": "AST", "alt": "ALT", "ggt": "γ-GTP", "egfr": "eGFR",
    "urine_protein": "尿たんぱく", "smoking": "喫煙", "drinking": "飲酒", "exercise": "運動習慣",
    "walking": "歩行習慣", "hba1c_level": "HbA1c の判定区分",
}


def risk_report(extract: Extract) -> dict[str, Any]:
    """What was removed, generalised, suppressed and coded, and the remaining risk."""
    classes = extract.classes
    n = len(extract.table)
    return {
        "records": {"in": extract.records_in, "optedOutRemoved": extract.opted_out,
                    "suppressed": extract.suppressed, "out": n},
        "removedColumns": extract.removed_columns,
        "generalisations": [
            {"column": q, "level": level,
             "ja": extract.hierarchies[q].describe(level)[0],
             "en": extract.hierarchies[q].describe(level)[1]}
            for q, level in extract.levels.items()],
        "topBottomCoding": {c: {"low": low, "high": high}
                            for c, (low, high) in extract.coded.items()},
        "quasiIdentifiers": extract.quasi,
        "sensitive": extract.sensitive,
        "required": {"k": extract.k, "l": extract.l_div},
        "achieved": {"k": extract.achieved_k, "l": extract.achieved_l},
        "classes": len(classes),
        # prosecutor model: an attacker who knows a person is in the extract
        "risk": {"highest": round(1 / extract.achieved_k, 4) if n else 0.0,
                 "average": round(len(classes) / n, 4) if n else 0.0,
                 "recordsInSmallestClasses": int(classes[classes == classes.min()].sum())
                 if n else 0},
        "rowsShuffled": True,
    }


def report_markdown(report: dict[str, Any]) -> str:
    r = report["records"]
    lines = [
        "# 再識別リスク報告 / Re-identification risk report", "",
        f"- 元の記録 / records in: {r['in']}",
        f"- オプトアウトで除外 / opted out, removed: {r['optedOutRemoved']}",
        f"- 少数のため削除（セル抑制） / suppressed: {r['suppressed']}",
        f"- 出力 / records out: {r['out']}",
        f"- 削除した列 / columns removed: {', '.join(report['removedColumns']) or 'なし / none'}",
        f"- k-匿名性 / k-anonymity: 要求 {report['required']['k']}、達成 "
        f"{report['achieved']['k']}",
        f"- l-多様性 / l-diversity（{report['sensitive']}）: 要求 {report['required']['l']}、"
        f"達成 {report['achieved']['l']}",
        f"- 同値クラス数 / equivalence classes: {report['classes']}",
        f"- 最大再識別リスク / highest risk (prosecutor): {report['risk']['highest']}",
        f"- 平均再識別リスク / average risk: {report['risk']['average']}",
        "", "## 一般化 / generalisations", "",
        "| 項目 / column | 水準 / level | 内容 / what |", "| --- | --- | --- |",
        *[f"| {g['column']} | {g['level']} | {g['ja']} / {g['en']} |"
          for g in report["generalisations"]],
        "", "## トップ・ボトムコーディング / top- and bottom-coding", "",
        *([f"- {c}: {v['low']:g}〜{v['high']:g}" for c, v in report["topBottomCoding"].items()]
          or ["- なし / none"]),
        "", "行の順序は無作為に並べ替えています。 / Rows are in random order.", "",
    ]
    return "\n".join(lines)


def public_notice(report: dict[str, Any], columns: list[str], creator: str, recipient: str,
                  method: str, made: dt.date) -> str:
    """The notice the town publishes when it makes the extract (items it contains) and, if it
    gives it to someone, to whom it goes and how (APPI Art. 43(3)–(4))."""
    items = "、".join(ITEM_NAMES.get(c, c) for c in columns)
    lines = [
        "# 匿名加工情報の作成及び提供に関する公表 / Public notice of anonymised information", "",
        f"{made.year}年{made.month}月{made.day}日　{creator}", "",
        f"{creator}は、国民健康保険の特定健康診査の結果から、個人情報の保護に関する法律に基づき、"
        "特定の個人を識別できず、元の個人情報を復元できないように加工した匿名加工情報を作成しました。",
        "", "## 匿名加工情報に含まれる個人に関する情報の項目", "", items, "",
        f"（記録数 {report['records']['out']} 件。年齢は"
        f"{_level(report, 'age')}、居住地域は{_level(report, 'area')}に一般化し、"
        "氏名・住民番号などの識別子は削除しています。作成にあたり、提供を望まない旨を申し出た方の"
        "記録は含めていません。）", "",
        "## 第三者への提供", "",
        f"- 提供先 / recipient: {recipient}",
        f"- 提供する項目 / items: {items}",
        f"- 提供の方法 / method: {method}", "",
        "提供先には、本人を識別するために他の情報と照合することを禁じています。",
        "", "---", "",
        f"English: {creator} made anonymised information (匿名加工情報) from national health "
        "insurance checkups, which identifies no one and cannot be restored, and gives it to "
        f"{recipient} ({method}). Items: "
        + ", ".join(columns) + ". Residents who opted out are not included. The recipient may "
        "not try to identify anyone by combining it with other information.", "",
    ]
    return "\n".join(lines)


def _level(report: dict[str, Any], column: str) -> str:
    for g in report["generalisations"]:
        if g["column"] == column:
            return str(g["ja"])
    return "（含まず）"
