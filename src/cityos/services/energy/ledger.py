"""The town's energy ledger on the platform: `EnergyUsage` entities, one per facility and
month (electricity bought, PV generated and used on site, fuels), read and written through the
service's own client; and the same ledger as a CSV file for towns without it on the platform.

CSV columns: facility,month,electricity_kwh,pv_kwh,pv_self_kwh then one column per fuel key of
data/fuel_factors.tsv (kerosene, heavy_oil_a, gasoline, diesel, lpg, city_gas), empty = 0.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any, Protocol

from cityos.services.energy.carbon import Usage, fuel_factors

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
TYPE = "EnergyUsage"


class Client(Protocol):
    async def query(self, type: str | None = None, q: str | None = None,
                    attrs: Any = None, key_values: bool = True,
                    **params: Any) -> list[dict[str, Any]]: ...

    async def upsert(self, entities: list[dict[str, Any]]) -> None: ...


def entity_id(facility_key: str, month: str) -> str:
    return f"urn:ngsi-ld:{TYPE}:{facility_key}:{month}"


def to_entity(usage: Usage, facility_key: str) -> dict[str, Any]:
    return {"id": entity_id(facility_key, usage.month), "type": TYPE,
            "name": usage.facility, "month": usage.month,
            "electricityImported": round(usage.electricity_kwh, 3),
            "pvGenerated": round(usage.pv_kwh, 3), "pvSelfConsumed": round(usage.pv_self_kwh, 3),
            "fuel": {k: round(v, 3) for k, v in usage.fuels.items()}}


def from_entity(entity: dict[str, Any]) -> Usage | None:
    """A ledger row from an entity (keyValues); None when it is not a well-formed row."""
    month, name = entity.get("month"), entity.get("name")
    if not isinstance(month, str) or not MONTH.match(month) or not isinstance(name, str):
        return None

    def number(key: str) -> float:
        value = entity.get(key, 0)
        return float(value) if isinstance(value, int | float) else 0.0

    fuels = entity.get("fuel") if isinstance(entity.get("fuel"), dict) else {}
    known = fuel_factors()
    return Usage(name, month, number("electricityImported"), number("pvGenerated"),
                 number("pvSelfConsumed"),
                 {k: float(v) for k, v in (fuels or {}).items()
                  if k in known and isinstance(v, int | float)})


async def read(client: Client) -> list[Usage]:
    rows = [from_entity(e) for e in await client.query(TYPE)]
    return [u for u in rows if u is not None]


async def write(client: Client, usages: list[tuple[str, Usage]]) -> None:
    await client.upsert([to_entity(u, key) for key, u in usages])


def parse_csv(text: str) -> list[Usage]:
    """Ledger rows from CSV; ValueError (Japanese / English) on a bad row."""
    reader = csv.DictReader(io.StringIO(text))
    known = fuel_factors()
    out = []
    for n, row in enumerate(reader, start=2):
        month = (row.get("month") or "").strip()
        facility = (row.get("facility") or "").strip()
        if not facility or not MONTH.match(month):
            raise ValueError(f"{n}行目: facility と month (YYYY-MM) が必要です / line {n}: "
                             "facility and month (YYYY-MM) are needed")

        def num(key: str, line: int = n, data: dict[str, str] = row) -> float:
            raw = (data.get(key) or "").strip()
            try:
                value = float(raw) if raw else 0.0
            except ValueError:
                raise ValueError(f"{line}行目: {key} が数値ではありません / line {line}: {key} "
                                 "is not a number") from None
            if value < 0 or value != value:
                raise ValueError(f"{line}行目: {key} は0以上です / line {line}: {key} must "
                                 "not be negative")
            return value

        out.append(Usage(facility, month, num("electricity_kwh"), num("pv_kwh"),
                         num("pv_self_kwh"), {k: num(k) for k in known if num(k)}))
    return out
