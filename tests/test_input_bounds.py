"""The bounds' helpers: JSON nesting (`cityos.jsonvalue`) and integer parameters
(`cityos.numbers`)."""

from __future__ import annotations

import orjson
import pytest

from cityos.jsonvalue import MAX_DEPTH, check_depth, depth_over, loads
from cityos.numbers import MAX_COUNT, bounded_int, bounded_seconds


def _deep(levels: int) -> bytes:
    return b"[" * levels + b"1" + b"]" * levels



def test_depth_is_counted_in_arrays_and_objects() -> None:
    assert not depth_over(orjson.loads(_deep(MAX_DEPTH)))
    assert depth_over(orjson.loads(_deep(MAX_DEPTH + 1)))
    assert not depth_over({"a": {"b": orjson.loads(_deep(MAX_DEPTH - 2))}})
    assert depth_over({"a": {"b": orjson.loads(_deep(MAX_DEPTH - 1))}})
    assert not depth_over({"a": [{"b": 1}] * 10_000})
    with pytest.raises(Exception, match="nested too deeply"):
        check_depth(orjson.loads(_deep(1000)))
    with pytest.raises(Exception, match="nested too deeply"):
        loads(_deep(MAX_DEPTH + 1))
    inner = _deep(MAX_DEPTH + 1)  # a batch's items are checked one by one, by the batch
    assert loads(b"[" + inner + b"]", items=True) == [orjson.loads(inner)]


@pytest.mark.parametrize("raw", ["-1", "２", "²", "1_0", " 1", "1.0", "9" * 5000,
                                 str(MAX_COUNT + 1), "0x10", ""])
def test_bounded_int_refuses_what_is_not_a_small_ascii_integer(raw: str) -> None:
    with pytest.raises(Exception, match="offset"):
        bounded_int(raw, "offset")


def test_bounded_int_takes_its_bounds() -> None:
    assert bounded_int("0", "offset") == 0
    assert bounded_int(str(MAX_COUNT), "offset") == MAX_COUNT
    assert bounded_int("-5", "x", minimum=-10) == -5


def test_durations_stop_at_a_century() -> None:
    assert bounded_seconds(86_400.0, "throttling") == 86_400.0
    for too_long in (1e300, float("inf"), float("nan")):
        with pytest.raises(Exception, match="throttling"):
            bounded_seconds(too_long, "throttling")


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 1000])
def test_a_deep_device_payload_is_refused_not_crashed_on(levels: int) -> None:
    """MQTT and HTTP ingestion read payloads with `read_payload`: a PayloadError is recorded
    on the device; anything else would stop the ingester."""
    from cityos.iot.adapters import PayloadError, read_payload
    from cityos.iot.device_types import device_types

    payload = b'{"t": ' + _deep(levels) + b"}"
    with pytest.raises(PayloadError, match="nested too deeply"):
        read_payload(payload, "json", device_types()["env-sensor"], "2026-04-01T00:00:00.000Z")
