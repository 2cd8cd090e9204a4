"""Liveness (死活監視, MIC guideline アセット①-1): a device silent for more than twice its
expected interval is marked offline and raises a `device-offline` alert; its next message
marks it online again (and raises `device-online`).
"""

from __future__ import annotations

import time

from cityos.access.monitor import Monitor
from cityos.iot.ingest import Ingestor
from cityos.iot.registry import DeviceRegistry

SILENCE_FACTOR = 2.0


async def check_liveness(registry: DeviceRegistry, ingestor: Ingestor, monitor: Monitor,
                         now: float | None = None) -> list[str]:
    """Record what the ingestor saw, then mark silent devices offline; the ids marked now."""
    for device_id in await ingestor.flush_seen():
        await monitor.alert("device-online", device_id)
    now = time.time() if now is None else now
    marked = []
    for device in await registry.list():
        if device.get("disabled") or device.get("offline"):
            continue
        last = device.get("last_seen") or device["created"]
        silent = now - last
        if silent > SILENCE_FACTOR * device["expected_interval"]:
            await registry.update(device["id"], offline=True)
            await monitor.alert("device-offline", device["id"], tenant=device["tenant"],
                                owner=device["owner"], silent_seconds=round(silent),
                                expected_interval=device["expected_interval"])
            marked.append(device["id"])
    return marked
