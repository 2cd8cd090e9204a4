"""The PV model: from global horizontal irradiance (GHI) to a system's AC power, with pvlib.

The chain is the usual one (pvlib's documentation, "modeling paradigms"): solar position and
Ineichen clear sky -> Erbs decomposition of GHI into beam and diffuse -> Hay-Davies
transposition onto the module plane -> SAPM cell temperature -> PVWatts DC -> PVWatts
inverter (clipping at the inverter's AC rating). The same chain turns a forecast GHI and a
measured GHI into power, so that forecast errors are irradiance errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pvlib

LINKE_TURBIDITY = 3.0  # Ineichen's turbidity: a fixed, documented value (no h5 lookup)
TEMPERATURE = pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"]["close_mount_glass_glass"]
GAMMA_PDC = -0.004  # 1/K: PVWatts' default temperature coefficient of crystalline silicon


@dataclass(frozen=True)
class PVSystem:
    """One PV system on a public building: where it is, how it is mounted and rated."""

    name: str
    latitude: float
    longitude: float
    kwp: float  # DC rating at STC
    tilt: float = 20.0  # degrees from horizontal
    azimuth: float = 180.0  # degrees clockwise from north (180 = south)
    inverter_kw: float | None = None  # AC rating; default 0.9 x kwp
    altitude: float = 0.0  # metres
    battery_kwh: float = 0.0  # usable battery capacity (shelters)
    backup_kw: float = 0.0  # the shelter's critical load during a power cut
    shelter: bool = False
    device: str = ""  # the inverter's device id in the IoT registry, if any

    @property
    def ac_kw(self) -> float:
        return self.inverter_kw if self.inverter_kw is not None else 0.9 * self.kwp


def hour_midpoints(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Hour-ending stamps (the mean over the preceding hour) -> the middle of that hour."""
    return index - pd.Timedelta(minutes=30)


def clear_sky_ghi(system: PVSystem, index: pd.DatetimeIndex) -> pd.Series:
    """Ineichen clear-sky GHI (W/m2) at the middle of each hour-ending stamp."""
    times = hour_midpoints(index)
    location = pvlib.location.Location(system.latitude, system.longitude,
                                       altitude=system.altitude)
    solpos = location.get_solarposition(times)
    airmass = pvlib.atmosphere.get_relative_airmass(solpos["apparent_zenith"])
    pressure = pvlib.atmosphere.alt2pres(system.altitude)
    am_abs = pvlib.atmosphere.get_absolute_airmass(airmass, pressure)
    dni_extra = pvlib.irradiance.get_extra_radiation(times)
    cs = pvlib.clearsky.ineichen(solpos["apparent_zenith"], am_abs, LINKE_TURBIDITY,
                                 altitude=system.altitude, dni_extra=dni_extra)
    return pd.Series(np.nan_to_num(cs["ghi"].to_numpy()), index=index)


def ac_power(system: PVSystem, index: pd.DatetimeIndex, ghi: np.ndarray | pd.Series,
             temp_air: np.ndarray | pd.Series | float = 15.0,
             wind_speed: np.ndarray | pd.Series | float = 1.0) -> pd.Series:
    """AC power (kW, mean over each hour) of `system` for hour-ending stamps and their GHI."""
    times = hour_midpoints(index)
    ghi_v = np.clip(np.asarray(ghi, dtype=float), 0.0, None)
    solpos = pvlib.solarposition.get_solarposition(times, system.latitude, system.longitude,
                                                   altitude=system.altitude)
    zenith = solpos["zenith"].to_numpy()
    parts = pvlib.irradiance.erbs(ghi_v, zenith, times)
    dni_extra = pvlib.irradiance.get_extra_radiation(times).to_numpy()
    poa = pvlib.irradiance.get_total_irradiance(
        system.tilt, system.azimuth, solpos["apparent_zenith"].to_numpy(),
        solpos["azimuth"].to_numpy(), np.nan_to_num(parts["dni"]), ghi_v,
        np.nan_to_num(parts["dhi"]), dni_extra=dni_extra, model="haydavies")
    poa_global = np.nan_to_num(np.asarray(poa["poa_global"], dtype=float))
    t_air = np.broadcast_to(np.asarray(temp_air, dtype=float), poa_global.shape)
    wind = np.broadcast_to(np.asarray(wind_speed, dtype=float), poa_global.shape)
    t_cell = pvlib.temperature.sapm_cell(poa_global, t_air, wind, **TEMPERATURE)
    pdc = pvlib.pvsystem.pvwatts_dc(poa_global, t_cell, system.kwp * 1000.0, GAMMA_PDC)
    pac = pvlib.inverter.pvwatts(np.asarray(pdc, dtype=float), system.ac_kw * 1000.0 / 0.96)
    pac = np.clip(np.nan_to_num(np.asarray(pac, dtype=float)), 0.0, system.ac_kw * 1000.0)
    return pd.Series(pac / 1000.0, index=index)
