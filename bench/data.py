"""The bench data set: N `Sensor` entities, the same documents the Lua scripts generate."""

from __future__ import annotations

from typing import Any

N = 100_000
CATEGORIES = 5000  # category == c matches N / CATEGORIES entities (20 of 100,000)


def sensor(i: int, temperature: float | None = None) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Sensor:{i:06d}",
        "type": "Sensor",
        "temperature": {"type": "Property",
                        "value": i % 40 + 0.5 if temperature is None else temperature,
                        "unitCode": "CEL"},
        "category": {"type": "Property", "value": i % CATEGORIES},
        "name": {"type": "Property", "value": f"sensor {i}"},
        "location": {"type": "GeoProperty",
                     "value": {"type": "Point",
                               "coordinates": [round(135.40 + (i % 1000) * 0.0001, 5),
                                               round(34.80 + (i // 1000) * 0.0001, 5)]}},
    }
