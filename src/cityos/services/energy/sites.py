"""The town's PV systems (data/pv_systems.tsv) placed at their shelters."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from cityos.services.energy.pv import PVSystem
from cityos.town.places import shelters

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Site:
    """A public building with PV: its system and the shape of its electricity demand."""

    system: PVSystem
    shelter_id: str
    demand_kw_day: float  # mean demand on a weekday, 08:00-17:00
    demand_kw_night: float  # base load otherwise


@cache
def town_sites() -> tuple[Site, ...]:
    where = {s["name"]["value"]: s for s in shelters()}
    rows = [line for line in (DATA / "pv_systems.tsv").read_text("utf-8").splitlines()
            if line and not line.startswith("#")]
    sites = []
    for row in csv.DictReader(rows, delimiter="\t"):
        shelter = where[row["place"]]
        lon, lat = shelter["location"]["value"]["coordinates"]
        system = PVSystem(name=row["place"], latitude=lat, longitude=lon,
                          kwp=float(row["kwp"]), tilt=float(row["tilt"]),
                          azimuth=float(row["azimuth"]), altitude=150.0,
                          battery_kwh=float(row["battery_kwh"]),
                          backup_kw=float(row["backup_kw"]), shelter=True,
                          device=row["device"])
        sites.append(Site(system, shelter["id"], float(row["demand_kw_day"]),
                          float(row["demand_kw_night"])))
    return tuple(sites)
