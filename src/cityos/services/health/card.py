"""Saving and loading the risk model with its model card (data, period, performance, limits,
who approved it): MODEL (joblib), MODEL.card.json and MODEL.card.md beside it.

joblib files are pickles: loading one runs code. The town loads only files it wrote itself, and
`load` refuses a model whose SHA-256 differs from the one its card recorded when it was saved.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import joblib

from cityos.services.health.model import Fitted

LIMITS_JA = (
    "予測は学習データと同じような人・同じ時期の健診に対してのみ意味があります。",
    "リスクは病気の診断ではありません。受診の必要は医師が判断します。",
    "学習データに少ない年代・性別の人では精度が下がることがあります。",
)
LIMITS_EN = (
    "Predictions hold only for people and checkups like those it was trained on.",
    "A risk is not a diagnosis; a doctor decides whether a visit is needed.",
    "Accuracy may be lower for ages and sexes rare in the training data.",
)


class ModelFileError(ValueError):
    """A model file that is missing, altered since it was saved, or not a cityos model."""

    def __init__(self, ja: str, en: str) -> None:
        super().__init__(en)
        self.ja, self.en = ja, en


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def card_of(fitted: Fitted, data: str, period: str, approved_by: str, outcome: str,
            saved: dt.datetime) -> dict[str, Any]:
    """The model card's fields (the digest is added when the file is written)."""
    return {
        "model": {"kind": fitted.kind, "calibration": fitted.method,
                  "features": fitted.features, "target": fitted.target,
                  "threshold": round(fitted.threshold, 4)},
        "data": {"description": data, "period": period, "rows": fitted.rows,
                 "positives": fitted.positives},
        "outcome": outcome,
        "performance": {"method": "stratified 5-fold out-of-fold risks of the training file",
                        "model": fitted.validation["model"].as_dict(),
                        "baseline": fitted.validation["baseline"].as_dict(),
                        "candidates": {k: {"auc": round(v.auc, 4), "brier": round(v.brier, 4)}
                                       for k, v in fitted.tried.items()}},
        "limits": {"ja": list(LIMITS_JA), "en": list(LIMITS_EN)},
        "approvedBy": approved_by,
        "saved": saved.isoformat(timespec="seconds"),
    }


def card_markdown(card: dict[str, Any]) -> str:
    """The card as a page a council member can read."""
    perf = card["performance"]
    lines = [
        "# モデルカード / Model card", "",
        f"- 予測する結果 / outcome: {card['outcome']}",
        f"- 種類 / kind: {card['model']['kind']}（較正 / calibration: "
        f"{card['model']['calibration']}）",
        f"- 使う項目 / features: {', '.join(card['model']['features'])}",
        f"- データ / data: {card['data']['description']}（{card['data']['rows']}件、"
        f"うち該当 {card['data']['positives']}件 / rows, positives）",
        f"- 期間 / period: {card['data']['period']}",
        f"- 承認者 / approved by: {card['approvedBy']}",
        f"- 保存日時 / saved: {card['saved']}",
        f"- SHA-256: `{card.get('sha256', '')}`", "",
        "## 性能 / performance", "",
        f"{perf['method']}", "",
        "| | AUC | Brier |", "| --- | --- | --- |",
        f"| モデル / model | {perf['model']['auc']} | {perf['model']['brier']} |",
        f"| ロジスティック回帰 / logistic baseline | {perf['baseline']['auc']} | "
        f"{perf['baseline']['brier']} |", "",
        "## 限界 / limits", "",
        *[f"- {ja} / {en}" for ja, en in zip(card["limits"]["ja"], card["limits"]["en"],
                                             strict=True)],
        "",
    ]
    return "\n".join(lines)


def save(fitted: Fitted, path: Path, card: dict[str, Any]) -> dict[str, Any]:
    """Write the model, then its card (JSON and Markdown) with the model file's digest."""
    joblib.dump({"cityos": "health-risk-model/1", "fitted": fitted}, path)
    card = {**card, "sha256": _digest(path)}
    path.with_name(path.name + ".card.json").write_text(
        json.dumps(card, ensure_ascii=False, indent=2) + "\n", "utf-8")
    path.with_name(path.name + ".card.md").write_text(card_markdown(card), "utf-8")
    return card


def load(path: Path) -> tuple[Fitted, dict[str, Any]]:
    """The model and its card; refuses a file its card does not vouch for."""
    card_path = path.with_name(path.name + ".card.json")
    if not path.is_file() or not card_path.is_file():
        raise ModelFileError(f"{path} またはそのモデルカードがありません",
                             f"{path} or its model card is missing")
    card = json.loads(card_path.read_text("utf-8"))
    if card.get("sha256") != _digest(path):
        raise ModelFileError(f"{path} は保存後に変更されています（カードのSHA-256と不一致）",
                             f"{path} changed since it was saved (SHA-256 differs from its "
                             "card); refusing to load it")
    saved = joblib.load(path)  # the town's own file, digest checked above
    if not isinstance(saved, dict) or saved.get("cityos") != "health-risk-model/1":
        raise ModelFileError(f"{path} は cityos のリスクモデルではありません",
                             f"{path} is not a cityos risk model")
    fitted = saved["fitted"]
    assert isinstance(fitted, Fitted)
    return fitted, card
