"""A town to attack (issue #18): a real `cityos serve` over HTTP with three companies, staff of
each role and two residents, each holding a real signed token.

- company A: reads `Alpha`, writes every type (`*`)
- company B: reads and writes `Beta` and the two personal types `BeaconSighting` (location)
  and `HealthCheckup` (health)
- company C: reads `Gamma`, writes every type (`*`)
- staff `admin`, `operator`, `viewer`; residents `hanako` and `taro`

Tests import the `town` fixture (one server per test module: give every test entities of its
own) and attack through `town.get/post/patch/delete(who, path, …)`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from cityos.access.gate import create_admin_token
from cityos.access.service import Access
from cityos.keystore import KeyStore
from cityos.settings import load_settings
from cityos.storage import open_store
from conftest import STORE_ENGINE, Server, copy_platform, free_port, template_environ

V1 = "/ngsi-ld/v1"
CORPORATE = "7000012050002"  # 国税庁 (a valid 法人番号)
PASSWORD = "machi-no-himitsu-2026"
COMPANIES = {
    "A": (["Alpha"], ["*"]),
    "B": (["Beta", "BeaconSighting", "HealthCheckup"], ["Beta", "BeaconSighting",
                                                        "HealthCheckup"]),
    "C": (["Gamma"], ["*"]),
}
STAFF = {"admin": ["admin"], "operator": ["operator"], "viewer": ["viewer"]}
RESIDENTS = ("hanako", "taro")


@dataclass
class Town:
    url: str
    tokens: dict[str, str]  # who -> bearer token (signed in over HTTP; staff admin: the admin token)
    residents: dict[str, str] = field(default_factory=dict)  # label -> res_… id
    clients: dict[str, str] = field(default_factory=dict)  # company -> org:CLIENT_ID
    data_dir: Path | None = None  # the server's (its store holds the audit trail)

    def auth(self, who: str, **headers: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}", **headers}

    def request(self, method: str, who: str, path: str, *, headers: dict[str, str] | None = None,
                **kw: Any) -> httpx.Response:
        return httpx.request(method, f"{self.url}{path}",
                             headers=self.auth(who, **(headers or {})), timeout=30, **kw)

    def get(self, who: str, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", who, path, **kw)

    def post(self, who: str, path: str, **kw: Any) -> httpx.Response:
        return self.request("POST", who, path, **kw)

    def patch(self, who: str, path: str, **kw: Any) -> httpx.Response:
        return self.request("PATCH", who, path, **kw)

    def delete(self, who: str, path: str, **kw: Any) -> httpx.Response:
        return self.request("DELETE", who, path, **kw)

    def consent(self, resident: str, company: str, category: str,
                purpose: str = "ServiceProvision") -> str:
        """The company asks, the resident approves: the consent's id."""
        asked = self.post(company, "/personal/v1/consents", json={
            "resident": self.residents[resident], "category": category, "purpose": purpose})
        assert asked.status_code == 201, asked.text
        consent = str(asked.json()["id"])
        approved = self.patch(resident, f"/personal/v1/me/consents/{consent}",
                              json={"state": "APPROVED"})
        assert approved.status_code == 200, approved.text
        return consent


def entity(type_: str, name: str, **attrs: Any) -> dict[str, Any]:
    """An entity of `type_` with Property attributes (a `ref…` name makes a Relationship)."""
    out: dict[str, Any] = {"id": f"urn:ngsi-ld:{type_}:{name}", "type": type_}
    for name, value in attrs.items():
        out[name] = ({"type": "Relationship", "object": value} if name.startswith("ref")
                     else {"type": "Property", "value": value})
    return out


def personal(type_: str, name: str, resident_id: str, **attrs: Any) -> dict[str, Any]:
    """A personal entity (`BeaconSighting`: location, `HealthCheckup`: health) of a resident."""
    return entity(type_, name, refResident=f"urn:ngsi-ld:Resident:{resident_id}", **attrs)


async def _populate(data_dir: Path, environ: dict[str, str]) -> dict[str, Any]:
    """The accounts, with what each signs in with (tokens are fetched from the running server:
    they last 15 minutes, less than a whole test session)."""
    settings = load_settings(data_dir, environ=environ)
    store = open_store(settings.database_url)
    await store.open()
    try:
        access = await Access.create(store, settings.access, KeyStore.at(settings.data_dir))
        out: dict[str, Any] = {"staff": {}, "orgs": {}, "residents": {}, "clients": {}}
        for user, roles in STAFF.items():
            _, password = await access.book.add_staff(user, roles, tenant="*" if user == "admin"
                                                      else "", first_admin=user == "admin")
            out["staff"][user] = password
        for name, (read, write) in COMPANIES.items():
            org, secret = await access.book.add_org(f"company-{name}", CORPORATE, read=read,
                                                    write=write)
            out["orgs"][name] = (org["client_id"], secret)
            out["clients"][name] = f"org:{org['client_id']}"
        for label in RESIDENTS:
            resident = await access.residents.add_resident(f"{label}@example.jp", tenant="",
                                                           password=PASSWORD)
            out["residents"][label] = resident["id"]
        return out
    finally:
        await store.close()


def _sign_in(url: str, made: dict[str, Any]) -> dict[str, str]:
    """A token for each account, the way each kind of account gets one."""
    tokens = {"admin": made["admin_token"]}

    def token(path: str, form: dict[str, str]) -> str:
        r = httpx.post(f"{url}{path}", data=form, timeout=30)
        assert r.status_code == 200, f"{path}: {r.status_code} {r.text}"
        return str(r.json()["access_token"])

    for user, password in made["staff"].items():
        if user != "admin":
            tokens[user] = token("/auth/login", {"username": user, "password": password})
    for name, (client_id, secret) in made["orgs"].items():
        tokens[name] = token("/auth/token", {"grant_type": "client_credentials",
                                             "client_id": client_id, "client_secret": secret})
    for label in RESIDENTS:
        tokens[label] = token("/auth/residents/login", {"login": f"{label}@example.jp",
                                                        "password": PASSWORD})
    return tokens


@pytest.fixture(scope="session")
def attack_template(tmp_path_factory: pytest.TempPathFactory,
                    request: pytest.FixtureRequest) -> tuple[Path, dict[str, Any]]:
    path = tmp_path_factory.mktemp("attack-town") / "var"
    environ = template_environ(request, path)
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    made = asyncio.run(_populate(path, environ))
    made["admin_token"] = create_admin_token(path)
    return path, made


@pytest.fixture(scope="module")
def town(attack_template: tuple[Path, dict[str, Any]],
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Town]:
    """The town, served by a real `cityos serve` (one per test module)."""
    data_dir = tmp_path_factory.mktemp("town") / "var"
    environ = copy_platform(attack_template[0], data_dir)
    url = environ.get("CITYOS_DATABASE_URL") if STORE_ENGINE == "postgresql" else None
    made = attack_template[1]
    server = Server(data_dir, *TOWN_ARGS, database_url=url, egress_allow=TOWN_EGRESS)
    try:
        yield Town(server.url, _sign_in(server.url, made), dict(made["residents"]),
                   dict(made["clients"]), data_dir)
    finally:
        server.stop()
        if os.environ.get("CITYOS_KEEP_TOWN") is None:
            shutil.rmtree(data_dir, ignore_errors=True)


TOWN_ARGS: tuple[str, ...] = ()  # extra `cityos serve` arguments
# loopback ports tests may start receivers and context sources on: the town's egress.allow
# lists exactly these (as a real town lists its own services), so that every other local,
# private or link-local address stays refused, as in a fresh `cityos serve`
LISTENER_PORTS: tuple[int, ...] = (free_port(), free_port(), free_port())
TOWN_EGRESS = ",".join(f"127.0.0.1:{port}" for port in LISTENER_PORTS)
