"""The demo town tells the demo resident's story: a company waits for her consent, one she
granted has read her watch-over tag, and she has personal data — so every part of わたしのデータ
shows something on first open — and a restart adds nothing (issue #29, item 5). The device
inventory shown in iot.md lists the demo's devices (item 6)."""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from cityos.app import create_app
from cityos.cli import app as cli
from cityos.settings import Settings, load_settings
from cityos.town import people
from cityos.town.loader import Town, load_town
from web.pages import get, sign_in


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Town]:
    data = tmp_path_factory.mktemp("demo") / "var"
    made = CliRunner().invoke(cli, ["init", "--data-dir", str(data)])
    assert made.exit_code == 0, made.output
    settings = load_settings(data)
    return settings, asyncio.run(load_town(settings))


@pytest.fixture
def client(town: tuple[Settings, Town]) -> Iterator[TestClient]:
    with TestClient(create_app(town[0]), raise_server_exceptions=False) as client:
        yield client


def _resident(client: TestClient, town: Town) -> dict[str, str]:
    assert town.resident is not None and town.resident[0] == people.DEMO_RESIDENT
    login, password = town.resident
    r = client.post("/auth/residents/login", data={"login": login, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _mine(client: TestClient, auth: dict[str, str]) -> dict[str, Any]:
    def one(path: str) -> Any:
        r = client.get(f"/personal/v1/me/{path}", headers=auth)
        assert r.status_code == 200, (path, r.text)
        return r.json()
    return {"consents": one("consents"), "log": one("access-log")["entries"],
            "data": one("data")}


def test_the_demo_resident_has_something_on_every_page(
        town: tuple[Settings, Town], client: TestClient) -> None:
    loaded = town[1]
    assert loaded.created["story"] > 0
    mine = _mine(client, _resident(client, loaded))
    states = {c["recipientName"]: c["state"] for c in mine["consents"]}
    assert states == {"豊能防災サービス": "APPROVED", "北摂ヘルスケア": "REQUESTED"}
    assert len(mine["log"]) == 3
    assert {e["service"] for e in mine["log"]} == {"豊能防災サービス"}
    assert len(mine["data"]) == 2
    text = orjson.dumps(mine["data"]).decode()
    assert "BeaconSighting" in text and "RideRequest" in text and "光風台駅" in text
    # the app's page shows both consents and the tracker's entries
    sign_in(client, *loaded.resident)  # type: ignore[misc]
    page = get(client, "/app/mydata")
    assert page.status_code == 200
    for shown in ("豊能防災サービス", "北摂ヘルスケア"):
        assert shown in page.text


def test_the_printed_company_sees_her_tag_only_while_she_consents(
        town: tuple[Settings, Town], client: TestClient) -> None:
    loaded = town[1]
    assert loaded.org is not None and loaded.org[0] == "豊能防災サービス"
    _, client_id, secret = loaded.org
    token = client.post("/auth/token", data={"grant_type": "client_credentials",
                                             "client_id": client_id, "client_secret": secret})
    assert token.status_code == 200, token.text
    org = {"Authorization": f"Bearer {token.json()['access_token']}"}

    def tags() -> list[Any]:
        r = client.get("/ngsi-ld/v1/entities?type=BeaconSighting", headers=org)
        assert r.status_code == 200, r.text
        return list(r.json())

    assert len(tags()) == 1
    auth = _resident(client, loaded)
    [granted] = [c for c in _mine(client, auth)["consents"] if c["state"] == "APPROVED"]
    off = client.patch(f"/personal/v1/me/consents/{granted['id']}", headers=auth,
                       json={"state": "WITHDRAWN"})
    assert off.status_code == 200, off.text
    assert tags() == []


def test_a_restart_adds_nothing_and_keeps_her_answers(
        town: tuple[Settings, Town], client: TestClient) -> None:
    settings, loaded = town
    auth = _resident(client, loaded)
    before = _mine(client, auth)
    again = asyncio.run(load_town(settings))
    assert again.created["story"] == 0
    after = _mine(client, auth)
    assert len(after["log"]) == len(before["log"])
    assert orjson.dumps(after["consents"]) == orjson.dumps(before["consents"])
    assert "WITHDRAWN" in {c["state"] for c in after["consents"]}  # her answer kept
    assert orjson.dumps(after["data"]) == orjson.dumps(before["data"])


def test_the_inventory_command_of_iot_md_lists_the_demo_devices(
        town: tuple[Settings, Town]) -> None:
    doc = (Path(__file__).parents[2] / "docs" / "iot.md").read_text("utf-8")
    line = next(line for line in doc.splitlines() if line.startswith("cityos device inventory"))
    args = shlex.split(line.split("#")[0])[1:]  # the first inventory example, as a user pastes it
    shown = CliRunner().invoke(cli, [*args, "--data-dir", str(town[0].data_dir)])
    assert shown.exit_code == 0, shown.output
    inventory = orjson.loads(shown.output)
    assert len(town[1].devices) == 23
    assert len(inventory["devices"]) == 23, f"`{line}` lists {len(inventory['devices'])} devices"
