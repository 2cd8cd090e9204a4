"""The data catalog: which entity types hold personal data, of which category, about whom.

APPI classes 個人情報 / 仮名加工情報 / 匿名加工情報; the catalog is the storage engine's
`Classifier` (issue 6): an in-memory table, rebuilt whenever staff change an entry.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from cityos.storage.base import Entity, Store

SPACE = "personal.catalog"  # kv: entity type (short name or IRI) -> entry
SEEDED = ("personal.meta", "catalog-seeded")
RESIDENT_PREFIX = "urn:ngsi-ld:Resident:"

CLASSIFICATIONS = {
    "personal": "個人情報 personal information",
    "pseudonymised": "仮名加工情報 pseudonymised information",
    "anonymised": "匿名加工情報 anonymised information",
    "non-personal": "非パーソナルデータ non-personal data",
}
# classifications whose rows are released only as consented (the contract's "personal row")
PROTECTED = ("personal", "pseudonymised")
CATEGORIES = {
    "location": "位置情報 location", "health": "医療・健康 health", "purchase": "購買 purchase",
    "mobility": "移動 mobility", "childcare": "子育て childcare", "energy": "エネルギー energy",
    "usage": "利用履歴 service usage", "profile": "登録者情報 registration data",
    "administrative": "行政申請 administrative applications",
}
_NAME = re.compile(r"^[A-Za-z][\w.:/#-]{0,199}$")
_LOCAL = re.compile(r"[/#:]")


class CatalogError(ValueError):
    """An entry that cannot be kept (message in Japanese and English)."""


@dataclass(frozen=True)
class CatalogEntry:
    """One entity type: its APPI class, data category and the attribute naming its subject."""

    type: str  # short name (matched against the local name of the type IRI) or a full IRI
    classification: str  # a key of CLASSIFICATIONS
    category: str  # a key of CATEGORIES ("" for non-personal types)
    subject_attr: str = "refResident"  # attribute whose value is the resident id
    description: str = ""  # Japanese first, then English

    @property
    def protected(self) -> bool:
        return self.classification in PROTECTED

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "classificationLabel": CLASSIFICATIONS[self.classification],
                "categoryLabel": CATEGORIES.get(self.category, self.category)}


def check_entry(data: dict[str, Any]) -> CatalogEntry:
    """A CatalogEntry from a JSON body; CatalogError saying what is wrong."""
    name, cls = data.get("type"), data.get("classification")
    if not isinstance(name, str) or not _NAME.match(name):
        raise CatalogError("type はエンティティ型の名前かIRIです / type is an entity type name "
                           "or IRI")
    if cls not in CLASSIFICATIONS:
        raise CatalogError(f"classification は {', '.join(CLASSIFICATIONS)} のいずれかです / "
                           f"classification is one of {', '.join(CLASSIFICATIONS)}")
    category = data.get("category", "")
    if not isinstance(category, str) or (cls in PROTECTED and not re.match(r"^[a-z][a-z0-9-]{1,39}$",
                                                                             category)):
        raise CatalogError("個人情報の型には category (例: location, health) が必要です / a "
                           "personal type needs a category such as location or health")
    subject = data.get("subject_attr", data.get("subjectAttr", "refResident"))
    if not isinstance(subject, str) or not _NAME.match(subject):
        raise CatalogError("subject_attr は属性名です / subject_attr is an attribute name")
    description = data.get("description", "")
    if not isinstance(description, str) or len(description) > 500:
        raise CatalogError("description は500文字までです / description has at most 500 "
                           "characters")
    return CatalogEntry(name, cls, category, subject, description)


# the demo town's personal types (the plan's service table): what services write about people
SEED = (
    CatalogEntry("BeaconSighting", "personal", "location", "refResident",
                 "見守りビーコンの検知 / a watch-over beacon seen by a receiver"),
    CatalogEntry("PersonLocation", "personal", "location", "refResident",
                 "被災者・見守り対象者の位置 / where a watched or evacuating person is"),
    CatalogEntry("HealthCheckup", "personal", "health", "refResident",
                 "国保健診の結果 / national health insurance checkup results"),
    CatalogEntry("HealthObservation", "personal", "health", "refResident",
                 "体重・血圧・活動量 / weight, blood pressure, activity"),
    CatalogEntry("EmergencyTag", "personal", "health", "refResident",
                 "救急タグ（既往歴・投薬） / emergency tag (history, medication)"),
    CatalogEntry("Purchase", "personal", "purchase", "refResident",
                 "購買履歴・地域通貨決済 / purchases and local-currency payments"),
    CatalogEntry("ShoppingOrder", "personal", "purchase", "refResident",
                 "買い物代行の注文 / shopping-support orders"),
    CatalogEntry("RideRequest", "personal", "mobility", "refResident",
                 "オンデマンド交通の予約 / on-demand transport bookings"),
    CatalogEntry("TripRecord", "pseudonymised", "mobility", "refResident",
                 "移動履歴（仮名加工） / trips (pseudonymised)"),
    CatalogEntry("ChildcareBooking", "personal", "childcare", "refResident",
                 "子育てシェア・保育の予約 / childcare sharing and nursery bookings"),
    CatalogEntry("HouseholdEnergy", "personal", "energy", "refResident",
                 "世帯の電力使用量 / a household's electricity use"),
    CatalogEntry("ServiceUsage", "personal", "usage", "refResident",
                 "アプリ・サービスの利用履歴 / app and service usage"),
    CatalogEntry("HealthStatistics", "anonymised", "health", "",
                 "匿名加工した健診統計 / anonymised checkup statistics"),
    CatalogEntry("EvacuationShelter", "non-personal", "", "", "避難所 / evacuation shelter"),
)


def local_name(iri: str) -> str:
    return _LOCAL.split(iri)[-1]


def subject_id(value: Any) -> str:
    """The resident id in a subject attribute's value (plain `res_…` or its URN)."""
    if isinstance(value, list):
        value = value[0] if value else ""
    if not isinstance(value, str):
        return ""
    return value[len(RESIDENT_PREFIX):] if value.startswith(RESIDENT_PREFIX) else value


class DataCatalog:
    """The catalog of one platform (shared by its tenants: entity types are data models),
    kept in the store and mirrored in memory for `classify` (the storage engine's hot path)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._entries: dict[str, CatalogEntry] = {}
        self._by_iri: dict[str, CatalogEntry | None] = {}  # type IRI -> entry (memo)
        self._attr_memo: dict[tuple[str, str], bool] = {}

    async def load(self) -> None:
        """Read the catalog (seeding it with the demo town's types the first time)."""
        if await self.store.kv_get(*SEEDED) is None:
            for entry in SEED:
                if await self.store.kv_get(SPACE, entry.type) is None:
                    await self.store.kv_put(SPACE, entry.type, asdict(entry))
            await self.store.kv_put(*SEEDED, {"seeded": True})
        entries = {}
        for key, doc in await self.store.kv_list(SPACE):
            entries[key] = CatalogEntry(**{k: doc[k] for k in (
                "type", "classification", "category", "subject_attr", "description")})
        self._entries, self._by_iri, self._attr_memo = entries, {}, {}

    def entries(self) -> list[CatalogEntry]:
        return sorted(self._entries.values(), key=lambda e: e.type)

    def get(self, type_name: str) -> CatalogEntry | None:
        return self._entries.get(type_name)

    async def put(self, entry: CatalogEntry) -> int:
        """Add or replace an entry; stored rows are classified again (rows that became
        personal are sealed and filtered from the next read on). Returns rows changed."""
        await self.store.kv_put(SPACE, entry.type, asdict(entry))
        await self.load()
        return await self.store.reclassify()

    async def delete(self, type_name: str) -> bool:
        """Remove an entry (its rows are classified again); False when there was none."""
        gone = await self.store.kv_delete(SPACE, type_name)
        await self.load()
        if gone:
            await self.store.reclassify()
        return gone

    def categories(self) -> dict[str, str]:
        """Category -> label, for the categories the catalog uses (and the known ones)."""
        used = {e.category: CATEGORIES.get(e.category, e.category)
                for e in self._entries.values() if e.protected}
        return {**CATEGORIES, **used}

    def entry_of(self, type_iri: str) -> CatalogEntry | None:
        """The entry for an expanded type IRI (by full IRI, else by its local name)."""
        try:
            return self._by_iri[type_iri]
        except KeyError:
            entry = self._entries.get(type_iri) or self._entries.get(local_name(type_iri))
            if len(self._by_iri) > 10_000:
                self._by_iri.clear()
            self._by_iri[type_iri] = entry
            return entry

    # the contract's Classifier -------------------------------------------------------------
    def classify(self, tenant: str, entity: Entity) -> tuple[str, str] | None:
        """(subject, category) of a personal entity, None for a non-personal one."""
        for type_iri in entity.get("type", ()):
            entry = self.entry_of(type_iri)
            if entry is not None and entry.protected:
                return self._subject(entity, entry), entry.category
        return None

    def _subject(self, entity: Entity, entry: CatalogEntry) -> str:
        if not entry.subject_attr:
            return ""
        for attr, instances in entity.get("attrs", {}).items():
            key = (attr, entry.subject_attr)
            match = self._attr_memo.get(key)
            if match is None:
                match = attr == entry.subject_attr or local_name(attr) == entry.subject_attr
                self._attr_memo[key] = match
            if match and instances:
                first = instances[0]
                return subject_id(first.get("object", first.get("value")))
        return ""
