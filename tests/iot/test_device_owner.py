"""`cityos device add --owner` takes a registered organisation only (issue #29, item 6): a typo
would make an owner nobody is, and the inventory would name it."""

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


def test_owner_must_be_a_registered_organisation(tmp_path: Path) -> None:
    data = str(tmp_path / "var")
    _run("init", "--data-dir", data)
    _run("org", "add", "Toyono Bousai", "--corporate-number", "1180301018771", "--data-dir", data)
    typo = runner.invoke(app, ["device", "add", "pc-1", "--type", "people-counter",
                               "--owner", "Toyono Bosai", "--data-dir", data])
    assert typo.exit_code == 2
    assert "no organisation 'Toyono Bosai'" in typo.output and "登録されていません" in typo.output
    assert "Toyono Bousai" in typo.output  # the known ones are named
    assert "Traceback" not in typo.output
    assert orjson.loads(_run("device", "inventory", "--data-dir", data))["devices"] == []
    _run("device", "add", "pc-1", "--type", "people-counter", "--owner", "Toyono Bousai",
         "--data-dir", data)
    [device] = orjson.loads(_run("device", "inventory", "--data-dir", data))["devices"]
    assert device["owner"] == "Toyono Bousai"
