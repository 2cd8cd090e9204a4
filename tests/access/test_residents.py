"""Residents' accounts over HTTP: sign-up, sign-in, lockout, their own route and nothing else."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import pytest

from cityos.access.accounts import BadCredentials, Locked
from cityos.access.service import Access
from cityos.keystore import KeyStore
from cityos.settings import load_settings
from cityos.storage import open_store
from conftest import CITYOS, engine_environ

from .secured import RESIDENT_PASSWORD, Platform, make_platform


def _signup(platform: Platform, login: str, password: str = "a-long-enough-secret") -> dict:
    r = platform.client.post("/auth/residents", data={"login": login, "password": password})
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    return r.json()


def test_sign_up_and_sign_in_with_a_password(platform: Platform) -> None:
    token = _signup(platform, "Taro@Example.jp")["access_token"]
    me = platform.client.get("/auth/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["login"] == "taro@example.jp" and me["roles"] == ["resident"]
    assert me["sub"] == f"resident:{me['id']}" and me["id"].startswith("res_")
    assert me["password"] is True and me["passkeys"] == []
    assert "hash" not in str(me) and "argon2" not in str(me)
    r = platform.client.post("/auth/residents/login",
                             json={"login": "taro@example.jp", "password": "a-long-enough-secret"})
    assert r.status_code == 200 and r.json()["token_type"] == "Bearer"
    again = platform.client.get("/auth/v1/me",
                                headers={"Authorization": f"Bearer {r.json()['access_token']}"})
    assert again.json()["id"] == me["id"]


def test_bad_sign_ups_are_refused_clearly(platform: Platform) -> None:
    c = platform.client
    taken = c.post("/auth/residents", data={"login": "hanako@example.jp",
                                           "password": "another-long-secret"})
    assert taken.status_code == 400 and "使われています" in taken.json()["error_description"]
    short = c.post("/auth/residents", data={"login": "jiro", "password": "short"})
    assert short.status_code == 400 and "12" in short.json()["error_description"]
    odd = c.post("/auth/residents", data={"login": "a b<script>", "password": "x" * 20})
    assert odd.status_code == 400
    assert c.post("/auth/residents", content=b"\xff", headers={
        "content-type": "application/json"}).status_code == 400
    assert c.post("/auth/residents/login", data={"login": "nobody", "password": "x" * 12}
                  ).status_code == 401


def test_a_resident_token_reaches_only_resident_routes(platform: Platform) -> None:
    auth = platform.auth("resident")
    assert platform.client.get("/auth/v1/me", headers=auth).status_code == 200
    for method, path in (("GET", "/ngsi-ld/v1/types"), ("GET", "/auth/v1/alerts"),
                         ("GET", "/auth/v1/accounts"), ("POST", "/ngsi-ld/v1/entities")):
        assert platform.client.request(method, path, headers=auth).status_code == 403, path
    other = platform.client.get("/auth/v1/me", headers={**auth, "NGSILD-Tenant": "town-b"})
    assert other.status_code == 403  # bound to its tenant like every token


def test_ten_wrong_passwords_lock_a_resident_and_raise_an_alert(platform: Platform) -> None:
    c = platform.client
    for _ in range(10):
        r = c.post("/auth/residents/login", data={"login": "hanako@example.jp",
                                                  "password": "wrong-password!"})
    assert r.status_code == 401
    r = c.post("/auth/residents/login", data={"login": "hanako@example.jp",
                                              "password": RESIDENT_PASSWORD})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    alerts = c.get("/auth/v1/alerts?kind=brute-force", headers=platform.auth("admin")).json()
    assert any(a["subject"].startswith("resident:res_") for a in alerts)
    rows = c.get("/auth/v1/accounts", headers=platform.auth("admin")).json()
    [row] = [r for r in rows if r["kind"] == "resident"]
    assert row["name"] == "hanako@example.jp" and "locked" in row["flags"]  # for the review


def test_a_disabled_resident_token_stops_working(platform: Platform) -> None:
    auth = platform.auth("resident")
    assert platform.client.get("/auth/v1/me", headers=auth).status_code == 200

    async def disable(access):  # type: ignore[no-untyped-def]
        [resident] = [r for r in await access.residents.list_residents()
                      if r["login"] == "hanako@example.jp"]
        await access.residents.set_disabled(resident["id"], True)

    platform.access(disable)
    time.sleep(2.1)  # the account cache of the gate lives two seconds
    assert platform.client.get("/auth/v1/me", headers=auth).status_code == 401
    r = platform.client.post("/auth/residents/login", data={"login": "hanako@example.jp",
                                                            "password": RESIDENT_PASSWORD})
    assert r.status_code == 401


def test_sign_up_can_be_closed(prepared, tmp_path) -> None:  # type: ignore[no-untyped-def]
    for platform in make_platform(prepared, tmp_path / "var", resident_signup=False):
        r = platform.client.post("/auth/residents", data={"login": "saburo",
                                                          "password": "x" * 16})
        assert r.status_code == 403
        assert platform.client.post("/auth/passkeys/register",
                                    json={"login": "saburo"}).status_code == 403
        r = platform.client.post("/auth/residents/login", data={"login": "hanako@example.jp",
                                                                "password": RESIDENT_PASSWORD})
        assert r.status_code == 200  # existing residents still sign in


def test_passkey_ceremonies_refuse_bad_input(platform: Platform) -> None:
    c = platform.client
    begin = c.post("/auth/passkeys/register", json={"login": "shiro"}).json()
    assert begin["publicKey"]["rp"]["name"] == "cityos"
    assert begin["publicKey"]["challenge"] and begin["ceremony"]
    bogus = {"id": "AAAA", "rawId": "AAAA", "type": "public-key",
             "response": {"clientDataJSON": "e30", "attestationObject": "oA"}}
    r = c.post("/auth/passkeys/register/finish",
               json={"ceremony": begin["ceremony"], "credential": bogus})
    assert r.status_code == 400 and "error_description" in r.json()
    again = c.post("/auth/passkeys/register/finish",
                   json={"ceremony": begin["ceremony"], "credential": bogus})
    assert again.status_code == 400 and "もう一度" in again.json()["error_description"]  # used once
    assert c.post("/auth/passkeys/register/finish", json={"x": 1}).status_code == 400
    assert c.post("/auth/passkeys/login/finish",
                  json={"ceremony": "x", "credential": bogus}).status_code == 401
    assert c.post("/auth/passkeys/register", json={"login": "hanako@example.jp"}
                  ).status_code == 400
    page = c.get("/auth/passkeys")
    assert page.status_code == 200 and "パスキー" in page.text and "passkey" in page.text
    assert "script-src 'nonce-" in page.headers["content-security-policy"]


def test_residents_commands(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "var"
    subprocess.run([CITYOS, "init", "--data-dir", str(data)], capture_output=True, check=True)
    settings = load_settings(data, environ=engine_environ())

    async def with_access(work):  # type: ignore[no-untyped-def]
        store = open_store(settings.database_url)
        await store.open()
        try:
            return await work(await Access.create(store, settings.access,
                                                 KeyStore.at(settings.data_dir)))
        finally:
            await store.close()

    asyncio.run(with_access(lambda a: a.residents.add_resident(
        "kita@toyono.example", tenant="", password="kita-no-himitsu-1")))

    def cityos(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([CITYOS, "residents", *args, "--data-dir", str(data)],
                              capture_output=True, text=True, env={"COLUMNS": "200", **engine_environ()})

    listed = cityos("list")
    assert listed.returncode == 0 and "kita@toyono.example" in listed.stdout
    assert "password" in listed.stdout and "argon2" not in listed.stdout
    assert cityos("disable", "Kita@Toyono.example").returncode == 0
    resident = asyncio.run(with_access(lambda a: a.residents.by_login("kita@toyono.example")))
    assert resident["disabled"] is True
    assert "disabled" in cityos("list").stdout
    assert cityos("enable", "kita@toyono.example").returncode == 0
    missing = cityos("disable", "nobody")
    assert missing.returncode == 2 and "no resident" in missing.stderr


def test_failed_passkey_signatures_count_toward_the_lockout(platform: Platform) -> None:
    async def scenario(access):  # type: ignore[no-untyped-def]
        resident = await access.residents.by_login("hanako@example.jp")
        outcomes = []
        for _ in range(11):
            try:
                await access.residents.passkey_result(resident, "cred-x", ok=False)
            except BadCredentials:
                outcomes.append("bad")
            except Locked:
                outcomes.append("locked")
        with pytest.raises(Locked):
            await access.residents.authenticate("hanako@example.jp", RESIDENT_PASSWORD)
        return outcomes

    assert platform.access(scenario) == ["bad"] * 10 + ["locked"]


def test_a_reset_code_works_once_and_five_wrong_tries_void_it(tmp_path: Path) -> None:
    asyncio.run(_reset_code(tmp_path))


async def _reset_code(tmp_path: Path) -> None:
    from cityos.access.accounts import AccountBook, AccountError
    from cityos.access.residents import RESET_SECONDS, ResidentBook

    store = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    await store.open()
    try:
        book = ResidentBook(AccountBook(store))
        mio = await book.add_resident("mio", tenant="", password="mio-no-himitsu-1")
        code = await book.issue_reset_code(mio["id"], now=1000.0)
        for _ in range(5):
            with pytest.raises(BadCredentials):
                await book.reset_password("mio", "ZZZZ-ZZZZ-ZZZZ", "new-password-12", now=1001.0)
        with pytest.raises(BadCredentials):  # void after five wrong tries, even the right one
            await book.reset_password("mio", code, "new-password-12", now=1002.0)
        code = await book.issue_reset_code(mio["id"], now=2000.0)
        with pytest.raises(BadCredentials):  # expired
            await book.reset_password("mio", code, "new-password-12",
                                      now=2000.0 + RESET_SECONDS + 1)
        code = await book.issue_reset_code(mio["id"], now=3000.0)
        with pytest.raises(AccountError):  # too short: the code stays usable
            await book.reset_password("mio", code, "short", now=3001.0)
        await book.reset_password("mio", code, "new-password-12", now=3002.0)
        assert (await book.authenticate("mio", "new-password-12"))["id"] == mio["id"]
        with pytest.raises(BadCredentials):
            await book.authenticate("mio", "mio-no-himitsu-1")
        with pytest.raises(BadCredentials):  # unknown login: the same answer
            await book.reset_password("nobody", code, "new-password-12")
    finally:
        await store.close()
