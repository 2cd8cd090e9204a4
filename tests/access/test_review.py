"""Account inventory (棚卸し): every account listed with rights, last use and review flags."""

from __future__ import annotations

import time

from cityos.access.review import review_accounts

from .secured import Platform


def test_inventory_lists_every_account_without_secrets(platform: Platform) -> None:
    r = platform.client.get("/auth/v1/accounts", headers=platform.auth("admin"))
    assert r.status_code == 200
    rows = {(row["kind"], row["name"]): row for row in r.json()}
    assert set(rows) == {("staff", u) for u in ("admin", "admin-a", "operator", "viewer")} | {
        ("organisation", o) for o in ("Reader", "Writer", "Nobody", "ShelterCo")} | {
        ("resident", "hanako@example.jp")}
    resident = rows[("resident", "hanako@example.jp")]
    assert resident["roles"] == ["resident"] and resident["id"].startswith("res_")
    assert resident["password"] is True and resident["passkeys"] == 0
    assert rows[("organisation", "ShelterCo")]["grants"] == {"read": ["Shelter"],
                                                            "write": ["Shelter"]}
    assert rows[("staff", "admin")]["flags"] == ["admin-without-second-factor"]
    assert rows[("staff", "viewer")]["flags"] == []
    text = r.text
    assert "argon2" not in text and platform.secrets["Reader"][1] not in text
    assert platform.client.get("/auth/v1/accounts", headers=platform.auth("viewer")
                               ).status_code == 403


def test_review_flags_unused_accounts_old_secrets_and_locks(platform: Platform) -> None:
    platform.client.post("/auth/login", data={"username": "viewer",
                                              "password": platform.passwords["viewer"]})
    platform.access(lambda a: a.book.set_org_disabled("Nobody", True))
    later = time.time() + 100 * 86_400

    def flags(rows: list[dict[str, object]]) -> dict[object, object]:
        return {row["name"]: row["flags"] for row in rows}

    rows = flags(platform.access(lambda a: review_accounts(
        a.book, unused_days=90, secret_max_age_days=30, now=later)))
    assert rows["viewer"] == ["unused"]  # signed in, but 100 days ago
    assert rows["operator"] == ["unused"]  # never signed in since creation
    assert rows["Reader"] == ["unused", "secret-too-old"]
    assert rows["Nobody"] == ["disabled", "secret-too-old"]
    assert rows["hanako@example.jp"] == ["unused"]
    rows = flags(platform.access(lambda a: review_accounts(
        a.book, unused_days=90, secret_max_age_days=365)))
    assert rows["viewer"] == [] and rows["Reader"] == [] and rows["hanako@example.jp"] == []
