"""Schemathesis drives every operation of /openapi.json against the real app: never a 5xx.

The app runs in-process over a real SQLite file, NGSI-LD open as in conformance runs; every
call carries the staff admin token, so the gate lets it through to the handlers (without it
most operations would only ever answer 401), and the caller's rate limit is lifted for the
run (else 429s). Generation is derandomized: the same cases every run, no flakes, and the
run stays within a bounded time (about EXAMPLES cases per operation).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, Phase, settings

from cityos.access.gate import create_admin_token
from cityos.app import all_operations, create_app
from cityos.settings import load_settings

EXAMPLES = int(os.environ.get("CITYOS_FUZZ_EXAMPLES", "25"))  # more for a deeper search
_DATA = Path(tempfile.mkdtemp(prefix="cityos-fuzz-"))
_SETTINGS = load_settings(_DATA, environ={}, open_ngsi=True, max_body_bytes=65536)
_SETTINGS = replace(_SETTINGS, access=replace(_SETTINGS.access, rate_per_second=0.0),
                    ngsi=replace(_SETTINGS.ngsi, forward_timeout=0.2))
# the town services run in none of this run (they answer 404): their own tests probe their
# routes with bad input (tests/services/*)
ADMIN = {"Authorization": f"Bearer {create_admin_token(_DATA)}"}  # before the app reads it
APP = create_app(_SETTINGS)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
# every declared operation but the description itself (read above to load the schema)
DECLARED = {(op.method, op.path) for op in all_operations()} - {("GET", "/openapi.json")}
REACHED: dict[tuple[str, str], set[int]] = {}  # operation -> the statuses it answered


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case) -> None:
    response = case.call(headers=ADMIN)
    REACHED.setdefault((case.method.upper(), case.path), set()).add(response.status_code)
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:500])


def test_the_schema_holds_every_operation() -> None:
    """Each declared operation is in /openapi.json, so `parametrize` makes a fuzz test of it."""
    in_schema = {(op.ok().method.upper(), op.ok().path) for op in schema.get_all_operations()}
    assert len(DECLARED) > 200
    assert in_schema == DECLARED


def test_the_fuzz_reached_every_operation() -> None:
    """Run after the fuzz (the order of this file): every declared operation was called."""
    assert REACHED, "run this file whole: the fuzz above records what it reached"
    assert sorted(DECLARED - REACHED.keys()) == []
    # past the gate: most operations answered something else than "who are you?"
    gated = sorted(op for op, statuses in REACHED.items() if statuses <= {401, 403})
    assert len(gated) < len(DECLARED) // 5, gated
