"""The evacuation guidance service (避難誘導・避難所混雑): plan rows 44 and 45."""

from __future__ import annotations

from cityos.personal.datacatalog import CatalogEntry
from cityos.services.evacuation.model import DEFAULTS
from cityos.services.manifest import Manifest, Text, TypeUse

DOC = "town: docs/services/evacuation.md"
GSI = "GSI 指定緊急避難場所・指定避難所 open data (docs/services/evacuation.md)"

MANIFEST = Manifest(
    name="evacuation",
    title=Text("避難誘導・避難所の混雑", "Evacuation guidance and shelter congestion"),
    summary=Text("いま避難するなら、どの避難所へ。災害の種類と避難所の混み具合から、地区ごとに"
                 "近くて入れる避難所を案内します。",
                 "Where to go if you evacuate now: for each town area, the nearest shelter "
                 "that accepts the hazard and still has room."),
    plan_rows=("plan-44", "plan-45"),
    org="町の避難誘導",
    reads=(TypeUse("EvacuationShelter", GSI),
           TypeUse("EmergencyEvacuationSite", GSI),
           TypeUse("TownArea", "Digital Agency area data model (town areas, Geolonia)")),
    writes=(TypeUse("EvacuationShelter", DOC),  # status, capacity, staffCount
            TypeUse("EmergencyEvacuationSite", DOC)),
    catalog=(CatalogEntry("EmergencyEvacuationSite", "non-personal", "", "",
                          "指定緊急避難場所 / designated emergency evacuation site"),
             CatalogEntry("TownArea", "non-personal", "", "", "町丁目 / town area")),
    settings=DEFAULTS,
    audience="residents",
)
