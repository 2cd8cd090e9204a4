"""Revoking tokens: one token by its holder (RFC 7009), or every token of an account by staff;
the gate refuses them at once and records token misuse."""

from __future__ import annotations

import time

from .secured import Platform


def _entities(p: Platform, token: str) -> int:
    return p.client.get("/ngsi-ld/v1/entities?type=Shelter",
                        headers={"Authorization": f"Bearer {token}"}).status_code


def _org_token(p: Platform, name: str) -> str:
    client_id, secret = p.secrets[name]
    got = p.client.post("/auth/token", data={"grant_type": "client_credentials",
                                              "client_id": client_id, "client_secret": secret})
    assert got.status_code == 200, got.text
    return str(got.json()["access_token"])


def test_a_revoked_token_is_refused_and_the_others_still_work(platform: Platform) -> None:
    p = platform
    first, second = _org_token(p, "ShelterCo"), _org_token(p, "ShelterCo")
    assert _entities(p, first) == 200 and _entities(p, second) == 200  # both verified, cached
    revoked = p.client.post("/auth/revoke", data={"token": first})
    assert revoked.status_code == 200
    assert _entities(p, first) == 401
    assert _entities(p, second) == 200
    alerts = p.client.get("/auth/v1/alerts?kind=token-misuse", headers=p.auth("admin")).json()
    assert any(a["detail"].get("reason") == "revoked" for a in alerts)
    # RFC 7009 §2.2: an invalid token is answered 200 as well, and tells nothing
    assert p.client.post("/auth/revoke", data={"token": "not-a-token"}).status_code == 200
    assert p.client.post("/auth/revoke", data={}).status_code == 400
    hinted = p.client.post("/auth/revoke", data={"token": second,
                                                 "token_type_hint": "refresh_token"})
    assert hinted.status_code == 400 and _entities(p, second) == 200


def test_staff_revoke_every_token_of_an_account(platform: Platform) -> None:
    p = platform
    old = _org_token(p, "ShelterCo")
    assert _entities(p, old) == 200
    client_id = p.secrets["ShelterCo"][0]
    body = {"account": f"org:{client_id}"}
    # only admins may
    assert p.client.post("/auth/v1/accounts/revoke-tokens", json=body,
                         headers=p.auth("operator")).status_code == 403
    done = p.client.post("/auth/v1/accounts/revoke-tokens", json=body, headers=p.auth("admin"))
    assert done.status_code == 200, done.text
    assert _entities(p, old) == 401
    assert _entities(p, p.tokens["ShelterCo"]) == 401  # issued before, also refused
    time.sleep(1.1)  # a token of the revocation's own second is refused too (the safe side)
    assert _entities(p, _org_token(p, "ShelterCo")) == 200  # a new one works
    unknown = p.client.post("/auth/v1/accounts/revoke-tokens", json={"account": "org:nobody"},
                            headers=p.auth("admin"))
    assert unknown.status_code == 404
    bad = p.client.post("/auth/v1/accounts/revoke-tokens", json={"account": 3},
                        headers=p.auth("admin"))
    assert bad.status_code == 400


def test_the_gate_does_not_keep_admitting_a_token_once_revoked(platform: Platform) -> None:
    """The gate keeps what it decided about a token between requests: that must never outlive
    a revocation, for staff tokens (the fast path) as for organisations'."""
    p = platform
    viewer = p.tokens["viewer"]
    for _ in range(3):  # admitted, then served from what the gate holds
        assert _entities(p, viewer) == 200
    done = p.client.post("/auth/v1/accounts/revoke-tokens", json={"account": "staff:viewer"},
                         headers=p.auth("admin"))
    assert done.status_code == 200, done.text
    assert _entities(p, viewer) == 401
    assert _entities(p, p.tokens["operator"]) == 200  # another account's token still works
