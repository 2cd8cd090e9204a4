"""Accounts and tokens: 法人番号 check digits, OAuth 2.0 client credentials, secret rotation,
staff login, JWKS, key rotation, lockout after wrong passwords and per-client rate limits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from cityos.access import monitor
from cityos.access.corporate import InvalidCorporateNumber, validate_corporate_number
from cityos.access.keys import KeyRing
from cityos.access.service import Access
from cityos.access.tokens import Principal, TokenError, TokenVerifier, issue_token
from cityos.keystore import KeyStore

from .secured import Platform, make_platform

V1 = "/ngsi-ld/v1"
SHELTER = {"id": "urn:ngsi-ld:Shelter:001", "type": "Shelter",
           "name": {"type": "Property", "value": "豊能町役場"}}
BUILDING = {"id": "urn:ngsi-ld:Building:001", "type": "Building",
            "name": {"type": "Property", "value": "倉庫"}}


@pytest.mark.parametrize("number", ["7000012050002", "5010401067252", "7-0000-1205-0002"])
def test_corporate_numbers_with_a_good_check_digit(number: str) -> None:
    assert validate_corporate_number(number) == number.replace("-", "")


@pytest.mark.parametrize("number", ["8000012050002", "700001205000", "70000120500021",
                                    "7000O12050002", "７０００１２０５０００２"])
def test_corporate_numbers_refused(number: str) -> None:
    with pytest.raises(InvalidCorporateNumber):
        validate_corporate_number(number)


def _token(platform: Platform, org: str, **extra: str) -> Any:
    client_id, secret = platform.secrets[org]
    return platform.client.post("/auth/token", data={
        "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret,
        **extra})


def test_client_credentials_give_a_bearer_token(platform: Platform) -> None:
    r = _token(platform, "Writer")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    assert platform.client.post(f"{V1}/entities", json=SHELTER, headers=auth).status_code == 201
    assert platform.client.get(f"{V1}/entities/{SHELTER['id']}", headers=auth).status_code == 403
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"].startswith("org:org_") and claims["org"] == "Writer"
    assert claims["scope"] == "ngsi:write" and claims["tenant"] == "" and claims["jti"]


def test_client_credentials_by_http_basic_and_failures(platform: Platform) -> None:
    client_id, secret = platform.secrets["Reader"]
    r = platform.client.post("/auth/token", data={"grant_type": "client_credentials"},
                             auth=(client_id, secret))
    assert r.status_code == 200
    r = platform.client.post("/auth/token", data={"grant_type": "client_credentials",
                                                   "client_id": client_id, "client_secret": "x"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = platform.client.post("/auth/token", data={"grant_type": "password"})
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"
    r = platform.client.post("/auth/token", json={"grant_type": "client_credentials"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    assert _token(platform, "Reader", scope="ngsi:write").json()["error"] == "invalid_scope"


def test_tokens_verify_against_the_published_jwks(platform: Platform) -> None:
    token = _token(platform, "Reader").json()["access_token"]
    jwks = platform.client.get("/auth/jwks.json").json()
    kid = jwt.get_unverified_header(token)["kid"]
    [jwk] = [k for k in jwks["keys"] if k["kid"] == kid]
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and "d" not in jwk
    claims = jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["EdDSA"])
    assert claims["iss"] == "cityos" and claims["exp"] - claims["iat"] == 900


def test_secret_rotation_keeps_the_old_secret_for_the_overlap(platform: Platform) -> None:
    client_id, old = platform.secrets["Reader"]
    new = platform.access(lambda a: a.book.rotate_secret("Reader"))
    form = {"grant_type": "client_credentials", "client_id": client_id}
    for secret in (old, new):
        r = platform.client.post("/auth/token", data={**form, "client_secret": secret})
        assert r.status_code == 200
    newest = platform.access(lambda a: a.book.rotate_secret("Reader", overlap=0))
    assert platform.client.post("/auth/token", data={**form, "client_secret": old}
                                ).status_code == 401
    assert platform.client.post("/auth/token", data={**form, "client_secret": new}
                                ).status_code == 401
    assert platform.client.post("/auth/token", data={**form, "client_secret": newest}
                                ).status_code == 200


def test_disabled_organisation_loses_secret_and_tokens(platform: Platform) -> None:
    platform.access(lambda a: a.book.set_org_disabled("Reader", True))
    assert _token(platform, "Reader").status_code == 401
    r = platform.client.get(f"{V1}/types", headers=platform.auth("Reader"))
    assert r.status_code == 401


def test_staff_login_roles(platform: Platform) -> None:
    r = platform.client.post("/auth/login", data={"username": "viewer",
                                                  "password": platform.passwords["viewer"]})
    assert r.status_code == 200
    auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert platform.client.get(f"{V1}/types", headers=auth).status_code == 200
    assert platform.client.post(f"{V1}/entities", json=SHELTER, headers=auth).status_code == 403
    assert platform.client.get("/auth/v1/alerts", headers=auth).status_code == 403
    r = platform.client.post("/auth/login", json={"username": "operator",
                                                  "password": platform.passwords["operator"]})
    auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert platform.client.post(f"{V1}/entities", json=SHELTER, headers=auth).status_code == 201


def test_ten_wrong_passwords_lock_the_account_and_raise_an_alert(platform: Platform) -> None:
    for _ in range(10):
        r = platform.client.post("/auth/login", data={"username": "operator", "password": "nope"})
        assert r.status_code == 401
    r = platform.client.post("/auth/login", data={"username": "operator",
                                                  "password": platform.passwords["operator"]})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 59
    alerts = platform.client.get("/auth/v1/alerts?kind=brute-force",
                                 headers=platform.auth("admin")).json()
    assert [a["subject"] for a in alerts] == ["staff:operator"]
    assert alerts[0]["detail"]["failures"] == 10
    assert "nope" not in str(alerts) and platform.passwords["operator"] not in str(alerts)


def test_lockout_backs_off() -> None:
    record: dict[str, Any] = {}
    locks = []
    for _ in range(13):
        if monitor.register_failure(record, 1000.0, after=10, base_seconds=60.0):
            locks.append(monitor.locked_for(record, 1000.0))
    assert locks == [60.0, 120.0, 240.0, 480.0]
    monitor.register_success(record, 2000.0)
    assert monitor.locked_for(record, 2000.0) == 0 and record["failures"] == 0


@pytest.fixture
def slow_platform(prepared: Any, tmp_path: Path) -> Iterator[Platform]:
    yield from make_platform(prepared, tmp_path / "var", rate_per_second=0.5, rate_burst=3)


def test_a_client_over_its_rate_gets_429(slow_platform: Platform) -> None:
    statuses = [slow_platform.client.get(f"{V1}/types", headers=slow_platform.auth("Reader"))
                for _ in range(4)]
    assert [r.status_code for r in statuses] == [200, 200, 200, 429]
    assert statuses[-1].headers["retry-after"] in {"1", "2"}
    assert statuses[-1].json()["title"] == "TooManyRequests"
    r = slow_platform.client.get(f"{V1}/types", headers=slow_platform.auth("viewer"))
    assert r.status_code == 200  # another client has its own bucket


def test_tenant_bound_token_refused_elsewhere_and_recorded(platform: Platform) -> None:
    headers = {**platform.auth("admin-a"), "NGSILD-Tenant": "town-a"}
    assert platform.client.post(f"{V1}/entities", json=SHELTER, headers=headers).status_code == 201
    for tenant in ("town-b", None):
        headers = dict(platform.auth("admin-a"), **({"NGSILD-Tenant": tenant} if tenant else {}))
        r = platform.client.get(f"{V1}/entities/{SHELTER['id']}", headers=headers)
        assert r.status_code == 403
    r = platform.client.get(f"{V1}/entities/{SHELTER['id']}",
                            headers={**platform.auth("viewer"), "NGSILD-Tenant": "town-a"})
    assert r.status_code == 403
    alerts = platform.client.get("/auth/v1/alerts?kind=tenant-probe",
                                 headers=platform.auth("admin")).json()
    assert {a["subject"] for a in alerts} == {"staff:admin-a", "staff:viewer"}
    assert {a["detail"]["tenant"] for a in alerts} >= {"town-b", "town-a"}


def test_per_type_grants_of_organisations(platform: Platform) -> None:
    """Grants are applied where data is released and written (issue 18): what a company may
    not read is not there for it (404, absent from lists), what it may not write is a 403 —
    per item in a batch."""
    admin = platform.auth("admin")
    assert platform.client.post(f"{V1}/entities", json=BUILDING, headers=admin).status_code == 201
    co = platform.auth("ShelterCo")
    c = platform.client
    assert c.post(f"{V1}/entities", json=SHELTER, headers=co).status_code == 201
    r = c.post(f"{V1}/entities", json=BUILDING | {"id": "urn:b:2"}, headers=co)
    assert r.status_code == 403 and "Building" in r.json()["detail"]
    assert c.get(f"{V1}/entities/urn:b:2", headers=admin).status_code == 404  # nothing written
    assert c.get(f"{V1}/entities/{SHELTER['id']}", headers=co).status_code == 200
    assert c.get(f"{V1}/entities/{BUILDING['id']}", headers=co).status_code == 404
    assert c.get(f"{V1}/entities/{BUILDING['id']}", headers=admin).status_code == 200
    assert [e["id"] for e in c.get(f"{V1}/entities?type=Shelter", headers=co).json()] == \
        [SHELTER["id"]]
    r = c.get(f"{V1}/entities?type=Shelter,Building", headers=co)
    assert r.status_code == 200 and [e["id"] for e in r.json()] == [SHELTER["id"]]
    r = c.get(f"{V1}/entities?q=name==%22x%22", headers=co)  # typeless: what it may read
    assert r.status_code == 200 and BUILDING["id"] not in {e["id"] for e in r.json()}
    assert c.get(f"{V1}/types", headers=co).status_code == 403  # about every type: needs '*'
    r = c.post(f"{V1}/entityOperations/upsert", json=[SHELTER, BUILDING], headers=co)
    assert r.status_code == 207
    assert r.json()["success"] == [SHELTER["id"]]
    assert [(e["entityId"], e["error"]["status"]) for e in r.json()["errors"]] == \
        [(BUILDING["id"], 403)]
    r = c.post(f"{V1}/entityOperations/delete", json=[BUILDING["id"]], headers=co)
    assert r.status_code == 207 and r.json()["errors"][0]["error"]["status"] == 403
    r = c.patch(f"{V1}/entities/{BUILDING['id']}/attrs",
                json={"name": {"type": "Property", "value": "x"}}, headers=co)
    assert r.status_code == 403
    assert c.get(f"{V1}/entities/{BUILDING['id']}", headers=admin).json()["name"]["value"] != "x"
    r = c.post(f"{V1}/entityOperations/query", json={"type": "Query",
               "entities": [{"type": "Shelter"}]}, headers=co)
    assert r.status_code == 200 and [e["id"] for e in r.json()] == [SHELTER["id"]]


def test_signing_keys_rotate_and_old_tokens_live_until_expiry(tmp_path: Path) -> None:
    async def scenario() -> None:
        keys = KeyStore(tmp_path / "keys")
        ring = KeyRing(keys, rotation_seconds=100.0, token_ttl=600.0)
        who = Principal("staff:admin", "*", ("admin",))
        now = time.time()
        first = await issue_token(ring, who, 600.0, now=now - 150)
        key1 = ring.newest
        second = await issue_token(ring, who, 600.0, now=now)  # key1 is due: a new key
        key2 = ring.newest
        assert key1 is not None and key2 is not None and key2.kid != key1.kid
        assert [k["kid"] for k in ring.jwks()["keys"]] == [key2.kid, key1.kid]
        other = KeyRing(keys, 100.0, 600.0)  # another process sees both keys
        await other.load()
        for token in (first, second):  # tokens of the old key live until they expire
            assert (await TokenVerifier(other).verify(token)).sub == "staff:admin"
        await ring.rotate(now + 1300)  # every token of key1 expired: it retires
        assert key1.kid not in {k["kid"] for k in ring.jwks()["keys"]}
        await other.load()
        with pytest.raises(TokenError) as err:
            await TokenVerifier(other).verify(first)
        assert err.value.reason == "forged"  # its key is gone: nobody can vouch for it

    asyncio.run(scenario())


def test_access_state_is_made_once(platform: Platform) -> None:
    first = platform.access(lambda a: _same(a))
    assert platform.access(lambda a: _same(a)) is first


async def _same(access: Access) -> Access:
    return access
