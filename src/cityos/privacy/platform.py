"""The extract's input through the platform: the checkups the health service holds (read with
its own identity, as any read), the residents who opted out of research use, and the record of
each extract (an AnonymisedExtract entity: its digests go into the transparency log with every
write)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from cityos.services.health.importer import checkup_of
from cityos.services.runtime import ServiceContext

RESEARCH = "ResearchAndDevelopment"  # the purpose whose refusal is an opt-out
OUT = ("DECLINED", "WITHDRAWN")


async def checkups_frame(ctx: ServiceContext) -> pd.DataFrame:
    """Every checkup the service holds, one row each (resident_id, exam_date, sex, age, area,
    the measures and answers)."""
    rows = []
    for entity in await ctx.client.query("HealthCheckup"):
        c = checkup_of(entity)
        rows.append({"resident_id": c.resident, "exam_date": c.date.isoformat(), "sex": c.sex,
                     "age": c.age, "area": c.area, **c.values})
    return pd.DataFrame(rows)


async def opted_out(ctx: ServiceContext) -> set[str]:
    """Residents who turned the research use of their checkups OFF (declined or withdrew the
    service's consent for research) — they are left out of every extract."""
    found = set()
    for consent in await ctx.client.consents():
        purpose = str(consent.get("purpose", ""))
        if purpose.endswith(RESEARCH) and consent.get("state") in OUT:
            found.add(str(consent.get("subject") or consent.get("resident") or ""))
    return found - {""}


async def record(ctx: ServiceContext, name: str, digests: dict[str, str],
                 report: dict[str, Any]) -> str:
    """Write the extract's record (what was made, when, its files' SHA-256, k and l); the
    platform seals nothing here but logs the write in its transparency log."""
    made = dt.datetime.now(dt.UTC)
    ident = f"urn:ngsi-ld:AnonymisedExtract:{made.strftime('%Y%m%dT%H%M%S')}-{name}"
    await ctx.client.upsert([{
        "id": ident, "type": "AnonymisedExtract",
        "dataset": {"type": "Property", "value": "checkups"},
        "created": {"type": "Property", "value": made.isoformat(timespec="seconds")},
        "files": {"type": "Property", "value": digests},
        "records": {"type": "Property", "value": report["records"]["out"]},
        "k": {"type": "Property", "value": report["achieved"]["k"]},
        "l": {"type": "Property", "value": report["achieved"]["l"]},
        "generalisations": {"type": "Property", "value": [
            f"{g['column']}: {g['en']}" for g in report["generalisations"]]},
    }])
    return ident
