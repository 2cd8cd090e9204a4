"""Key custody (issue #19): private keys and secrets live in the data directory's key store,
never in the database; everything cityos makes is its owner's alone; a platform readable by
other users is refused; keys rotate with overlap. Real `cityos init`/`serve`/`keys` processes
on either engine (CITYOS_TEST_ENGINES=postgresql)."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cityos.keystore import KINDS, KeyStore
from conftest import STORE_ENGINE, database_url

pytestmark = pytest.mark.e2e
CITYOS = str(Path(sys.executable).with_name("cityos"))
ADMIN_CLAIMS = {"iss": "cityos", "sub": "staff:admin", "roles": ["admin"], "tenant": "*",
                "scope": "", "jti": "forged"}
_PEM = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----.+?-----END [A-Z ]*PRIVATE KEY-----",
                  re.S)


def cityos(*args: str, ok: bool = True, umask: int | None = None,
           timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """A `cityos` command as an operator types it (this process's environment: the test's
    database under PostgreSQL); `umask` as the operator's shell has it."""
    done = subprocess.run([CITYOS, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200"},
                          preexec_fn=None if umask is None else lambda: os.umask(umask))
    assert (done.returncode == 0) == ok, done.stdout + done.stderr
    return done


def _init(data: Path, umask: int | None = None, toml: str = "") -> dict[str, str]:
    if toml:
        data.mkdir(mode=0o700)
        (data / "cityos.toml").write_text(toml)
    out = cityos("init", "--data-dir", str(data), umask=umask).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def _token(data: Path) -> str:
    return cityos("token", "--data-dir", str(data)).stdout.strip().splitlines()[-1]


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _secrets(data: Path) -> list[bytes]:
    """Every private key and secret in the key store, as the bytes that would betray it in a
    database file: its PEM text, its raw private bytes, the session keys."""
    found: list[bytes] = []
    keys = KeyStore.at(data)
    for kind in KINDS:
        for _, doc in keys.list(kind):
            for field in ("pem", "key"):
                text = doc.get(field)
                if not isinstance(text, str):
                    continue
                found.append(text.encode())
                if text.startswith("-----BEGIN"):
                    private = serialization.load_pem_private_key(text.encode(), None)
                    if isinstance(private, Ed25519PrivateKey):
                        found.append(private.private_bytes(serialization.Encoding.Raw,
                                                           serialization.PrivateFormat.Raw,
                                                           serialization.NoEncryption()))
                    elif isinstance(private, ec.EllipticCurvePrivateKey):
                        found.append(private.private_numbers().private_value.to_bytes(32, "big"))
                else:
                    found.append(bytes.fromhex(text))
    return found


def _database_bytes(data: Path) -> bytes:
    """What someone who copies the database gets: the SQLite file and its WAL, or on
    PostgreSQL every row of every table (as pg_dump would give them)."""
    url = database_url(data)
    if url.startswith("sqlite"):
        return b"".join(p.read_bytes() for p in data.glob("cityos.db*"))
    import asyncpg

    async def dump() -> bytes:
        conn = await asyncpg.connect(url)
        try:
            tables = [r[0] for r in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
            out = []
            for table in tables:
                for row in await conn.fetch(f'SELECT * FROM "{table}"'):
                    for value in row.values():
                        out.append(value if isinstance(value, bytes) else str(value).encode())
            return b"\n".join(out)
        finally:
            await conn.close()

    return asyncio.run(dump())


def _assert_no_secrets(data: Path) -> None:
    raw = _database_bytes(data)
    assert b"PRIVATE KEY" not in raw
    secrets = _secrets(data)
    assert len(secrets) >= 6  # tokens, log, TSA, CA (PEM + raw each), session
    leaked = [s[:16] for s in secrets if s in raw]
    assert not leaked, f"private key material in the database: {leaked}"


@pytest.fixture
def platform(serve: Any, tmp_path: Path) -> Iterator[tuple[Path, Any, dict[str, str]]]:
    """A platform made and served under an operator's usual umask 022."""
    data = tmp_path / "town"
    login = _init(data, umask=0o022)
    old = os.umask(0o022)
    try:
        server = serve(data_dir=data)
    finally:
        os.umask(old)
    yield data, server, login


def test_every_file_and_directory_is_private(platform: tuple[Path, Any, dict[str, str]]) -> None:
    data, server, login = platform
    token = _token(data)
    assert httpx.get(f"{server.url}/auth/v1/accounts", headers=_auth(token)).status_code == 200
    assert httpx.get(f"{server.url}/app/signin").status_code == 200  # the session key is made
    r = httpx.post(f"{server.url}/auth/login", json={"username": login["username"],
                                                     "password": login["password"]})
    assert r.status_code == 200, r.text
    server.stop()
    modes = {str(p.relative_to(data)): stat.S_IMODE(p.stat().st_mode)
             for p in [data, *data.rglob("*")]}
    assert {p: m for p, m in modes.items() if m != (0o700 if (data / p).is_dir() else 0o600)} \
        == {}
    assert {"keys/tokens", "keys/log", "keys/tsa", "keys/ca", "keys/session"} <= set(modes)


def test_the_database_holds_no_private_key(platform: tuple[Path, Any, dict[str, str]]) -> None:
    data, server, _ = platform
    httpx.get(f"{server.url}/app/signin")
    assert httpx.get(f"{server.url}/ngsi-ld/v1/types",
                     headers=_auth(_token(data))).status_code == 200
    _assert_no_secrets(data)  # while it serves (SQLite: the WAL too)
    server.stop()
    _assert_no_secrets(data)


def _candidate_keys(raw: bytes) -> list[Ed25519PrivateKey]:
    """Every Ed25519 private key an attacker can find in database bytes: PEM blocks, and
    32-byte values written in hex or base64."""
    keys: list[Ed25519PrivateKey] = []
    for block in _PEM.findall(raw.replace(b"\\n", b"\n")):
        try:
            key = serialization.load_pem_private_key(block, None)
        except ValueError:
            continue
        if isinstance(key, Ed25519PrivateKey):
            keys.append(key)
    for text in set(re.findall(rb"[0-9a-f]{64}", raw)):
        keys.append(Ed25519PrivateKey.from_private_bytes(bytes.fromhex(text.decode())))
    for text in set(re.findall(rb"[A-Za-z0-9_-]{43}", raw)):
        try:
            seed = base64.urlsafe_b64decode(text + b"=")
        except ValueError:
            continue
        if len(seed) == 32:
            keys.append(Ed25519PrivateKey.from_private_bytes(seed))
    return keys


def test_a_copy_of_the_database_cannot_forge_an_admin_token(
        platform: tuple[Path, Any, dict[str, str]], tmp_path: Path) -> None:
    data, server, _ = platform
    genuine = _token(data)
    assert httpx.get(f"{server.url}/auth/v1/accounts", headers=_auth(genuine)).status_code == 200
    loot = tmp_path / "loot"
    loot.mkdir()
    for path in data.glob("cityos.db*"):  # the attacker's copy (SQLite); PostgreSQL: a dump
        shutil.copy(path, loot)
    raw = _database_bytes(data) if STORE_ENGINE == "postgresql" else \
        b"".join(p.read_bytes() for p in loot.iterdir())
    if (loot / "cityos.db").exists():  # and every value of every table, decoded
        conn = sqlite3.connect(loot / "cityos.db")
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                raw += b"\n".join(v if isinstance(v, bytes) else str(v).encode() for v in row)
        conn.close()
    jwks = {k["x"]: k["kid"] for k in httpx.get(f"{server.url}/auth/jwks.json").json()["keys"]}
    # a key that verifies must match a published public key: look for one among the loot
    usable = {}
    for key in _candidate_keys(raw):
        x = base64.urlsafe_b64encode(key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)).rstrip(b"=").decode()
        if x in jwks:
            usable[jwks[x]] = key
    now = int(time.time())
    tries = [*(("loot", kid, key) for kid, key in usable.items()),
             *(("guess", kid, Ed25519PrivateKey.generate()) for kid in jwks.values())]
    answers = []
    for how, kid, key in tries:  # the forged admin token, signed with the loot (or a guess)
        forged = jwt.encode({**ADMIN_CLAIMS, "iat": now, "exp": now + 600}, key,
                            algorithm="EdDSA", headers={"kid": kid})
        answers.append((how, kid, httpx.get(f"{server.url}/auth/v1/accounts",
                                            headers=_auth(forged)).status_code))
    assert {status for _, _, status in answers} == {401}, f"forged admin tokens: {answers}"
    assert usable == {}, f"the database holds the private key of {sorted(usable)}"


def _serve_refused(data: Path, *command: str) -> str:
    done = subprocess.run([CITYOS, *command, "--data-dir", str(data), "--port", "1"],
                          capture_output=True, text=True, timeout=60, env=os.environ.copy())
    assert done.returncode == 2, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def test_serve_refuses_a_data_directory_others_can_read(tmp_path: Path) -> None:
    data = tmp_path / "town"
    _init(data)
    data.chmod(0o755)
    line = _serve_refused(data, "serve")
    assert str(data) in line and "他のユーザーから読めます" in line
    assert "readable by other users" in line and "chmod -R go-rwx" in line
    assert "readable by other users" in _serve_refused(data, "demo")
    data.chmod(0o700)
    key_file = next((data / "keys" / "log").glob("*.json"))
    key_file.chmod(0o644)
    line = _serve_refused(data, "serve")
    assert str(key_file) in line and "mode 644" in line


def test_init_makes_a_new_data_directory_private(tmp_path: Path) -> None:
    data = tmp_path / "town"
    data.mkdir(mode=0o755)
    data.chmod(0o755)  # made by hand beforehand, as `mkdir var` would
    _init(data, umask=0o022)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700


def _old_platform(data: Path) -> None:
    """Put the platform's keys back where cityos kept them before the key store (kv spaces of
    the database) and remove the key store: a platform made by an older cityos."""
    from cityos.storage import open_store

    keys = KeyStore.at(data)
    docs = {kind: keys.list(kind) for kind in KINDS}

    async def put_back() -> None:
        store = open_store(database_url(data))
        await store.open()
        try:
            for kid, doc in docs["tokens"]:
                await store.kv_put("access.keys", kid, doc)
            await store.kv_put("trust.keys", "log", docs["log"][-1][1])
            tsa, ca = docs["tsa"][-1][1], docs["ca"][-1][1]
            await store.kv_put("trust.keys", "tsa", {"cert": tsa["cert"], "key": tsa["key"]})
            await store.kv_put("trust.keys", "ca", {"cert": ca["cert"], "key": ca["key"],
                                                    "imported": False})
            await store.kv_put("web.session", "hmac", docs["session"][-1][1])
        finally:
            await store.close()

    asyncio.run(put_back())
    shutil.rmtree(keys.directory)


def test_an_older_platform_s_keys_move_out_of_the_database(serve: Any, tmp_path: Path) -> None:
    data = tmp_path / "town"
    _init(data)
    server = serve(data_dir=data)
    token = _token(data)
    assert httpx.get(f"{server.url}/app/signin").status_code == 200
    server.stop()
    before = {kind: [d for _, d in KeyStore.at(data).list(kind)] for kind in KINDS}
    _old_platform(data)
    assert b"PRIVATE KEY" in _database_bytes(data)
    server = serve(data_dir=data)
    # the same keys, now in the key store: the token signed before the move still works
    assert httpx.get(f"{server.url}/auth/v1/accounts", headers=_auth(token)).status_code == 200
    after = KeyStore.at(data)
    for kind in ("tokens", "log", "tsa", "ca", "session"):
        assert {d.get("pem") or d.get("key") for _, d in after.list(kind)} == \
            {d.get("pem") or d.get("key") for d in before[kind]}, kind
    _assert_no_secrets(data)  # deleted, and no copy left in the file (VACUUM, WAL emptied)


def _wait(check: Any, seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_token_and_session_keys_rotate_with_overlap(serve: Any, tmp_path: Path) -> None:
    data = tmp_path / "town"
    login = _init(data)
    server = serve(data_dir=data)
    old_token = _token(data)
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    page = httpx.get(f"{server.url}/app/signin")
    old_cookie = page.cookies["cityos_session"]
    assert "rotate" not in cityos("keys", "rotate", "tokens", "--data-dir", str(data)).stderr
    cityos("keys", "rotate", "session", "--data-dir", str(data))
    new_kid = jwt.get_unverified_header(_token(data))["kid"]
    assert new_kid != old_kid
    # the running server signs with the new key within seconds; the old token still works
    def server_kid() -> str | None:
        r = httpx.post(f"{server.url}/auth/login", json={"username": login["username"],
                                                         "password": login["password"]})
        kid = jwt.get_unverified_header(r.json()["access_token"])["kid"]
        return kid if kid == new_kid else None

    _wait(server_kid)
    assert httpx.get(f"{server.url}/auth/v1/accounts",
                     headers=_auth(old_token)).status_code == 200
    assert {old_kid, new_kid} <= {k["kid"] for k in
                                  httpx.get(f"{server.url}/auth/jwks.json").json()["keys"]}
    # a cookie of the old session key is still accepted, and signed again with the new one
    def resigned() -> str | None:
        r = httpx.get(f"{server.url}/app/signin", cookies={"cityos_session": old_cookie})
        value = r.cookies.get("cityos_session")
        return value if value and value != old_cookie else None

    new_cookie = _wait(resigned)
    payload = orjson.loads(base64.urlsafe_b64decode(new_cookie.split(".")[0] + "=="))
    old_payload = orjson.loads(base64.urlsafe_b64decode(old_cookie.split(".")[0] + "=="))
    assert payload.get("csrf") == old_payload.get("csrf")  # the same session, not a new one


def _heads(server: Any, token: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{server.url}/trust/v1/log/checkpoints", headers=_auth(token))
    assert r.status_code == 200, r.text
    body = r.json()
    return list(body if isinstance(body, list) else body.get("checkpoints", body))


def _write(server: Any, token: str, n: int) -> None:
    r = httpx.post(f"{server.url}/ngsi-ld/v1/entities", headers=_auth(token), json={
        "id": f"urn:ngsi-ld:Shelter:{n}", "type": "Shelter",
        "name": {"type": "Property", "value": f"避難所 {n}"}})
    assert r.status_code == 201, r.text


def test_log_tsa_and_ca_keys_rotate_and_old_heads_still_verify(serve: Any,
                                                                tmp_path: Path) -> None:
    from cityos.trust.tsa import token_info

    data = tmp_path / "town"
    _init(data, toml="[trust]\ncheckpoint_seconds = 0.5\nfeed_seconds = 0.2\n")
    server = serve(data_dir=data)
    token = _token(data)
    _write(server, token, 1)
    first = _wait(lambda: _heads(server, token))[-1]
    old_ca = cityos("trust", "ca", "--data-dir", str(data)).stdout
    for n, kind in enumerate(("log", "tsa", "ca"), start=2):
        seen = {h["keyId"] for h in _heads(server, token)}
        stamps = {token_info(base64.b64decode(h["timeStampToken"])).certificates[0].serial_number
                  for h in _heads(server, token) if "timeStampToken" in h}
        cityos("keys", "rotate", kind, "--data-dir", str(data))
        _write(server, token, n)

        def rotated_head(kind: str = kind, seen: set[str] = seen,
                         stamps: set[int] = stamps) -> dict[str, Any] | None:
            head = _heads(server, token)[-1]
            if "timeStampToken" not in head:
                return None
            serial = token_info(base64.b64decode(head["timeStampToken"])).certificates[0]
            if kind == "log":
                return head if head["keyId"] not in seen else None
            return head if serial.serial_number not in stamps else None

        _wait(rotated_head)
    assert cityos("trust", "ca", "--data-dir", str(data)).stdout != old_ca
    assert _heads(server, token)[0]["keyId"] == first["keyId"]
    server.stop()
    done = cityos("verify", "--data-dir", str(data))  # old and new heads, old and new stamps
    assert "OK" in done.stdout, done.stdout + done.stderr
