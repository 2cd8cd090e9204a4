"""Every word of the evacuation pages exists in Japanese and English."""

from __future__ import annotations

import re
from pathlib import Path

from cityos.services.evacuation.messages import MESSAGES
from cityos.services.evacuation.model import HAZARD_NAMES
from cityos.web.i18n import MESSAGES as ALL

TEMPLATES = Path(__file__).resolve().parents[3] / "src/cityos/services/evacuation/templates"


def test_every_key_has_both_languages_and_exists() -> None:
    for key, (ja, en) in MESSAGES.items():
        assert ja.strip() and en.strip(), key
    used = set()
    for template in TEMPLATES.rglob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*["']([\w.\-]+)["']\s*[,)]""", template.read_text()))
    assert used and not sorted(k for k in used if k not in ALL)
    # the keys the templates build: hazards, congestion levels, kinds, reasons, distances
    built = [*(f"evac.hazard.{h}" for h in HAZARD_NAMES),
             *(f"evac.level.{k}" for k in ("vacant", "some", "busy", "full")),
             "evac.kind.EvacuationShelter", "evac.kind.EmergencyEvacuationSite",
             *(f"evac.reason.{w}" for w in ("start", "occupancy", "staffCount", "status",
                                            "capacity", "change")),
             *(f"evac.distance.{d}" for d in ("great-circle", "roads")),
             *(f"evac.distance.name.{d}" for d in ("great-circle", "roads"))]
    assert not [k for k in built if k not in ALL]
