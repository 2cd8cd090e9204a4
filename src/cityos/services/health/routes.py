"""The health service's faces: the resident's page /app/health and the staff's aggregate page
/console/health."""

from __future__ import annotations

from cityos.operations import STAFF_READ, Operation
from cityos.services.health import pages
from cityos.services.health.manifest import MANIFEST
from cityos.web.pages import RESIDENT_PAGE, page

OPERATIONS: list[Operation] = [
    page("GET", MANIFEST.app_path, pages.resident_page,
         "健康: my checkups, risk and health plan", RESIDENT_PAGE),
    page("GET", MANIFEST.console_path, pages.staff_page,
         "健康: population aggregates (staff; small cells suppressed)", STAFF_READ,
         tag="console"),
]
