"""The demo town's watch-over: the town's beacon receivers named, a postal bike and a
volunteer's phone with write-only tokens (kept for the town simulator), and four tags the demo
resident 花子 registered — three consented, one waiting (walks.py says who walks where)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cityos.services.runtime import ServiceContext
from cityos.services.watchover.model import Receiver, SafeArea
from cityos.services.watchover.runtime import service_of
from cityos.services.watchover.service import CATEGORY, WatchService
from cityos.services.watchover.walks import POSTAL_BIKE, VOLUNTEER, WALKERS
from cityos.town import people
from cityos.town.loader import device_specs

TOKENS_FILE = "watchover-receivers.json"  # <data dir>/town/: the simulator reads it
DEMO_TICK_S = 5.0  # the demo's clock runs 60 times faster: look often


def tokens_path(data_dir: Path) -> Path:
    return data_dir / "town" / TOKENS_FILE


def _site(place: str) -> tuple[str, str]:
    if place.endswith("小学校"):
        return "school-gate", f"{place} 校門"
    if place.endswith("駅"):
        return "station", place
    return "shelter", place


async def _receivers(service: WatchService, data_dir: Path) -> None:
    for spec in device_specs():
        if spec["type"] != "beacon-receiver":
            continue
        site, name = _site(spec["place"])
        feeds = f"urn:ngsi-ld:BeaconReceiver:{spec['id']}"
        await service.add_receiver(Receiver(feeds, name, "fixed", site,
                                            tuple(spec["location"])),  # type: ignore[arg-type]
                                   with_token=False, feeds=feeds)
    tokens = {}
    for rid, name, kind, site in ((POSTAL_BIKE, "郵便バイク 1号", "mobile", "postal-bike"),
                                  (VOLUNTEER, "見守りボランティア Aさん", "volunteer",
                                   "volunteer")):
        token = await service.add_receiver(
            Receiver(f"urn:ngsi-ld:WatchReceiver:{rid}", name, kind, site),  # type: ignore[arg-type]
            with_token=True)
        tokens[rid] = token
    path = tokens_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        json.dump(tokens, f)
    tmp.replace(path)


def _device(device_id: str | None) -> str | None:
    return f"urn:ngsi-ld:BeaconReceiver:{device_id}" if device_id else None


async def load(ctx: ServiceContext) -> None:
    service = service_of(ctx)
    service.clock, service.tick_s = "events", DEMO_TICK_S  # the simulator's accelerated day
    await _receivers(service, ctx.settings.data_dir)
    if ctx.demo is None:
        return
    guardian = await ctx.demo.resident(people.DEMO_RESIDENT)
    if guardian is None:
        return
    for walker in WALKERS:
        person = await ctx.demo.resident(walker.login)
        if person is None:
            continue
        home = service.receivers.get(_device(walker.home) or "")
        gate = _device(walker.gate)
        if walker.tag not in service.tags:
            await service.register(
                guardian, person, walker.tag, walker.label, (gate,) if gate else (),
                SafeArea(home.location, walker.radius_m) if home and home.location else None)
        if walker.consents:
            for consent in await ctx.client.consents():
                if consent["subject"] == person and consent["category"] == CATEGORY:
                    await ctx.demo.answer(consent["id"], person)
    await service.refresh_consents(force=True)
