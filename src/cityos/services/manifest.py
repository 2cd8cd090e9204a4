"""What a town service declares about itself (docs/services/README.md, the shape).

Every service package `cityos.services.<name>` holds a `manifest.py` with `MANIFEST`: its
names, the plan rows it implements, the entity types it reads and writes and the data model
each follows, the consents it asks residents for, the personal types it adds to the data
catalog and its settings. The framework (`runtime.py`) gives the service an organisation
whose type grants are exactly these reads and writes; `tests/services/test_manifests.py`
checks every manifest.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cityos.personal.datacatalog import CatalogEntry

NAME = re.compile(r"^[a-z][a-z0-9]{1,30}$")
AUDIENCES = ("residents", "town")  # shown in the app, or on the staff console only


@dataclass(frozen=True)
class Text:
    """A text in Japanese (first) and English."""

    ja: str
    en: str

    def __call__(self, lang: str) -> str:
        return self.en if lang == "en" and self.en else self.ja


@dataclass(frozen=True)
class TypeUse:
    """An entity type a service reads or writes, and the data model it follows (e.g.
    "Smart Data Models: dataModel.Transportation/Vehicle" or "town: docs/services/x.md")."""

    type: str
    model: str


@dataclass(frozen=True)
class ConsentAsk:
    """A consent the service asks residents for: which data category (a key of the data
    catalog's CATEGORIES), of which types, for what purpose, and what happens if refused."""

    category: str
    types: tuple[str, ...]
    purpose: Text
    if_refused: Text


@dataclass(frozen=True)
class Manifest:
    name: str  # the folder's name: `cityos.services.<name>`, `/app/<name>`
    title: Text
    summary: Text
    plan_rows: tuple[str, ...]  # catalog ids (plan-01 …) whose 「開く」 opens this service
    org: str  # the name of the service's own organisation on the platform
    reads: tuple[TypeUse, ...] = ()
    writes: tuple[TypeUse, ...] = ()
    consents: tuple[ConsentAsk, ...] = ()
    catalog: tuple[CatalogEntry, ...] = ()  # personal types it adds to the data catalog
    settings: Mapping[str, Any] = field(default_factory=dict)  # defaults
    audience: str = "residents"

    @property
    def app_path(self) -> str:
        return f"/app/{self.name}"

    @property
    def console_path(self) -> str:
        return f"/console/{self.name}"

    @property
    def api_path(self) -> str:
        return f"/services/v1/{self.name}"

    @property
    def read_types(self) -> tuple[str, ...]:
        """Types the organisation is granted to read (what it writes it may read back)."""
        return tuple(dict.fromkeys(u.type for u in (*self.reads, *self.writes)))

    @property
    def write_types(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(u.type for u in self.writes))


def problems(manifest: Manifest, *, catalog_types: set[str], personal_types: set[str],
             plan_rows: set[str]) -> list[str]:
    """What is wrong with a manifest (empty when it is sound): the checks the manifest test
    runs, here so that `cityos services check` can tell a town the same."""
    found = []
    if not NAME.match(manifest.name):
        found.append(f"name {manifest.name!r}: lower-case letters and digits")
    for text_name in ("title", "summary"):
        text = getattr(manifest, text_name)
        if not text.ja.strip() or not text.en.strip():
            found.append(f"{text_name}: Japanese and English are both needed")
    if manifest.audience not in AUDIENCES:
        found.append(f"audience {manifest.audience!r}: one of {', '.join(AUDIENCES)}")
    for row in manifest.plan_rows:
        if row not in plan_rows:
            found.append(f"plan row {row!r} is not in the plan's catalog")
    added = {e.type for e in manifest.catalog}
    for use in (*manifest.reads, *manifest.writes):
        if use.type not in catalog_types | added:
            found.append(f"type {use.type!r} is not in the data catalog nor added by the "
                         "manifest")
        if not use.model.strip():
            found.append(f"type {use.type!r}: name the data model it follows")
    asked = {t for ask in manifest.consents for t in ask.types}
    for use in (*manifest.reads, *manifest.writes):
        personal = use.type in personal_types or any(
            e.type == use.type and e.protected for e in manifest.catalog)
        if personal and use in manifest.reads and use.type not in asked \
                and use.type not in manifest.write_types:
            found.append(f"type {use.type!r} is personal: the manifest must ask a consent "
                         "for reading it")
    for ask in manifest.consents:
        for text in (ask.purpose, ask.if_refused):
            if not text.ja.strip() or not text.en.strip():
                found.append(f"consent {ask.category!r}: purpose and if_refused in both "
                             "languages")
    return found
