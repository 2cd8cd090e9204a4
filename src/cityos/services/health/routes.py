"""The health service's faces: the resident's page /app/health, the staff's aggregate page
/console/health, and the import of the NHI system's checkup CSV by the town's staff
(POST /services/v1/health/checkups)."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from cityos.ngsi.errors import BadRequestData
from cityos.operations import STAFF_READ, STAFF_WRITE, Operation
from cityos.services.health import pages
from cityos.services.health.importer import CheckupFormatError, entities, read_checkups
from cityos.services.health.manifest import MANIFEST
from cityos.services.runtime import context_of
from cityos.web.pages import RESIDENT_PAGE, page

API = MANIFEST.api_path
MAX_CSV = 8 * 1024 * 1024  # ~40,000 checkups: a town's yearly export


async def import_checkups(request: Request) -> Response:
    """Staff upload the NHI system's checkup CSV (docs/services/health.md); the service
    writes one HealthCheckup per resident and day under its own organisation."""
    ctx = context_of(request, MANIFEST.name)
    raw = await request.body()
    if len(raw) > MAX_CSV:
        raise BadRequestData("CSVが大きすぎます（8MBまで） / the CSV is too large (8 MB at most)")
    try:
        found = entities(read_checkups(raw.decode("utf-8")))
    except UnicodeDecodeError:
        raise BadRequestData("CSVはUTF-8で送ってください / send the CSV as UTF-8") from None
    except CheckupFormatError as exc:
        raise BadRequestData(f"{exc.ja} / {exc.en}") from None
    await ctx.client.upsert(found)
    return Response(orjson.dumps({"imported": len(found)}), status_code=200,
                    media_type="application/json")


OPERATIONS: list[Operation] = [
    page("GET", MANIFEST.app_path, pages.resident_page,
         "健康: my checkups, risk and health plan", RESIDENT_PAGE),
    page("GET", MANIFEST.console_path, pages.staff_page,
         "健康: population aggregates (staff; small cells suppressed)", STAFF_READ,
         tag="console"),
    Operation("POST", f"{API}/checkups", import_checkups,
              "Import checkups from the NHI system's CSV (town staff)", "health",
              body={"type": "string", "description": "CSV, docs/services/health.md"},
              body_types=("text/csv",), policy=STAFF_WRITE,
              responses={200: "imported", 400: "a row cannot be read (which and why)"}),
]
