"""`cityos device …` on a real data directory (in-process through typer's runner)."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from cityos.cli import app

runner = CliRunner()


def _run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_add_list_disable_rotate_inventory(tmp_path: Path) -> None:
    data = str(tmp_path / "var")
    _run("init", "--data-dir", data)
    out = _run("device", "add", "pc-1", "--type", "people-counter", "--firmware", "2.4.1",
               "--lon", "135.44", "--lat", "34.90", "--interval", "30", "--data-dir", data)
    token = out.strip().splitlines()[-1]
    assert token.startswith("dk_")
    assert "pc-1" in _run("device", "list", "--data-dir", data)
    _run("device", "disable", "pc-1", "--data-dir", data)
    inventory = orjson.loads(_run("device", "inventory", "--data-dir", data))
    [device] = inventory["devices"]
    assert device["disabled"] is True and device["firmware"] == "2.4.1"
    assert device["location"] == [135.44, 34.90] and "token" not in device
    assert token not in _run("device", "inventory", "--data-dir", data)
    _run("device", "enable", "pc-1", "--data-dir", data)
    new = _run("device", "rotate-token", "pc-1", "--data-dir", data).strip().splitlines()[-1]
    assert new.startswith("dk_") and new != token
    bad = runner.invoke(app, ["device", "add", "pc-1", "--type", "people-counter",
                              "--data-dir", data])
    assert bad.exit_code == 2 and "already exists" in bad.output
    bad = runner.invoke(app, ["device", "add", "pc-2", "--type", "toaster", "--data-dir", data])
    assert bad.exit_code == 2 and "unknown device type" in bad.output
