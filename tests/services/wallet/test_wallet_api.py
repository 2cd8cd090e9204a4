"""The wallet through the platform: a shop asks for a payment, a resident pays it once with
her own token (a retry returns the same payment, another resident is refused), the API is in
/openapi.json, bad input is ProblemDetails, and the pages answer in Japanese."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from tests.conftest import LOOPBACK

from cityos.app import create_app
from cityos.settings import load_settings

API = "/services/v1/wallet"


def _resident(c: TestClient, login: str) -> dict[str, str]:
    r = c.post("/auth/residents", data={"login": login, "password": f"{login}-no-himitsu-1"})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _id(c: TestClient, auth: dict[str, str]) -> str:
    return str(c.get("/auth/v1/me", headers=auth).json()["id"])


@pytest.fixture
def town(data_dir: Path) -> Iterator[tuple[TestClient, Any]]:
    environ = {"CITYOS_EGRESS_ALLOW": LOOPBACK, "CITYOS_SERVICES_ENABLED": "wallet"}
    with TestClient(create_app(load_settings(data_dir, environ=environ)),
                    raise_server_exceptions=False) as c:
        yield c, c.app.state.services["wallet"]  # type: ignore[attr-defined]


def _staff(c: TestClient) -> dict[str, str]:
    from cityos.access.service import staff_principal

    async def token() -> str:
        app: Any = c.app
        member, _ = await app.state.access.book.add_staff("clerk", ["operator"], tenant="")
        return str(await app.state.access.issue(staff_principal(member)))
    assert c.portal is not None
    return {"Authorization": f"Bearer {c.portal.call(token)}"}


def test_a_qr_payment_is_paid_once(town: tuple[TestClient, Any]) -> None:
    c, ctx = town
    from cityos.services.wallet.runtime import counter_of

    hanako, keeper, jiro = _resident(c, "hanako"), _resident(c, "yaoya"), _resident(c, "jiro")
    counter = counter_of(ctx)
    counter.ledger.open_shop("o1", "yaoya", "とよの八百屋")
    counter.add_staff("yaoya", _id(c, keeper))
    staff = _staff(c)
    for who in (hanako, jiro):
        r = c.post(f"{API}/issues", headers={**staff, "Idempotency-Key": f"i-{_id(c, who)}"},
                   json={"resident": _id(c, who), "amount": 2000, "kind": "points",
                         "expirationDateOfMoney": "2099-03-31", "memo": "ボランティア"})
        assert r.status_code == 201, r.text

    asked = c.post(f"{API}/payment-requests", headers=keeper, json={"shop": "yaoya",
                                                                     "amount": 480})
    assert asked.status_code == 201, asked.text
    code = asked.json()["code"]
    assert asked.json()["url"].endswith(f"/app/wallet/pay/{code}")
    assert c.post(f"{API}/payment-requests", headers=hanako,
                  json={"shop": "yaoya", "amount": 1}).status_code == 400  # not her shop

    pay = {**hanako, "Idempotency-Key": "tap-1"}
    first = c.post(f"{API}/payments", headers=pay, json={"code": code})
    assert first.status_code == 201, first.text
    again = c.post(f"{API}/payments", headers={**hanako, "Idempotency-Key": "tap-2"},
                   json={"code": code.lower()})
    assert again.json()["id"] == first.json()["id"]  # a double tap pays once
    other = c.post(f"{API}/payments", headers={**jiro, "Idempotency-Key": "x"},
                   json={"code": code})
    assert other.status_code == 409
    assert other.headers["content-type"].startswith("application/problem+json")
    assert "別の依頼" in other.json()["detail"]
    assert c.get(f"{API}/balance", headers=hanako).json()["byKind"] == {"money": 0,
                                                                         "points": 1520}
    assert c.get(f"{API}/payment-requests/{code}", headers=keeper).json()["state"] == "paid"
    assert c.get(f"{API}/totals", headers=staff).json()["shops"] == 480


def test_a_direct_payment_needs_an_idempotency_key(town: tuple[TestClient, Any]) -> None:
    c, ctx = town
    from cityos.services.wallet.runtime import counter_of

    hanako = _resident(c, "hanako")
    counter_of(ctx).ledger.open_shop("o1", "kissa", "喫茶とよの")
    counter_of(ctx).ledger.issue("i1", _id(c, hanako), 1000, "money", None)
    body = {"shop": "kissa", "amount": 300}
    assert c.post(f"{API}/payments", headers=hanako, json=body).status_code == 400
    keyed = {**hanako, "Idempotency-Key": "k1"}
    first = c.post(f"{API}/payments", headers=keyed, json=body)
    assert first.status_code == 201
    assert c.post(f"{API}/payments", headers=keyed, json=body).json() == first.json()
    assert c.post(f"{API}/payments", headers=keyed,
                  json={**body, "amount": 301}).status_code == 409
    assert c.post(f"{API}/payments", headers={**hanako, "Idempotency-Key": "k2"},
                  json={**body, "amount": 5000}).status_code == 409  # not enough
    assert c.post(f"{API}/payments", headers={**hanako, "Idempotency-Key": "k3"},
                  content=b"{not json").status_code == 400
    assert c.get(f"{API}/balance", headers=hanako).json()["total"] == 700


def test_the_api_is_documented_and_closed_to_strangers(town: tuple[TestClient, Any]) -> None:
    c, _ = town
    paths = c.get("/openapi.json").json()["paths"]
    for path in ("/payments", "/payment-requests", "/issues", "/balance", "/circulation"):
        assert f"{API}{path}" in paths
    hanako = _resident(c, "hanako")
    assert c.get(f"{API}/balance").status_code == 401
    assert c.get(f"{API}/totals", headers=hanako).status_code == 403
    assert c.post(f"{API}/issues", headers={**hanako, "Idempotency-Key": "a"},
                  json={"resident": "x", "amount": 1}).status_code == 403


def test_the_resident_page_shows_the_balance_in_japanese(town: tuple[TestClient, Any]) -> None:
    c, ctx = town
    from cityos.services.wallet.runtime import counter_of

    hanako = _resident(c, "hanako")
    counter_of(ctx).ledger.issue("i1", _id(c, hanako), 1200, "points",
                                 datetime.date(2027, 3, 31), "健康ポイント")
    page = c.get("/app/wallet", headers=hanako)
    assert page.status_code == 200, page.text
    assert "町のデジタル通貨" in page.text and "1,200 円" in page.text
    assert "健康ポイント" in page.text
    assert "2027/03/31 まで" in page.text and "2027-03-31" not in page.text  # as the app writes dates
    assert "Issued" not in page.text  # the town's issuing account has no English name in the history
    bad = c.get("/app/wallet/pay", params={"code": "zz"}, headers=hanako)
    assert bad.status_code == 400 and "8 文字" in bad.text


def test_a_settlement_statement_is_sealed_by_the_service(town: tuple[TestClient, Any]) -> None:
    import rfc8785
    from cryptography import x509

    from cityos.services.wallet.runtime import counter_of
    from cityos.trust.seal import SealError, parse_seal, verify_seal

    c, ctx = town
    hanako, keeper = _resident(c, "hanako"), _resident(c, "yaoya")
    ledger = counter_of(ctx).ledger
    ledger.open_shop("o1", "yaoya", "とよの八百屋")
    counter_of(ctx).add_staff("yaoya", _id(c, keeper))
    ledger.issue("i1", _id(c, hanako), 1000, "money", None)
    ledger.pay("p1", f"resident:{_id(c, hanako)}", "yaoya", 640)
    settled = ledger.settle("s1", "yaoya")
    csv = c.get(f"{API}/statements/{settled['id']}.csv", headers=keeper)
    assert csv.status_code == 200 and "640" in csv.text
    assert c.get(f"{API}/statements/{settled['id']}.csv", headers=hanako).status_code == 400
    doc = c.get(f"{API}/statements/{settled['id']}.json", headers=keeper).json()
    cert = x509.load_pem_x509_certificate(doc["certificate"].encode())
    assert "町の地域通貨" in cert.subject.rfc4514_string()  # the platform CA's subject: the org
    verify_seal(parse_seal(doc["seal"]), rfc8785.dumps(doc["statement"]), cert)
    doc["statement"]["amount"] = 6400
    with pytest.raises(SealError):
        verify_seal(parse_seal(doc["seal"]), rfc8785.dumps(doc["statement"]), cert)


def test_a_payment_reaches_the_platform_only_under_consent(
        town: tuple[TestClient, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from cityos.services.wallet import platform_link
    from cityos.services.wallet.runtime import counter_of

    c, ctx = town
    hanako = _resident(c, "hanako")
    me = _id(c, hanako)
    ledger = counter_of(ctx).ledger
    ledger.open_shop("o1", "kissa", "喫茶とよの")
    ledger.issue("i1", me, 1000, "money", None)
    states = {me: "REQUESTED"}

    async def state(_ctx: Any, resident: str) -> str:
        return states.get(resident, "")
    monkeypatch.setattr(platform_link, "consent_state", state)

    def stored(payment: dict[str, Any]) -> Any:
        """The Purchase in her own data export (written by a background task)."""
        for _ in range(30):
            mine = c.get("/app/mydata/export", headers=hanako).json()["entities"]
            found = [e for e in mine if e["id"] == f"urn:ngsi-ld:Purchase:{payment['id']}"]
            if found:
                return {k.rsplit("/", 1)[-1]: v[0] for k, v in found[0]["attrs"].items()}
            time.sleep(0.1)
        return None

    refused = c.post(f"{API}/payments", headers={**hanako, "Idempotency-Key": "a"},
                     json={"shop": "kissa", "amount": 100}).json()
    assert stored(refused) is None  # asked, not yet approved: nothing on the platform
    states[me] = "APPROVED"
    agreed = c.post(f"{API}/payments", headers={**hanako, "Idempotency-Key": "b"},
                    json={"shop": "kissa", "amount": 250}).json()
    entity = stored(agreed)
    assert entity is not None, "the Purchase was not written"
    assert entity["totalPrice"]["value"] == 250
    assert entity["refResident"]["object"] == f"urn:ngsi-ld:Resident:{me}"


def test_the_wallet_is_one_tap_from_home(town: tuple[TestClient, Any]) -> None:
    from cityos.catalog.seed import seed_catalog

    c, _ = town
    app: Any = c.app
    assert c.portal is not None
    c.portal.call(lambda: seed_catalog(app.state.broker.store))
    home = c.get("/app", headers=_resident(c, "hanako"))
    assert home.status_code == 200
    assert 'href="/app/wallet"' in home.text


def test_the_resident_shows_her_code_and_confirms_what_the_shop_charged(
        town: tuple[TestClient, Any]) -> None:
    from cityos.services.wallet.runtime import counter_of

    c, ctx = town
    hanako, keeper, jiro = _resident(c, "hanako"), _resident(c, "yaoya"), _resident(c, "jiro")
    counter = counter_of(ctx)
    counter.ledger.open_shop("o1", "yaoya", "とよの八百屋")
    counter.add_staff("yaoya", _id(c, keeper))
    counter.ledger.issue("i1", _id(c, hanako), 1000, "points", None)
    shown = c.post("/app/wallet/show", headers=hanako, follow_redirects=False)
    assert shown.status_code == 303
    code = shown.headers["location"].rsplit("/", 1)[-1]
    assert "わたしの支払いコード" in c.get(shown.headers["location"], headers=hanako).text

    charged = c.post("/app/wallet/shop/charge", headers=keeper, follow_redirects=False,
                     data={"shop": "yaoya", "code": code, "amount": "300"})
    assert charged.status_code == 303, charged.text
    hold = charged.headers["location"].rsplit("/", 1)[-1]
    assert c.post("/app/wallet/shop/charge", headers=keeper, data={
        "shop": "yaoya", "code": code, "amount": "900"}).status_code == 409  # once per code
    assert c.get(f"{API}/balance", headers=hanako).json()["total"] == 700  # held
    page = c.get("/app/wallet", headers=hanako).text
    assert "確かめてほしい支払い" in page and "とよの八百屋" in page

    assert c.post(f"/app/wallet/holds/{hold}/post", headers=jiro).status_code == 400
    done = c.post(f"/app/wallet/holds/{hold}/post", headers=hanako, follow_redirects=False)
    assert done.status_code == 303
    assert c.post(f"/app/wallet/holds/{hold}/void", headers=hanako).status_code == 409
    assert 'data-state="posted"' in c.get(f"/app/wallet/shop/holds/{hold}", headers=keeper).text
    assert c.get(f"{API}/balance", headers=hanako).json()["total"] == 700
    assert counter.ledger.balance("shop:yaoya")["total"] == 300


@pytest.mark.parametrize("who", ["admin", "resident"])
def test_no_wallet_operation_answers_a_server_error(town: tuple[TestClient, Any], who: str,
                                                    data_dir: Path) -> None:
    from cityos.access.gate import create_admin_token
    from cityos.services.wallet.routes import OPERATIONS

    c, _ = town
    auth = ({"Authorization": f"Bearer {create_admin_token(data_dir)}"} if who == "admin"
            else _resident(c, "hanako"))
    bodies: list[dict[str, Any]] = [
        {"json": {"shop": 5, "amount": "x", "code": None, "kinds": 3, "resident": [],
                  "expirationDateOfMoney": "someday"}},
        {"content": b"\xff\xfe not json"},
        {"data": {"shop": "", "amount": "-1", "code": "!!", "day": "x", "key": "",
                  "login": "nobody", "kind": "gold"}},
    ]
    for op in OPERATIONS:
        path = (op.path.replace("{code}", "ABCD2345").replace("{holdId}", "w-0")
                .replace("{statementId}", "w-0").replace("{format}", "csv"))
        for body in bodies if op.method == "POST" else [{}]:
            r = c.request(op.method, path, headers={**auth, "Idempotency-Key": "k"}, **body)
            assert r.status_code < 500, (op.method, path, body, r.status_code, r.text[:300])


def test_the_consoles_ledger_download_works_for_a_signed_in_clerk(
        town: tuple[TestClient, Any]) -> None:
    """The link on /console/wallet once pointed at the API's export.beancount, which wants a
    bearer token: a clerk clicking it saw a 401 as raw JSON."""
    import re

    c, _ = town

    async def clerk() -> str:
        app: Any = c.app
        _, password = await app.state.access.book.add_staff("desk", ["operator"], tenant="")
        return str(password)
    assert c.portal is not None
    password = c.portal.call(clerk)
    html = {"Accept": "text/html"}
    form = c.get("/console/signin", headers=html).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf
    r = c.post("/console/signin", headers=html, follow_redirects=False,
               data={"csrf": csrf.group(1), "username": "desk", "password": password,
                     "next": "/console/wallet"})
    assert r.status_code == 303, r.text
    page = c.get("/console/wallet", headers=html)
    assert page.status_code == 200
    link = re.search(r'href="([^"]+)" download="town.beancount"', page.text)
    assert link and link.group(1) == "/console/wallet/export.beancount"
    ledger = c.get(link.group(1), headers=html)
    assert ledger.status_code == 200 and "attachment" in ledger.headers["content-disposition"]
    assert ledger.text.startswith('option "title"') and "Unauthorized" not in ledger.text
