"""The town's onset-risk model: calibrated candidates checked against a plain logistic
regression on the same held-out split; none is kept that does worse.

Fitting compares the candidates and the baseline on the same stratified five-fold split of the
training file (AUC and Brier score of the out-of-fold risks), then refits the kept one and the
baseline on the whole file. Candidates are calibrated with CalibratedClassifierCV:
isotonic from 1,000 rows, Platt (sigmoid) below, where isotonic overfits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, confusion_matrix, roc_auc_score, roc_curve
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import SplineTransformer, StandardScaler

# Columns that identify a person or a visit: never features.
NOT_FEATURES = {"resident_id", "exam_date", "id", "name", "area", "district"}
ISOTONIC_FROM = 1000  # rows; below this Platt scaling


class ModelDataError(ValueError):
    """A training or test file the model cannot use; `ja` and `en` say why."""

    def __init__(self, ja: str, en: str) -> None:
        super().__init__(en)
        self.ja, self.en = ja, en


@dataclass
class Scores:
    """How well one model's risks match the outcomes of one data set."""

    auc: float
    brier: float
    calibration: list[dict[str, float]]  # bins of predicted risk: n, mean predicted, observed
    confusion: dict[str, int]  # at the chosen threshold: tp, fp, tn, fn

    def as_dict(self) -> dict[str, Any]:
        return {"auc": round(self.auc, 4), "brier": round(self.brier, 4),
                "calibration": self.calibration, "confusion": self.confusion}


def features_of(frame: pd.DataFrame, target: str) -> list[str]:
    """The feature columns: every numeric column but the target and identifiers; sex may be
    written M/F (read as 1/2, the national form's coding)."""
    if target not in frame.columns:
        raise ModelDataError(f"目的変数の列「{target}」がありません",
                             f"the target column '{target}' is missing")
    return [c for c in frame.columns if c != target and c not in NOT_FEATURES]


def matrix(frame: pd.DataFrame, features: list[str], target: str | None
           ) -> tuple[pd.DataFrame, np.ndarray | None]:
    """X (float, missing values kept as NaN) and y (0/1) from a frame."""
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise ModelDataError(f"列がありません: {', '.join(missing)}",
                             f"missing columns: {', '.join(missing)}")
    x = frame[features].copy()
    if "sex" in x and x["sex"].dtype == object:
        x["sex"] = x["sex"].map({"M": 1, "F": 2, "1": 1, "2": 2})
    try:
        x = x.astype(float)
    except (TypeError, ValueError):
        raise ModelDataError("数値でない値を含む列があります",
                             "a feature column holds values that are not numbers") from None
    if target is None:
        return x, None
    raw = frame[target]
    if not set(raw.dropna().unique()) <= {0, 1}:
        raise ModelDataError(f"目的変数「{target}」は 0 か 1 にしてください",
                             f"the target '{target}' must be 0 or 1")
    if raw.isna().any():
        raise ModelDataError(f"目的変数「{target}」に空欄があります",
                             f"the target '{target}' has empty cells")
    y = raw.astype(int).to_numpy()
    if len(set(y)) < 2:
        raise ModelDataError("目的変数に 0 と 1 の両方が必要です",
                             "the target needs both outcomes (0 and 1)")
    return x, y


KINDS = ("boosting", "spline", "logistic")


def candidate_model(kind: str, rows: int, seed: int = 0) -> CalibratedClassifierCV:
    """A model that may be served, calibrated (isotonic from ISOTONIC_FROM rows, else Platt):
    `boosting` shallow gradient-boosted trees (interactions, thresholds), `spline` a logistic
    regression on spline features (smooth non-linear effects), `logistic` a logistic
    regression (the baseline's form, calibrated)."""
    inner: Any
    if kind == "boosting":
        inner = HistGradientBoostingClassifier(max_depth=3, learning_rate=0.05, max_iter=100,
                                               l2_regularization=1.0, min_samples_leaf=20,
                                               random_state=seed)
    elif kind == "spline":
        inner = make_pipeline(SimpleImputer(strategy="median"),
                              SplineTransformer(n_knots=3, degree=2), StandardScaler(),
                              LogisticRegression(C=0.1, max_iter=2000))
    elif kind == "logistic":
        inner = baseline_model()
    else:
        raise ValueError(kind)
    method = "isotonic" if rows >= ISOTONIC_FROM else "sigmoid"
    return CalibratedClassifierCV(inner, method=method, cv=5)


def baseline_model() -> Pipeline:
    """The plain logistic regression every served model must beat (missing → median)."""
    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                         LogisticRegression(max_iter=1000))


def risks(model: Any, x: pd.DataFrame) -> np.ndarray:
    """Predicted probability of the outcome for each row."""
    return np.asarray(model.predict_proba(x)[:, 1], dtype=float)


def youden_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The risk from which a resident is flagged: the ROC point furthest above chance."""
    fpr, tpr, thresholds = roc_curve(y, p)
    best = int(np.argmax(tpr - fpr))
    return float(min(max(thresholds[best], 0.0), 1.0))


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 5) -> list[dict[str, float]]:
    """Rows of (predicted-risk bin, people, mean predicted, observed rate), bins by quantile."""
    frame = pd.DataFrame({"y": y, "p": p})
    frame["bin"] = pd.qcut(frame["p"].rank(method="first"), q=min(bins, len(frame)),
                           labels=False)
    out = []
    for _, part in frame.groupby("bin"):
        out.append({"from": round(float(part["p"].min()), 4),
                    "to": round(float(part["p"].max()), 4),
                    "n": len(part), "predicted": round(float(part["p"].mean()), 4),
                    "observed": round(float(part["y"].mean()), 4)})
    return out


def score(y: np.ndarray, p: np.ndarray, threshold: float) -> Scores:
    tn, fp, fn, tp = confusion_matrix(y, (p >= threshold).astype(int), labels=[0, 1]).ravel()
    return Scores(float(roc_auc_score(y, p)), float(brier_score_loss(y, p)),
                  calibration_table(y, p),
                  {"tp": int(tp), "fp": int(fp), "tn": int(tn), "fn": int(fn)})


@dataclass
class Fitted:
    """Both models fitted on the whole training file, and how they compared on held-out rows."""

    model: Any
    baseline: Any
    features: list[str]
    target: str
    threshold: float
    reference: dict[str, float]  # median of each feature: the 'typical person' for reasons
    validation: dict[str, Scores]  # "model", "baseline": out-of-fold on the training file
    rows: int
    positives: int
    method: str  # calibration: isotonic or sigmoid
    kind: str  # which candidate was kept
    tried: dict[str, Scores]  # every candidate's held-out scores

    @property
    def beats_baseline(self) -> bool:
        return beats(self.validation["model"], self.validation["baseline"])

    @property
    def served(self) -> Any:
        """What answers residents: the model, or the baseline itself when the model did not
        beat it (the CLI saves no such model; the demo's synthetic fit may fall back)."""
        return self.model if self.beats_baseline else self.baseline


def beats(model: Scores, baseline: Scores) -> bool:
    """No worse than the baseline on BOTH the AUC and the Brier score."""
    return model.auc >= baseline.auc and model.brier <= baseline.brier


def fit(frame: pd.DataFrame, target: str, kinds: tuple[str, ...] = KINDS, seed: int = 0
        ) -> Fitted:
    """Compare the candidates and the baseline on the same five folds (out-of-fold risks of
    every row), keep the candidate with the best AUC among those that beat the baseline (else
    the best one, which then does NOT beat it: `beats_baseline` is False), and refit it and
    the baseline on all rows.
    Blocking (CPU): call from a thread in async code."""
    features = features_of(frame, target)
    x, y = matrix(frame, features, target)
    assert y is not None
    if len(y) < 40 or min(np.bincount(y)) < 10:
        raise ModelDataError("学習には40件以上、各結果10件以上が必要です",
                             "fitting needs 40 rows or more and 10 of each outcome")
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    fold_rows = len(y) * 4 // 5
    p_base = cross_val_predict(baseline_model(), x, y, cv=folds, method="predict_proba")[:, 1]
    base_scores = score(y, p_base, youden_threshold(y, p_base))
    tried: dict[str, Scores] = {}
    thresholds: dict[str, float] = {}
    for kind in kinds:
        p = cross_val_predict(candidate_model(kind, fold_rows, seed), x, y, cv=folds,
                              method="predict_proba")[:, 1]
        thresholds[kind] = youden_threshold(y, p)
        tried[kind] = score(y, p, thresholds[kind])
    passing = [k for k in kinds if beats(tried[k], base_scores)]
    kind = max(passing or list(kinds), key=lambda k: tried[k].auc)
    final = candidate_model(kind, len(y), seed).fit(x, y)
    final_base = baseline_model().fit(x, y)
    reference = {c: float(x[c].median()) for c in features}
    return Fitted(final, final_base, features, target, thresholds[kind], reference,
                  {"model": tried[kind], "baseline": base_scores}, len(y), int(y.sum()),
                  final.method, kind, tried)


def evaluate(fitted: Fitted, frame: pd.DataFrame) -> dict[str, Scores]:
    """Scores of the model and the baseline on a test file (each at its own threshold: the
    model's from fitting, the baseline's Youden point on the same test data)."""
    x, y = matrix(frame, fitted.features, fitted.target)
    assert y is not None
    if len(set(y)) < 2:
        raise ModelDataError("評価データに 0 と 1 の両方が必要です",
                             "the test file needs both outcomes (0 and 1)")
    p_model, p_base = risks(fitted.model, x), risks(fitted.baseline, x)
    return {"model": score(y, p_model, fitted.threshold),
            "baseline": score(y, p_base, youden_threshold(y, p_base))}
