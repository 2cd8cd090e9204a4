"""Payload adapters (UltraLight 2.0 and JSON) and the device-type declarations."""

from __future__ import annotations

import re

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cityos.iot.adapters import PayloadError, read_payload
from cityos.iot.device_types import FORMATS, KINDS, device_types
from cityos.ngsi.model.terms import is_valid_name

ENV = device_types()["env-sensor"]
NOW = "2026-04-01T00:00:00.000Z"
numbers = st.one_of(st.integers(-10**6, 10**6),
                    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False))


@given(st.dictionaries(st.sampled_from(["t", "h"]), numbers, min_size=1))
def test_ultralight_and_json_read_the_same_measurements(values: dict[str, float]) -> None:
    ul = "|".join(f"{k}|{v!r}" for k, v in values.items()).encode()
    for payload, fmt in ((ul, "ul"), (orjson.dumps(values), "json")):
        attrs = read_payload(payload, fmt, ENV, NOW)
        for key, value in values.items():
            attr = attrs[ENV.measures[key].attr]
            assert attr["value"] == pytest.approx(value)
            assert attr["observedAt"] == NOW and attr["unitCode"] == ENV.measures[key].unit


@given(st.binary(max_size=200), st.sampled_from(FORMATS))
def test_any_payload_is_read_whole_or_refused(payload: bytes, fmt: str) -> None:
    try:
        attrs = read_payload(payload, fmt, ENV, NOW)
    except PayloadError:
        return
    assert attrs and set(attrs) <= {"temperature", "relativeHumidity"}


def test_refusals_name_the_reason() -> None:
    cases = {b"t|21|h": "key|value", b"t|warm": "not a number", b"x|1": "unknown measurement",
             b"t|inf": "finite", b"TimeInstant|yesterday|t|1": "ISO 8601",
             b"TimeInstant|2026-04-01T09:00:00Z": "no measurement"}
    for payload, reason in cases.items():
        with pytest.raises(PayloadError, match=reason):
            read_payload(payload, "ul", ENV, NOW)
    for payload in (b"[1, 2]", b"{}", b'{"t": true}', b'{"t": "21"', b'{"t": null}'):
        with pytest.raises(PayloadError):
            read_payload(payload, "json", ENV, NOW)


def test_groups_and_the_device_time() -> None:
    attrs = read_payload(b"t|20#t|21|TimeInstant|2026-05-05T05:05:05Z", "ul", ENV, NOW)
    assert attrs["temperature"]["value"] == 21  # the last group wins
    assert attrs["temperature"]["observedAt"] == "2026-05-05T05:05:05Z"
    beacon = device_types()["beacon-receiver"]
    attrs = read_payload(b"n|2|b|bcn-01|r|-70", "ul", beacon, NOW)
    assert attrs["lastBeacon"]["value"] == "bcn-01" and "unitCode" not in attrs["lastBeacon"]


def test_every_device_type_is_well_declared() -> None:
    unit = re.compile(r"^[A-Z0-9]{2,3}$")  # UN/CEFACT Recommendation 20 common codes
    for name, kind in device_types().items():
        assert kind.format in FORMATS and kind.label and is_valid_name(kind.entity_type), name
        assert kind.measures, name
        for key, measure in kind.measures.items():
            assert measure.kind in KINDS and is_valid_name(measure.attr), (name, key)
            assert key not in ("TimeInstant", "observedAt"), (name, key)
            if measure.kind == "number":
                assert unit.match(measure.unit), (name, key, measure.unit)


def test_positions_become_geoproperties() -> None:
    car = device_types()["vehicle-gps"]
    attrs = read_payload(b"g|135.45,34.91|s|30", "ul", car, NOW)
    assert attrs["location"] == {"type": "GeoProperty", "observedAt": NOW,
                                 "value": {"type": "Point", "coordinates": [135.45, 34.91]}}
    assert read_payload(b'{"g": [135.45, 34.91]}', "json", car, NOW)["location"]["value"] \
        == {"type": "Point", "coordinates": [135.45, 34.91]}
    for bad in (b"g|200,10", b"g|135.4", b"g|east,north", b'{"g": [1]}'):
        with pytest.raises(PayloadError):
            read_payload(bad, "json" if bad.startswith(b"{") else "ul", car, NOW)


def test_a_batch_is_one_transparency_leaf_per_tenant_and_channel() -> None:
    from cityos.iot.ingest import Message
    from cityos.iot.service import write_records

    def device(n: int, tenant: str = "") -> dict[str, str]:
        return {"id": f"d{n}", "tenant": tenant, "owner": "Org", "entity_id": f"urn:x:E:{n}"}

    def sent(*payloads: bytes) -> list[Message]:
        return [Message("dk_secret", p, "mqtt") for p in payloads]

    leaves = write_records([(device(1), sent(b"t|1", b"t|2")), (device(2), sent(b"t|3")),
                            (device(3, "town-b"), sent(b"t|4"))])
    assert len(leaves) == 2
    (first, keys), (second, _) = (orjson.loads(leaves[0][0]), leaves[0][1]), \
        (orjson.loads(leaves[1][0]), leaves[1][1])
    assert first["who"] == "devices:2" and first["entities"] == ["urn:x:E:1", "urn:x:E:2"]
    assert keys == ["\x1furn:x:E:1", "\x1furn:x:E:2"]
    assert second["who"] == "device:d3" and second["org"] == "Org" and second["tenant"] == "town-b"
    assert b"dk_secret" not in leaves[0][0] + leaves[1][0]
