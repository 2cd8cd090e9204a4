"""`cityos evacuation plan --json` prints the documented plan (issue 21), in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

CMD = [sys.executable, "-c", "from cityos.cli import main; main()", "evacuation", "plan"]


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CMD, *args], capture_output=True, text=True, timeout=120,
                          check=check)


def test_plan_json_has_the_documented_keys_and_adds_up() -> None:
    plan: dict[str, Any] = json.loads(run("--hazard", "洪水", "--json").stdout)
    assert plan["distance"] == "great-circle" and plan["hazard"] == "flood"
    assert {"id", "name", "capacity", "occupancy", "open"} <= plan["shelters"][0].keys()
    assert len(plan["shelters"]) == 14 and len(plan["areas"]) == 41
    meters = {(d["area"], d["shelter"]): d["meters"] for d in plan["distances"]}
    total = 0
    for row in plan["assignment"]:
        total += row["people"] * meters[(row["area"], row["shelter"])]
    assert plan["totalPersonMeters"] == total > 0
    people = {a["id"]: a["people"] for a in plan["areas"]}
    for area, count in people.items():
        placed = sum(r["people"] for r in plan["assignment"] if r["area"] == area)
        left = sum(r["people"] for r in plan["unassigned"] if r["area"] == area)
        assert placed + left == count
    assert any("demo" in n for n in plan["notes"])


def test_everyone_who_does_not_fit_is_reported() -> None:
    plan = json.loads(run("--share", "1", "--json").stdout)
    left = sum(r["people"] for r in plan["unassigned"])
    placed = sum(r["people"] for r in plan["assignment"])
    assert left > 0 and placed + left == sum(a["people"] for a in plan["areas"])


def test_an_unknown_hazard_is_one_bilingual_line() -> None:
    out = run("--hazard", "meteor", check=False)
    assert out.returncode == 2
    assert "災害の種類ではありません" in out.stderr and "is not a hazard" in out.stderr
    assert "Traceback" not in out.stderr
