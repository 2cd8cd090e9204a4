"""Solar forecasts: a cloud-cover forecast turned into irradiance and PV power, smart
persistence, and the blend of the two that the service serves.

- `CloudModel`: clear-sky index from total cloud cover, kt = a - b * (cover/100) ** p (the
  Kasten-Czeplak form, fitted on a training period), then GHI = kt * clear-sky GHI.
- Smart persistence (clear-sky-index persistence): the clear-sky index last observed at the
  issue time carried forward, GHI(t + h) = kt(t) * clear-sky GHI(t + h).
- `Blend`: per horizon, kt = w * persistence + (1 - w) * cloud model, w fitted on training data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import curve_fit

KT_MAX = 1.2  # clear-sky index cap (cloud enhancement)
MIN_CLEAR_SKY = 50.0  # W/m2: below this a clear-sky index means nothing (dawn, dusk)


def clear_sky_index(ghi: np.ndarray | pd.Series, clear: np.ndarray | pd.Series) -> np.ndarray:
    """GHI / clear-sky GHI, NaN where the sun is too low for the ratio to mean anything."""
    g = np.asarray(ghi, dtype=float)
    c = np.asarray(clear, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        kt = np.where(c >= MIN_CLEAR_SKY, g / c, np.nan)
    return np.clip(kt, 0.0, KT_MAX)


def _kasten(cover: np.ndarray, a: float, b: float, p: float) -> np.ndarray:
    return a - b * np.power(np.clip(cover, 0.0, 100.0) / 100.0, p)


@dataclass(frozen=True)
class CloudModel:
    """Clear-sky index as a function of total cloud cover (percent)."""

    a: float = 1.0
    b: float = 0.75
    p: float = 3.4  # Kasten and Czeplak (1980): 1 - 0.75 (N/8)^3.4

    def kt(self, cover: np.ndarray | pd.Series) -> np.ndarray:
        out = _kasten(np.asarray(cover, dtype=float), self.a, self.b, self.p)
        return np.clip(out, 0.0, KT_MAX)

    @classmethod
    def fit(cls, cover: np.ndarray, kt: np.ndarray) -> CloudModel:
        """Least squares on (cover, observed clear-sky index) pairs of a training period."""
        ok = np.isfinite(cover) & np.isfinite(kt)
        (a, b, p), _ = curve_fit(_kasten, cover[ok], kt[ok], p0=(1.0, 0.75, 3.4),
                                 bounds=([0.2, 0.0, 0.3], [KT_MAX, 1.2, 8.0]))
        return cls(float(a), float(b), float(p))


def smart_persistence(kt_observed: np.ndarray, horizon: int) -> np.ndarray:
    """Clear-sky index forecast for each hour from the value `horizon` hours before; when
    that hour had no usable index (night), the last usable index before it."""
    last = pd.Series(kt_observed).ffill().to_numpy()
    out = np.full(len(last), np.nan)
    if horizon < len(last):
        out[horizon:] = last[:-horizon]
    return out


@dataclass
class Blend:
    """Weight of persistence per horizon (hours); 0 = cloud model only."""

    weights: dict[int, float] = field(default_factory=dict)

    def kt(self, horizon: int, persistence: np.ndarray, cloud: np.ndarray) -> np.ndarray:
        w = self.weights.get(horizon, 0.0)
        pers = np.where(np.isfinite(persistence), persistence, cloud)
        return w * pers + (1.0 - w) * cloud

    @staticmethod
    def fit_weight(truth: np.ndarray, persistence: np.ndarray, cloud: np.ndarray) -> float:
        """The weight in 0, 0.05 … 1 with the least squared error on training data."""
        ok = np.isfinite(truth) & np.isfinite(persistence) & np.isfinite(cloud)
        grid = np.linspace(0.0, 1.0, 21)
        errors = [float(np.mean((w * persistence[ok] + (1 - w) * cloud[ok] - truth[ok]) ** 2))
                  for w in grid]
        return round(float(grid[int(np.argmin(errors))]), 2)
