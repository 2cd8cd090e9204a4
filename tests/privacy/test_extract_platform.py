"""`cityos privacy extract --dataset checkups --data-dir DIR`: the health service's checkups
read through the platform under its own identity; a resident who turned the research use OFF is
left out; the extract's record (its files' SHA-256, k, l) is written through the API."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pycanon.anonymity as pycanon
from starlette.testclient import TestClient
from tests.conftest import LOOPBACK

from cityos.app import create_app
from cityos.services.health.importer import entities
from cityos.services.health.synthetic import synthetic_checkups
from cityos.settings import load_settings
from conftest import CITYOS

AREAS = [a["town"] for a in json.loads(
    (Path(__file__).resolve().parents[2] / "src" / "cityos" / "town" / "data"
     / "town_areas_centroids.json").read_text("utf-8"))]
ENV = {"CITYOS_EGRESS_ALLOW": LOOPBACK, "CITYOS_SERVICES_ENABLED": "health"}


def _run(c: TestClient, fn: Any) -> Any:
    assert c.portal is not None
    return c.portal.call(fn)


def test_an_extract_of_the_platforms_checkups_leaves_out_who_opted_out(
        data_dir: Path, tmp_path: Path) -> None:
    with TestClient(create_app(load_settings(data_dir, environ=ENV))) as c:
        app: Any = c.app
        ctx = app.state.services["health"]

        async def town() -> list[str]:
            ids = []
            for n in range(300):
                r = await app.state.access.residents.add_resident(f"r{n:03d}", tenant="")
                ids.append(str(r["id"]))
            return ids

        ids = _run(c, town)
        people = [(rid, "MF"[n % 2], 40 + (n * 7) % 35, AREAS[(n * 5) % len(AREAS)])
                  for n, rid in enumerate(ids)]
        _run(c, lambda: ctx.client.upsert(entities(synthetic_checkups(people, years=2))))
        asked = _run(c, lambda: ctx.client.ask_consent(ids[0], "health",
                                                       "ResearchAndDevelopment"))
        _run(c, lambda: app.state.personal.consents.decide("", asked["id"], "DECLINED",
                                                            by=ids[0]))
    done = subprocess.run(
        [CITYOS, "privacy", "extract", "--dataset", "checkups", "--data-dir", str(data_dir),
         "--k", "5", "--l", "2", "--quasi", "age,sex,area", "--sensitive", "hba1c_level",
         "--keep", "bmi,exam_date", "--out", str(tmp_path / "extract.csv")],
        capture_output=True, text=True, timeout=300, env={**_environ(), **ENV})
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(tmp_path / "extract.csv")
    assert pycanon.k_anonymity(table, ["age", "sex", "area"]) >= 5
    assert pycanon.l_diversity(table, ["age", "sex", "area"], ["hba1c_level"]) >= 2
    report = json.loads((tmp_path / "extract.report.json").read_text("utf-8"))
    assert report["records"]["in"] == 300  # one record per person: her latest checkup
    assert report["records"]["optedOutRemoved"] == 1
    assert report["records"]["out"] + report["records"]["suppressed"] == 299

    with TestClient(create_app(load_settings(data_dir, environ=ENV))) as c:
        ctx = c.app.state.services["health"]  # type: ignore[attr-defined]
        (made,) = _run(c, lambda: ctx.client.query("AnonymisedExtract"))
    assert made["k"] >= 5 and made["records"] == report["records"]["out"]
    assert made["files"]["extract.csv"] == hashlib.sha256(
        (tmp_path / "extract.csv").read_bytes()).hexdigest()


def _environ() -> dict[str, str]:
    import os
    return {k: v for k, v in os.environ.items() if not k.startswith("CITYOS_")}
