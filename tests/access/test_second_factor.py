"""Requiring a second factor for some staff roles (access.second_factor_roles): a member
without a passkey gets only a token that can register one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .secured import Platform, make_platform


@pytest.fixture
def strict(prepared: tuple[Path, dict[str, Any]], tmp_path: Path) -> Iterator[Platform]:
    yield from make_platform(prepared, tmp_path / "var", second_factor_roles=("admin",))


def test_an_admin_without_a_passkey_may_only_enrol_one(strict: Platform) -> None:
    p = strict
    login = p.client.post("/auth/login", data={"username": "admin",
                                                "password": p.passwords["admin"]})
    assert login.status_code == 401
    body = login.json()
    assert body["error"] == "second_factor_required" and "access_token" not in body
    enrol = {"Authorization": f"Bearer {body['enrolment_token']}"}
    assert p.client.get("/ngsi-ld/v1/types", headers=enrol).status_code == 403
    assert p.client.get("/auth/v1/accounts", headers=enrol).status_code == 403
    assert p.client.get("/auth/v1/me", headers=enrol).status_code == 403
    begin = p.client.post("/auth/v1/me/passkeys", headers=enrol)
    assert begin.status_code == 200, begin.text
    assert begin.json()["publicKey"]["user"]["name"] == "admin"
    # a wrong password is still just a wrong password
    wrong = p.client.post("/auth/login", data={"username": "admin", "password": "nope"})
    assert wrong.status_code == 401 and "enrolment_token" not in wrong.json()


def test_other_roles_sign_in_as_before(strict: Platform) -> None:
    p = strict
    login = p.client.post("/auth/login", data={"username": "operator",
                                                "password": p.passwords["operator"]})
    assert login.status_code == 200 and "access_token" in login.json()
