"""A secured platform in-process: real SQLite, real accounts, real signed tokens of each kind.

Fixtures for the access tests (and the audit tests), registered by `conftest.py`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.testclient import TestClient

from cityos.access.gate import create_admin_token
from cityos.access.service import (
    Access,
    access_of,
    org_principal,
    resident_principal,
    staff_principal,
)
from cityos.access.tokens import issue_token
from cityos.app import create_app
from cityos.keystore import KeyStore
from cityos.settings import Settings, load_settings
from cityos.storage import open_store
from conftest import LOOPBACK, copy_platform, template_environ

T = TypeVar("T")


@dataclass
class Platform:
    settings: Settings
    client: TestClient
    admin_token: str  # the opaque token printed by `cityos init`
    tokens: dict[str, str]  # account label -> bearer JWT
    secrets: dict[str, tuple[str, str]]  # organisation name -> (client id, secret)
    passwords: dict[str, str]  # staff user -> password

    def auth(self, label: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[label]}"}

    def access(self, work: Callable[[Access], Awaitable[T]]) -> T:
        """Run `work` with the running app's access state, on the app's own event loop."""
        assert self.client.portal is not None

        async def call() -> T:
            return await work(await access_of(self.client.app))

        return self.client.portal.call(call)


STAFF = {"admin": (["admin"], "*"), "admin-a": (["admin"], "town-a"),
         "operator": (["operator"], ""), "viewer": (["viewer"], "")}
ORGS = {"Reader": ("*", ""), "Writer": ("", "*"), "Nobody": ("", ""),
        "ShelterCo": ("Shelter", "Shelter")}
CORPORATE = "7000012050002"  # 国税庁
RESIDENT_PASSWORD = "hanako-no-himitsu"


async def _populate(settings: Settings) -> dict[str, Any]:
    store = open_store(settings.database_url)
    await store.open()
    try:
        access = await Access.create(store, settings.access, KeyStore.at(settings.data_dir))
        out: dict[str, Any] = {"tokens": {}, "secrets": {}, "passwords": {}}
        for user, (roles, tenant) in STAFF.items():
            member, password = await access.book.add_staff(user, roles, tenant=tenant,
                                                           first_admin=user == "admin")
            out["passwords"][user] = password
            out["tokens"][user] = await access.issue(staff_principal(member))
        for name, (read, write) in ORGS.items():
            org, secret = await access.book.add_org(name, CORPORATE, read=[read] if read else [],
                                                    write=[write] if write else [])
            out["secrets"][name] = (org["client_id"], secret)
            out["tokens"][name] = await access.issue(org_principal(org))
        resident = await access.residents.add_resident("hanako@example.jp", tenant="",
                                                       password=RESIDENT_PASSWORD)
        out["residents"] = {"hanako@example.jp": resident["id"]}
        out["tokens"]["resident"] = await access.issue(resident_principal(resident))
        member = await access.book.get_staff("admin")
        out["tokens"]["expired"] = await issue_token(access.ring, staff_principal(member), 60,
                                                     now=time.time() - 3600)
        kid = (await access.ring.signing_key()).kid
        claims = jwt.decode(out["tokens"]["admin"], options={"verify_signature": False})
        out["tokens"]["forged"] = jwt.encode(claims, Ed25519PrivateKey.generate(),
                                             algorithm="EdDSA", headers={"kid": kid})
        out["tokens"]["malformed"] = "not-a-jwt"
        return out
    finally:
        await store.close()


def prepare(data_dir: Path, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Create a platform with the accounts above in `data_dir` (slow: Argon2 hashes)."""
    settings = load_settings(data_dir, environ=environ or {})
    data_dir.mkdir(parents=True, exist_ok=True)
    made = asyncio.run(_populate(settings))
    made["admin_token"] = create_admin_token(data_dir)
    return made


def make_platform(template: tuple[Path, dict[str, Any]], data_dir: Path,
                  **access: Any) -> Iterator[Platform]:
    """Serve a copy of the prepared platform in-process, with `access` settings changed."""
    environ = copy_platform(template[0], data_dir)
    made = template[1]
    environ["CITYOS_EGRESS_ALLOW"] = LOOPBACK  # tests' receivers and sources are local
    settings = load_settings(data_dir, environ=environ, max_body_bytes=65536)
    settings = dataclasses.replace(settings, access=dataclasses.replace(settings.access, **access))
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield Platform(settings, client, made["admin_token"], made["tokens"], made["secrets"],
                       made["passwords"])


@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory,
             request: pytest.FixtureRequest) -> tuple[Path, dict[str, Any]]:
    path = tmp_path_factory.mktemp("access-template") / "var"
    return path, prepare(path, template_environ(request, path))


@pytest.fixture
def platform(prepared: tuple[Path, dict[str, Any]], tmp_path: Path) -> Iterator[Platform]:
    """Deny-by-default platform with staff of each role and organisations with grants."""
    yield from make_platform(prepared, tmp_path / "var")
