"""`cityos darp solve --json` prints one JSON object with the documented keys (issue 11).

Runs the real command in a subprocess on the smallest Cordeau (2006) instance.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "fixtures" / "darp-cordeau"  # vendored, see SOURCES.md


def test_solve_json() -> None:
    cmd = [sys.executable, "-c", "from cityos.cli import main; main()", "darp", "solve"]
    args = [str(DATA / "a2-16.txt"), "--time-limit", "2", "--seed", "3", "--json"]
    out = subprocess.run(cmd + args, capture_output=True, text=True, timeout=300, check=True)
    result = json.loads(out.stdout)
    assert {"cost", "served", "requests", "feasible", "seconds", "routes"} <= result.keys()
    assert result["feasible"] is True
    assert result["served"] == result["requests"] == 16
    assert sorted(v for r in result["routes"] for v in r) == list(range(1, 33))
    assert result["cost"] < 294.25 * 1.05
