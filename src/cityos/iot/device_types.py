"""Device types: the entity type each feeds and how its measurements map to NGSI-LD attributes.

Declared in `device_types.toml` (FIWARE IoT Agent device groups play the same part); units are
UN/CEFACT Recommendation 20 common codes, as NGSI-LD `unitCode` asks (ETSI GS CIM 009 §4.5.2).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

FORMATS = ("json", "ul")  # JSON object, UltraLight 2.0 (`t|21.5|h|40`)
KINDS = ("number", "text", "point")  # point: a position, `lon,lat` (UL) or [lon, lat] (JSON)


@dataclass(frozen=True)
class Measure:
    key: str  # what the device sends (`t`)
    attr: str  # the NGSI-LD attribute it becomes (`temperature`)
    kind: str  # number | text
    unit: str = ""  # UN/CEFACT code (`CEL`), empty for text


@dataclass(frozen=True)
class DeviceType:
    name: str  # `env-sensor`
    label: str
    entity_type: str
    format: str
    measures: dict[str, Measure]
    commands: dict[str, Measure]  # what the device can be told (docs/iot.md, commands)


@cache
def device_types() -> dict[str, DeviceType]:
    """Every declared device type by name (read once from the package's TOML)."""
    raw = tomllib.loads(resources.files("cityos.iot").joinpath("device_types.toml")
                        .read_text("utf-8"))
    out = {}
    for name, spec in raw.items():
        measures = {key: Measure(key, m["attr"], m["kind"], m.get("unit", ""))
                    for key, m in spec["measures"].items()}
        commands = {key: Measure(key, key, c["kind"], c.get("unit", ""))
                    for key, c in spec.get("commands", {}).items()}
        out[name] = DeviceType(name, spec["name"], spec["entity_type"], spec["format"], measures,
                               commands)
    return out
