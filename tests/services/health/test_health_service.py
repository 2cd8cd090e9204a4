"""The health service on the platform: a resident sees her own trend, risk and plan; another
resident sees none of it; a recipient company sees her checkups only while she consents; staff
see aggregates with small cells suppressed, never a person."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient
from tests.conftest import LOOPBACK

from cityos.app import create_app
from cityos.services.health.demo import hanako
from cityos.services.health.importer import entities
from cityos.services.health.model import fit
from cityos.services.health.synthetic import ONSET, onset_frame, synthetic_checkups
from cityos.settings import load_settings
from cityos.town.people import corporate_number

HTML = {"Accept": "text/html,application/xhtml+xml"}
PASSWORD = "correct-horse-battery"


def _run(c: TestClient, fn: Any) -> Any:
    assert c.portal is not None
    return c.portal.call(fn)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


def _sign_in(c: TestClient, page: str, fields: dict[str, str]) -> None:
    c.cookies.clear()
    token = _csrf(c.get(page, headers=HTML).text)
    r = c.post(page, data={"csrf": token, **fields}, headers=HTML, follow_redirects=False)
    assert r.status_code == 303, r.text


@pytest.fixture(scope="module")
def model() -> Any:
    return fit(onset_frame(600, seed=4), ONSET, ("logistic",))


@pytest.fixture
def town(data_dir: Path, model: Any) -> Iterator[tuple[TestClient, dict[str, str]]]:
    environ = {"CITYOS_EGRESS_ALLOW": LOOPBACK, "CITYOS_SERVICES_ENABLED": "health"}
    with TestClient(create_app(load_settings(data_dir, environ=environ)),
                    raise_server_exceptions=False) as c:
        app: Any = c.app
        ctx = app.state.services["health"]
        ctx.state["model"] = model
        ctx.state["outcome"] = ("3年以内に血糖が高めになる", "your blood sugar gets high")

        async def people() -> dict[str, str]:
            ids = {}
            for login in ("mio", "ken"):
                r = await app.state.access.residents.add_resident(login, tenant="",
                                                                   password=PASSWORD)
                ids[login] = str(r["id"])
            return ids

        ids = _run(c, people)
        _run(c, lambda: ctx.client.upsert(entities(hanako(ids["mio"], 2026))))
        yield c, ids


def test_she_sees_her_trend_her_risk_with_reasons_and_a_plan(
        town: tuple[TestClient, dict[str, str]]) -> None:
    c, _ = town
    _sign_in(c, "/app/signin", {"login": "mio", "password": PASSWORD, "next": "/app"})
    page = c.get("/app/health", headers=HTML)
    assert page.status_code == 200
    html = page.text
    assert "HbA1c" in html and "2023年" in html and "2026年" in html
    assert "5.4 %" in html and "5.8 %" in html  # four years of values
    assert "基準範囲: 5.6%未満" in html
    assert "注意（保健指導の目安）" in html
    assert re.search(r"可能性は、およそ \d+% です", html)
    assert "リスクを上げています" in html  # her reasons, in plain Japanese
    assert "管理栄養士" in html and "いきいき健康体操" in html  # the plan names the services
    assert "urn:ngsi-ld" not in html


def test_research_use_is_asked_once_and_refusing_it_is_the_opt_out(
        town: tuple[TestClient, dict[str, str]]) -> None:
    from cityos.privacy.platform import opted_out

    c, ids = town
    app: Any = c.app
    ctx = app.state.services["health"]
    _sign_in(c, "/app/signin", {"login": "mio", "password": PASSWORD, "next": "/app"})
    assert "健康づくりの研究に使われることがあります" in c.get("/app/health", headers=HTML).text
    c.get("/app/health", headers=HTML)  # a second visit asks nothing more
    asked = [x for x in _run(c, lambda: app.state.personal.consents.list("", subject=ids["mio"]))
             if x["purpose"].endswith("ResearchAndDevelopment")]
    assert [x["state"] for x in asked] == ["REQUESTED"]
    assert _run(c, lambda: opted_out(ctx)) == set()  # unanswered: she stays in
    _run(c, lambda: app.state.personal.consents.decide("", asked[0]["id"], "DECLINED",
                                                        by=ids["mio"]))
    assert "研究への利用はオフです" in c.get("/app/health", headers=HTML).text
    assert _run(c, lambda: opted_out(ctx)) == {ids["mio"]}


def test_another_resident_sees_none_of_it(town: tuple[TestClient, dict[str, str]]) -> None:
    c, _ = town
    _sign_in(c, "/app/signin", {"login": "ken", "password": PASSWORD, "next": "/app"})
    html = c.get("/app/health", headers=HTML).text
    assert "健診の結果はまだ届いていません" in html
    assert "5.8 %" not in html


def test_consent_off_hides_everything_from_the_recipient_company(
        town: tuple[TestClient, dict[str, str]]) -> None:
    c, ids = town
    app: Any = c.app

    async def company() -> tuple[str, str]:
        org, secret = await app.state.access.book.add_org(
            "北摂ヘルスケア", corporate_number(7), tenant="", read=["HealthCheckup"])
        return str(org["client_id"]), secret

    client_id, secret = _run(c, company)
    token = c.post("/auth/token", data={"grant_type": "client_credentials",
                                        "client_id": client_id, "client_secret": secret}
                   ).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}

    def seen() -> httpx.Response:
        return c.get("/ngsi-ld/v1/entities", params={"type": "HealthCheckup"}, headers=auth)

    assert seen().status_code == 200 and seen().json() == []  # never asked: nothing
    asked = c.post("/personal/v1/consents", headers=auth, json={
        "resident": ids["mio"], "category": "health", "purpose": "ServiceProvision",
        "service": "健診サポート", "notice": "健診の結果から生活習慣の改善をご提案します。"})
    assert asked.status_code in (200, 201), asked.text
    consent = asked.json()["id"]
    assert seen().json() == []  # asked, not given
    _run(c, lambda: app.state.personal.consents.decide("", consent, "APPROVED", by=ids["mio"]))
    assert len(seen().json()) == 4  # ON: her four checkups
    _run(c, lambda: app.state.personal.consents.decide("", consent, "WITHDRAWN", by=ids["mio"]))
    assert seen().json() == []  # OFF again: everything hidden
    one = c.get(f"/ngsi-ld/v1/entities/urn:ngsi-ld:HealthCheckup:{ids['mio']}-2026-06-15",
                headers=auth)
    assert one.status_code == 404


def test_staff_see_aggregates_only_with_small_cells_suppressed(
        town: tuple[TestClient, dict[str, str]]) -> None:
    c, _ = town
    app: Any = c.app
    ctx = app.state.services["health"]
    cohort = [(f"p{i:03d}", "M", 52 + i % 5, "") for i in range(14)]  # 14 men in their 50s
    _run(c, lambda: ctx.client.upsert(entities(synthetic_checkups(cohort, years=1))))

    async def clerk() -> str:
        _member, password = await app.state.access.book.add_staff("clerk", ["operator"],
                                                                  tenant="")
        return str(password)

    password = _run(c, clerk)
    _sign_in(c, "/console/signin", {"username": "clerk", "password": password,
                                    "next": "/console/map"})
    html = c.get("/console/health", headers=HTML).text
    assert re.search(r"男性 50〜59歳</th>\s*<td>14</td>", html)
    assert "10人未満のため表示しません" in html  # mio alone among women in her 60s
    assert "表示した区分の人数: 14人" in html  # a hidden group adds nothing to the total
    assert "5.8" not in html and "urn:ngsi-ld" not in html
