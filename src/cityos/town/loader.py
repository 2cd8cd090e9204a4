"""Load the demo town into a platform, idempotently: places, organisations, staff, residents and
devices are created when missing and left alone when present, so restarts keep every datum.

The demo's own credentials (a staff login, an organisation's client secret, a resident login,
the devices' tokens) are kept in `<data dir>/town/` (mode 0600) so that `cityos demo` can
print them and drive the devices at every start. That is for the demo town only: a real
platform keeps only hashes and shows secrets once.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cityos.access.accounts import AccountError
from cityos.access.service import Access
from cityos.catalog.seed import seed_catalog
from cityos.iot.registry import DeviceError, DeviceRegistry
from cityos.keystore import KeyStore
from cityos.ngsi.broker import Broker
from cityos.ngsi.model import change
from cityos.ngsi.model.read import read_entity
from cityos.ngsi.model.terms import now_iso
from cityos.settings import Settings
from cityos.storage import open_store
from cityos.storage.base import KEEP, Store
from cityos.town import people
from cityos.town.places import all_places, shelters, town_areas
from cityos.town.story import tell_story

STATE = ("town.state", "toyono")  # kv space and key: what was loaded and when
PROFILES = "town.residents"  # resident id -> fictional profile (age band, area, beacon)
STATIONS = (("kofudai-station", "光風台駅", (135.4377, 34.8986)),  # approximate locations
            ("tokiwadai-station", "ときわ台駅", (135.4420, 34.9048)))
SOLAR_AT = ("吉川小学校", "光風台小学校", "東能勢中学校", "老人福祉センター豊寿荘")
VEHICLES = 3  # on-demand cars with GPS, starting at the stations
INTERVAL = 10.0  # seconds between a demo device's messages (offline after 20 s of silence)


@dataclass
class Town:
    """What `cityos demo` prints and the simulator needs."""

    staff: tuple[str, str] | None = None  # username, password
    org: tuple[str, str, str] | None = None  # name, client id, secret
    resident: tuple[str, str] | None = None  # login, password
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> spec and token
    beacons: list[str] = field(default_factory=list)  # pseudonymous beacons carried
    created: dict[str, int] = field(default_factory=dict)  # what this load added


def _secret_file(data_dir: Path, name: str) -> Path:
    folder = data_dir / "town"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text("utf-8")) if path.is_file() else {}


def _write(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        json.dump(data, f, ensure_ascii=False, indent=1)
    tmp.replace(path)


def device_specs() -> list[dict[str, Any]]:
    """Every demo device: people counters and beacon receivers at the shelters, solar
    inverters on public buildings, beacon receivers at the two stations."""
    specs = []
    protect, watch, energy = people.ORGS[0].name, people.ORGS[1].name, people.ORGS[4].name
    for n, shelter in enumerate(shelters(), start=1):
        name = shelter["name"]["value"]
        lon, lat = shelter["location"]["value"]["coordinates"]
        specs.append({"id": f"shelter-counter-{n}", "type": "people-counter", "owner": protect,
                      "entity": shelter["id"], "location": (lon, lat), "firmware": "2.4.1",
                      "place": name})
        specs.append({"id": f"beacon-rx-shelter-{n}", "type": "beacon-receiver", "owner": watch,
                      "entity": None, "location": (lon, lat), "firmware": "1.9.0", "place": name})
        if name in SOLAR_AT:
            specs.append({"id": f"solar-{n}", "type": "solar-inverter", "owner": energy,
                          "entity": None, "location": (lon, lat), "firmware": "5.0.2",
                          "place": name})
    for key, name, where in STATIONS:
        specs.append({"id": f"beacon-rx-{key}", "type": "beacon-receiver", "owner": watch,
                      "entity": None, "location": where, "firmware": "1.9.0", "place": name})
    transport = people.ORGS[2].name
    for n, (_, name, where) in enumerate(STATIONS * 2, start=1):
        if n > VEHICLES:
            break
        specs.append({"id": f"ondemand-car-{n}", "type": "vehicle-gps", "owner": transport,
                      "entity": None, "location": where, "firmware": "3.2.0", "place": name})
    return specs


async def _places(store: Store, broker: Broker) -> int:
    ctx = await broker.context(None)
    now = now_iso()

    def create_missing(entity: dict[str, Any]) -> Any:
        return lambda cur: (KEEP, False) if cur is not None else \
            (change.create(None, entity, now), True)

    items = [(e["id"], create_missing(read_entity(e, ctx, now))) for e in all_places()]
    results = await store.mutate("", items)
    for result in results:
        if isinstance(result, Exception):
            raise result
    made = [i for (i, _), r in zip(items, results, strict=True) if r is True]
    if made:
        await broker.changed("", made)
    return len(made)


async def _accounts(access: Access, town: Town, saved: dict[str, Any]) -> int:
    made = 0
    book = access.book
    for n, org in enumerate(people.ORGS, start=1):
        try:
            added, secret = await book.add_org(org.name, people.corporate_number(n),
                                               read=org.read, write=org.write)
        except AccountError:
            continue
        made += 1
        if org.name == people.TOUR_ORG:
            saved["org"] = [org.name, added["client_id"], secret]
    if "org" not in saved:  # the credentials file was lost: a new secret
        org_record = await book.get_org(people.TOUR_ORG)
        saved["org"] = [people.TOUR_ORG, org_record["client_id"],
                        await book.rotate_secret(people.TOUR_ORG, overlap=0)]
    try:
        _, password = await book.add_staff(people.STAFF_USER, ["operator"], tenant="")
        saved["staff"] = [people.STAFF_USER, password]
        made += 1
    except AccountError:
        pass
    residents = access.residents
    if await residents.by_login(people.DEMO_RESIDENT) is None:
        password = "toyono-" + hashlib.sha256(os.urandom(16)).hexdigest()[:12]
        await residents.add_resident(people.DEMO_RESIDENT, tenant="", password=password)
        saved["resident"] = [people.DEMO_RESIDENT, password]
        made += 1
    areas = [a["name"]["value"] for a in town_areas()]
    for resident in people.residents(areas):
        if await residents.by_login(resident.login) is not None:
            continue
        account = await residents.add_resident(resident.login, tenant="")  # passkeys later
        beacon = "bcn-" + hashlib.sha256(f"{people.SEED}:{resident.login}".encode()) \
            .hexdigest()[:10] if resident.carries_beacon else None
        await access.store.kv_put(PROFILES, account["id"], {
            "ageBand": f"{resident.age // 10 * 10}s", "over65": resident.age >= 65,
            "area": resident.area, "district": resident.district, "beacon": beacon})
        made += 1
    town.staff = tuple(saved["staff"]) if "staff" in saved else None  # type: ignore[assignment]
    town.org = tuple(saved["org"])  # type: ignore[assignment]
    town.resident = tuple(saved["resident"]) if "resident" in saved else None  # type: ignore[assignment]
    return made


async def _devices(store: Store, town: Town, tokens: dict[str, str]) -> int:
    registry = DeviceRegistry(store)
    made = 0
    for spec in device_specs():
        try:
            _, token = await registry.add(spec["id"], spec["type"], owner=spec["owner"],
                                          entity_id=spec["entity"], firmware=spec["firmware"],
                                          location=spec["location"], expected_interval=INTERVAL)
            made += 1
        except DeviceError:
            token = tokens.get(spec["id"]) or await registry.rotate_token(spec["id"])
        tokens[spec["id"]] = token
        town.devices[spec["id"]] = {**spec, "token": token}
    return made


async def load_town(settings: Settings) -> Town:
    """Create what is missing of the demo town in the platform of `settings`."""
    store = open_store(settings.database_url)
    await store.open()
    broker = Broker.create(store, settings.ngsi, base_url=settings.public_url)
    town = Town()
    try:
        access = await Access.create(store, settings.access, KeyStore.at(settings.data_dir))
        credentials_file = _secret_file(settings.data_dir, "credentials.json")
        tokens_file = _secret_file(settings.data_dir, "device-tokens.json")
        saved, tokens = _read(credentials_file), _read(tokens_file)
        town.created["places"] = await _places(store, broker)
        town.created["accounts"] = await _accounts(access, town, saved)
        _write(credentials_file, saved)
        town.created["devices"] = await _devices(store, town, tokens)
        town.created["services"] = await seed_catalog(store)  # the plan's services
        town.created["story"] = await tell_story(store, broker, access, settings)
        _write(tokens_file, tokens)
        profiles = await store.kv_list(PROFILES)
        town.beacons = sorted(p["beacon"] for _, p in profiles if p.get("beacon"))
        if any(town.created.values()):
            await store.kv_put(*STATE, {"version": 1, "loadedAt": now_iso(),
                                        "created": town.created})
    finally:
        await broker.resolver.aclose()
        await store.close()
    return town
