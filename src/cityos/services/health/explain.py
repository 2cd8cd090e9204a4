"""Why a resident's risk is what it is, in plain Japanese (and English): each factor's local
contribution, measured by putting the town's typical value (the training median) in its place
and seeing how far her predicted risk falls. Model-agnostic; no extra library.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from cityos.services.health.items import BY_KEY, feature_name
from cityos.services.health.model import Fitted, risks


@dataclass(frozen=True)
class Reason:
    """One factor and how many percentage points it adds to (or takes from) her risk."""

    feature: str
    value: float
    typical: float
    points: float  # percentage points of risk this factor adds (negative: lowers)
    ja: str
    en: str


def _value(feature: str, value: float) -> str:
    if feature == "sex":
        return "男性" if value == 1 else "女性"
    if feature in ("smoking", "exercise", "walking"):
        return "あり" if value else "なし"
    item = BY_KEY.get(feature)
    unit = item.unit if item else ""
    return f"{value:.3g}{unit}"


def _sentence(feature: str, value: float, typical: float, points: float) -> tuple[str, str]:
    name_ja, name_en = feature_name(feature, "ja"), feature_name(feature, "en")
    up = points > 0
    if feature in ("smoking", "exercise", "walking", "sex"):
        ja = f"{name_ja}（{_value(feature, value)}）がリスクを{'上げて' if up else '下げて'}います"
    else:
        side = "高め" if value > typical else "低め"
        ja = (f"{name_ja}が {_value(feature, value)} と標準的な値（{typical:.3g}）より{side}で、"
              f"リスクを{'上げて' if up else '下げて'}います")
    en = (f"{name_en} ({value:.3g}; typical {typical:.3g}) "
          f"{'raises' if up else 'lowers'} the risk by {abs(points):.1f} points")
    return ja + f"（{abs(points):.1f}ポイント）", en


def reasons(fitted: Fitted, person: dict[str, Any], top: int = 3) -> tuple[float, list[Reason]]:
    """Her risk (0–1) and the factors that raise it most, biggest first (at most `top`; only
    those adding at least half a percentage point)."""
    row = {f: person.get(f, float("nan")) for f in fitted.features}
    if isinstance(row.get("sex"), str):
        row["sex"] = {"M": 1.0, "F": 2.0}.get(str(row["sex"]), float("nan"))
    frame = pd.DataFrame([row] * (len(fitted.features) + 1), columns=fitted.features,
                         dtype=float)
    for i, feature in enumerate(fitted.features, start=1):
        frame.iloc[i, frame.columns.get_loc(feature)] = fitted.reference[feature]
    predicted = risks(fitted.served, frame)
    own = float(predicted[0])
    found = []
    for i, feature in enumerate(fitted.features, start=1):
        value = frame.iloc[0][feature]
        if pd.isna(value):
            continue
        points = (own - float(predicted[i])) * 100
        if points >= 0.5:
            ja, en = _sentence(feature, float(value), fitted.reference[feature], points)
            found.append(Reason(feature, float(value), fitted.reference[feature],
                                round(points, 1), ja, en))
    found.sort(key=lambda r: -r.points)
    return own, found[:top]
