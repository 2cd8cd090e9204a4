"""Schemathesis drives every operation of /openapi.json against the real app: never a 5xx.

The app runs in-process over a real SQLite file, NGSI-LD open as in conformance runs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from cityos.app import create_app
from cityos.settings import load_settings

_DATA = Path(tempfile.mkdtemp(prefix="cityos-fuzz-"))
APP = create_app(load_settings(_DATA, environ={}, open_ngsi=True, max_body_bytes=65536))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=25, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case) -> None:
    response = case.call()
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:500])
