"""The demo resident's story, so that every page of わたしのデータ shows something at first open.

花子 (`people.DEMO_RESIDENT`) carries a watch-over tag (見守りタグ) that とよの見守りネット sees
at a beacon receiver, and has booked an on-demand car with とよのオンデマンド交通. She let
豊能防災サービス see where her tag was last seen, for evacuation support (an APPROVED consent),
and 北摂ヘルスケア waits for her answer to a request for her health data (REQUESTED). The
disaster service has read her tag's sightings since, which her data tracker shows.

Written the way the platform itself would: consents through the consent book (signed records
in the transparency log, grants in the store), entities through the store with their writing
organisation as owner (sealed under her key), reads through the store as that organisation's
`Reader` and told to the tracker. Each step is done only when its result is missing, so
restarts add nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from cityos.access.accounts import AccountError
from cityos.access.service import Access
from cityos.keystore import KeyStore
from cityos.ngsi.broker import Broker
from cityos.ngsi.model import change
from cityos.ngsi.model.read import read_entity
from cityos.ngsi.model.terms import now_iso
from cityos.personal.consents import ConsentBook
from cityos.personal.datacatalog import DataCatalog
from cityos.personal.tracker import Tracker
from cityos.personal.vault import Vault
from cityos.settings import Settings
from cityos.storage.base import KEEP, Reader, Store
from cityos.town import people
from cityos.trust.service import Trust

TENANT = ""  # the demo town lives in the default tenant
WATCH, RIDES, DISASTER, HEALTH = (people.ORGS[1].name, people.ORGS[2].name,
                                  people.ORGS[0].name, people.ORGS[3].name)
READS = 3  # the disaster service's reads of her tag, shown by the tracker

# (recipient, category, purpose, service, notice, approved)
CONSENTS = (
    (DISASTER, "location", "ServiceProvision", "避難支援 / evacuation support",
     "災害時に見守りタグの最終検知場所を確認し、避難を支援します。 / In a disaster we check where "
     "your watch-over tag was last seen to help you evacuate.", True),
    (HEALTH, "health", "ServiceProvision", "健診サポート / checkup support",
     "国保健診の結果から、生活習慣の改善をご提案します。 / We suggest lifestyle improvements from "
     "your national health insurance checkup results.", False),
)


def _entities(subject: str, today: dt.date) -> list[tuple[str, dict[str, Any]]]:
    """(writing organisation, entity) of her personal data."""
    ref = {"type": "Relationship", "object": f"urn:ngsi-ld:Resident:{subject}"}
    ride_day = (today + dt.timedelta(days=1)).isoformat()
    return [
        (WATCH, {"id": f"urn:ngsi-ld:BeaconSighting:{subject}-tag", "type": "BeaconSighting",
                 "refResident": ref,
                 "tag": {"type": "Property", "value": "見守りタグ / watch-over tag"},
                 "receiver": {"type": "Property", "value": "光風台駅 / Kofudai station"},
                 "seenAt": {"type": "Property", "value": f"{today.isoformat()}T08:12:00+09:00"},
                 "location": {"type": "GeoProperty",
                              "value": {"type": "Point", "coordinates": [135.4377, 34.8986]}}}),
        (RIDES, {"id": f"urn:ngsi-ld:RideRequest:{subject}-1", "type": "RideRequest",
                 "refResident": ref,
                 "pickup": {"type": "Property", "value": "光風台駅 / Kofudai station"},
                 "dropoff": {"type": "Property", "value": "豊能町役場 / Toyono town office"},
                 "pickupTime": {"type": "Property", "value": f"{ride_day}T10:00:00+09:00"},
                 "passengers": {"type": "Property", "value": 1},
                 "status": {"type": "Property", "value": "confirmed / 予約確定"}}),
    ]


async def _client(access: Access, name: str) -> str:
    return "org:" + str((await access.book.get_org(name))["client_id"])


async def _entities_missing(store: Store, broker: Broker, access: Access, subject: str) -> int:
    ctx = await broker.context(None)
    now = now_iso()
    made = 0
    for org, entity in _entities(subject, dt.date.today()):
        body = read_entity(entity, ctx, now)

        def create_missing(cur: Any, body: dict[str, Any] = body) -> tuple[Any, bool]:
            return (KEEP, False) if cur is not None else (change.create(None, body, now), True)

        [result] = await store.mutate(TENANT, [(body["id"], create_missing)],
                                      writer=await _client(access, org))
        if isinstance(result, Exception):
            raise result
        if result is True:
            made += 1
            await broker.changed(TENANT, [body["id"]])
    return made


async def _consents_missing(book: ConsentBook, access: Access, subject: str) -> int:
    made = 0
    for org, category, purpose, service, notice, approved in CONSENTS:
        recipient = await _client(access, org)
        if await book.list(TENANT, subject=subject, recipient=recipient):
            continue  # asked before: whatever she answered since stays
        consent = await book.request(TENANT, subject=subject, recipient=recipient,
                                     category=category, purpose=purpose, recipient_name=org,
                                     service=service, notice=notice)
        if approved:
            await book.decide(TENANT, consent["id"], "APPROVED", by="resident:" + subject)
        made += 1
    return made


async def _reads_missing(store: Store, tracker: Tracker, access: Access, subject: str) -> int:
    if await tracker.count(TENANT, subject):
        return 0
    reader = await _client(access, DISASTER)
    tag = await store.get_entity(TENANT, f"urn:ngsi-ld:BeaconSighting:{subject}-tag",
                                 Reader(org=reader, purpose="dpv:ServiceProvision"))
    if tag is None:  # she withdrew the consent: the disaster service reads nothing
        return 0
    for via in ("retrieve", "query", "notification")[:READS]:
        tracker.released(reader, TENANT, [tag], purpose="dpv:ServiceProvision", via=via)
    await tracker.flush()
    return READS


async def tell_story(store: Store, broker: Broker, access: Access, settings: Settings) -> int:
    """Add what is missing of the demo resident's story; how many things were added."""
    resident = await access.residents.by_login(people.DEMO_RESIDENT)
    if resident is None:
        return 0
    subject = str(resident["id"])
    try:
        for org in (WATCH, RIDES, DISASTER, HEALTH):
            await access.book.get_org(org)
    except AccountError:
        return 0  # a town whose companies were renamed or removed: no story to tell
    trust = await Trust.open(store, settings.trust, settings.public_url,
                             KeyStore.at(settings.data_dir))
    catalog = DataCatalog(store)
    await catalog.load()
    vault = Vault.at(settings.data_dir, settings.personal.master_key)
    store.set_classifier(catalog)
    store.set_sealer(vault)
    try:
        async def org_name(sub: str) -> str:
            client = sub.partition(":")[2]
            org = await access.book.org_by_client(client)
            return str(org.get("name", "")) if org else ""

        tracker = Tracker(store, catalog, vault, org_name)
        made = await _entities_missing(store, broker, access, subject)
        made += await _consents_missing(ConsentBook(store, vault, trust.log.key, trust.log),
                                        access, subject)
        made += await _reads_missing(store, tracker, access, subject)
        await tracker.close()
        return made
    finally:
        store.set_sealer(None)
        store.set_classifier(None)
        vault.close()
