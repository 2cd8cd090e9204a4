"""How good the forecast is: scored against smart persistence on measured irradiance.

Data: the Miami, Florida TMY2 file that pvlib ships (`pvlib/data/12839.tm2`, NREL's
1961-1990 NSRDB). Each month of a TMY2 is one real calendar month of one year; its GHI
source flag says which hours a pyranometer measured (A: post-1976 measured, C: pre-1976
measured) and which were modelled (E, F). Only measured hours are scored.

Forecast input: no archived weather forecast ships with a registry package, so the cloud
forecast is a stand-in built from the station's OBSERVED total cloud cover: a centred 3-hour
mean (the blur of a numerical weather model) plus Gaussian noise whose spread grows with the
horizon (`NOISE`), with a fixed seed. It stands for an NWP forecast of that quality; the skill
below holds for a forecast at least that good, not for any particular weather service.

Split: days 1-15 of every month train (the cloud model's three numbers and the blend weights),
days 16-end are scored. Nothing is tuned on the scored days.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pvlib

from cityos.services.energy.forecast import Blend, CloudModel, clear_sky_index, smart_persistence
from cityos.services.energy.pv import PVSystem, ac_power, clear_sky_ghi

HORIZONS = (1, 3, 6, 24)  # hours ahead; 24 = day-ahead
NOISE = {1: 10.0, 3: 15.0, 6: 20.0, 24: 25.0}  # cloud-cover forecast error, percent points
MEASURED = ("A", "C")  # TMY2 GHI source flags of measured hours
SEED = 20261207
DATA_FILE = Path(pvlib.__path__[0]) / "data" / "12839.tm2"


@dataclass(frozen=True)
class Score:
    horizon: int
    method: str  # persistence, cloud, blend
    hours: int
    rmse_kw: float
    mae_kw: float
    rmse_ghi: float  # W/m2
    mae_ghi: float
    skill: float  # 1 - RMSE / RMSE of smart persistence (power)


@dataclass(frozen=True)
class Evaluation:
    dataset: str
    system: PVSystem
    model: CloudModel
    weights: dict[int, float]
    train_hours: int
    scores: list[Score]

    def to_json(self) -> dict[str, object]:
        return {"dataset": self.dataset, "system": asdict(self.system),
                "cloud_model": asdict(self.model), "blend_weights": self.weights,
                "train_hours": self.train_hours, "scores": [asdict(s) for s in self.scores]}


def load_measured(path: Path = DATA_FILE) -> tuple[pd.DataFrame, dict[str, object]]:
    """The TMY2 file as hour-ending local-standard-time rows of one nominal year."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data, meta = pvlib.iotools.read_tmy2(str(path))
    # the index carries one source year for all months; use a single nominal year (1990):
    # solar geometry barely changes between years, and rows never mix two months' years
    stamps = pd.to_datetime({"year": 1990, "month": data["month"].astype(int),
                             "day": data["day"].astype(int)}) \
        + pd.to_timedelta(data["hour"].astype(int), unit="h")
    offset = pd.Timedelta(hours=float(meta["TZ"]))
    index = pd.DatetimeIndex(stamps).tz_localize("UTC") - offset
    frame = pd.DataFrame({
        "ghi": data["GHI"].to_numpy(dtype=float),
        "measured": data["GHISource"].isin(MEASURED).to_numpy(),
        "cover": data["TotCld"].to_numpy(dtype=float) * 10.0,  # tenths -> percent
        "temp_air": data["DryBulb"].to_numpy(dtype=float) / 10.0,  # 0.1 degC
        "wind_speed": data["Wspd"].to_numpy(dtype=float) / 10.0,  # 0.1 m/s
        "month": data["month"].astype(int).to_numpy(),
        "day": data["day"].astype(int).to_numpy(),
    }, index=index)
    return frame, meta


def stand_in_cloud_forecast(cover: np.ndarray, horizon: int, seed: int = SEED,
                            noise_scale: float = 1.0) -> np.ndarray:
    """The documented stand-in for an NWP cloud forecast issued `horizon` hours ahead."""
    rng = np.random.default_rng(seed + horizon)
    blurred = pd.Series(cover).rolling(3, center=True, min_periods=1).mean().to_numpy()
    noise = rng.normal(0.0, NOISE[horizon] * noise_scale, len(cover))
    return np.clip(blurred + noise, 0.0, 100.0)


def _errors(truth: np.ndarray, guess: np.ndarray) -> tuple[float, float]:
    d = guess - truth
    return float(np.sqrt(np.mean(d ** 2))), float(np.mean(np.abs(d)))


def evaluate(path: Path = DATA_FILE, seed: int = SEED, noise_scale: float = 1.0,
             persist_measured_only: bool = False) -> Evaluation:
    """Fit on the training days, score persistence, cloud model and blend on the rest.
    Persistence carries the last clear-sky index of any hour of the file (12-23 % of them
    modelled: the stronger reference, kept as the default), or with `persist_measured_only`
    the last measured one."""
    frame, meta = load_measured(path)
    system = PVSystem(name="reference 10 kWp", latitude=float(meta["latitude"]),  # type: ignore[arg-type]
                      longitude=float(meta["longitude"]),  # type: ignore[arg-type]
                      altitude=float(meta["altitude"]), kwp=10.0)  # type: ignore[arg-type]
    index = pd.DatetimeIndex(frame.index)
    clear = clear_sky_ghi(system, index).to_numpy()
    kt = clear_sky_index(frame["ghi"].to_numpy(), clear)
    power = ac_power(system, index, frame["ghi"], frame["temp_air"], frame["wind_speed"])
    truth_kw = power.to_numpy()
    train = frame["day"].to_numpy() <= 15
    month = frame["month"].to_numpy()
    scored = frame["measured"].to_numpy() & np.isfinite(kt)
    model = CloudModel.fit(frame["cover"].to_numpy()[train], kt[train])
    weights: dict[int, float] = {}
    scores: list[Score] = []
    kt_known = np.where(frame["measured"].to_numpy(), kt, np.nan) if persist_measured_only \
        else kt
    for h in HORIZONS:
        pers = smart_persistence(kt_known, h)
        same_month = np.zeros(len(month), dtype=bool)
        same_month[h:] = month[h:] == month[:-h]
        cloud = model.kt(stand_in_cloud_forecast(frame["cover"].to_numpy(), h, seed,
                                                       noise_scale))
        use_train = train & scored & same_month & np.isfinite(pers)
        weights[h] = Blend.fit_weight(kt[use_train], pers[use_train], cloud[use_train])
        blend = Blend(weights).kt(h, pers, cloud)
        test = ~train & scored & same_month & np.isfinite(pers)
        results: dict[str, tuple[float, float, float, float]] = {}
        for method, kt_fc in (("persistence", pers), ("cloud", cloud), ("blend", blend)):
            ghi_fc = np.nan_to_num(kt_fc) * clear
            kw_fc = ac_power(system, index, ghi_fc, frame["temp_air"],
                             frame["wind_speed"]).to_numpy()
            rmse_kw, mae_kw = _errors(truth_kw[test], kw_fc[test])
            rmse_ghi, mae_ghi = _errors(frame["ghi"].to_numpy()[test], ghi_fc[test])
            results[method] = (rmse_kw, mae_kw, rmse_ghi, mae_ghi)
        reference = results["persistence"][0]
        for method, (rmse_kw, mae_kw, rmse_ghi, mae_ghi) in results.items():
            scores.append(Score(h, method, int(test.sum()), round(rmse_kw, 3), round(mae_kw, 3),
                                round(rmse_ghi, 1), round(mae_ghi, 1),
                                round(1.0 - rmse_kw / reference, 3)))
    return Evaluation(dataset=f"{path.name} ({meta['City']}, {meta['State']}), measured GHI hours",
                      system=system, model=model, weights=weights,
                      train_hours=int((train & scored).sum()), scores=scores)
