"""Payload adapters: a device's message (JSON or UltraLight 2.0) read into NGSI-LD attributes.

UltraLight 2.0 as FIWARE's IoT Agent reads it (`key|value|key|value`, several groups joined by
`#` are several observations, the last wins). A payload is read whole or refused whole: one bad
measurement refuses the message (PayloadError names why), so nothing is ever written half.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import orjson

from cityos.iot.device_types import DeviceType
from cityos.jsonvalue import TooDeep, loads
from cityos.ngsi.model.terms import parse_datetime

MAX_PAYLOAD = 16_384
MAX_TEXT = 256
TIME_KEYS = ("TimeInstant", "observedAt")  # the observation time a device may send


class PayloadError(ValueError):
    """A message that cannot be read; the reason is recorded on the device."""


def _measurements(payload: bytes, fmt: str) -> dict[str, Any]:
    if len(payload) > MAX_PAYLOAD:
        raise PayloadError(f"payload over {MAX_PAYLOAD} bytes")
    if fmt == "json":
        try:
            data = loads(payload)
        except orjson.JSONDecodeError as exc:
            raise PayloadError(f"not JSON: {exc}") from None
        except TooDeep as exc:
            raise PayloadError(exc.detail) from None
        if not isinstance(data, dict) or not data:
            raise PayloadError("a JSON payload is a non-empty object of measurements")
        return data
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise PayloadError("UltraLight payload is not UTF-8 text") from None
    out: dict[str, Any] = {}
    for group in text.split("#"):
        parts = group.strip().split("|")
        if len(parts) < 2 or len(parts) % 2:
            raise PayloadError(f"UltraLight group {group[:60]!r} is not key|value pairs")
        for key, value in zip(parts[::2], parts[1::2], strict=True):
            out[key.strip()] = value.strip()
    return out


def _number(key: str, value: Any) -> float | int:
    if isinstance(value, bool):
        raise PayloadError(f"{key}: {value!r} is not a number")
    if isinstance(value, int | float):
        number = value
    elif isinstance(value, str):
        try:
            number = int(value) if value.lstrip("-").isdigit() else float(value)
        except ValueError:
            raise PayloadError(f"{key}: {value[:40]!r} is not a number") from None
    else:
        raise PayloadError(f"{key}: {str(value)[:40]!r} is not a number")
    if isinstance(number, float) and not math.isfinite(number):
        raise PayloadError(f"{key}: {value!r} is not a finite number")
    return number


def _point(key: str, value: Any) -> list[float | int]:
    """A position: `lon,lat` text (UltraLight) or a [lon, lat] array (JSON), in range."""
    parts = value.split(",") if isinstance(value, str) else value
    if not isinstance(parts, list) or len(parts) != 2:
        raise PayloadError(f"{key}: a position is lon,lat")
    lon, lat = (_number(key, p.strip() if isinstance(p, str) else p) for p in parts)
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise PayloadError(f"{key}: {lon},{lat} is not a longitude,latitude")
    return [lon, lat]


def _observed_at(raw: Any) -> str:
    if not isinstance(raw, str) or parse_datetime(raw) is None:
        raise PayloadError(f"TimeInstant {str(raw)[:40]!r} is not an ISO 8601 date-time")
    return raw


def now_z() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def read_payload(payload: bytes, fmt: str, kind: DeviceType, received: str | None = None
                 ) -> dict[str, dict[str, Any]]:
    """The NGSI-LD attributes (compacted names → attribute) the payload sets, each with
    observedAt (the device's TimeInstant, else `received`, else now) and unitCode;
    PayloadError if any part of it is wrong."""
    found = _measurements(payload, fmt)
    observed = received or now_z()
    for key in TIME_KEYS:
        if key in found:
            observed = _observed_at(found.pop(key))
    if not found:
        raise PayloadError("the payload holds no measurement")
    attrs: dict[str, dict[str, Any]] = {}
    for key, value in found.items():
        measure = kind.measures.get(key)
        if measure is None:
            known = ", ".join(kind.measures)
            raise PayloadError(f"unknown measurement {key[:40]!r} for a {kind.name} ({known})")
        if measure.kind == "number":
            attr: dict[str, Any] = {"type": "Property", "value": _number(key, value)}
        elif measure.kind == "point":
            attr = {"type": "GeoProperty", "value": {"type": "Point",
                                                     "coordinates": _point(key, value)}}
        else:
            if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
                raise PayloadError(f"{key}: text of 1 to {MAX_TEXT} characters expected")
            attr = {"type": "Property", "value": value}
        attr["observedAt"] = observed
        if measure.unit and measure.kind == "number":
            attr["unitCode"] = measure.unit
        attrs[measure.attr] = attr
    return attrs
