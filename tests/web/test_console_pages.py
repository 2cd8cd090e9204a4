"""The staff console in-process over a real SQLite file: sign-in, every page in Japanese and
English, the catalog and notices editors, roles, CSRF, the map's GeoJSON layers, charts."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from access.secured import Platform  # the `platform` fixture comes from tests/web/conftest.py

HTML = {"Accept": "text/html,application/xhtml+xml"}
PAGES = ("/console", "/console/map", "/console/entities", "/console/entities?type=EvacuationShelter",
         "/console/entities/urn:ngsi-ld:EvacuationShelter:kofudai", "/console/services",
         "/console/services/new", "/console/notices", "/console/accounts", "/console/alerts",
         "/console/incidents", "/console/compliance")


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form token"
    return found.group(1)


def _post(client: TestClient, page: str, action: str, data: dict[str, str]) -> httpx.Response:
    token = _csrf(client.get(page, headers=HTML).text)
    return client.post(action, data={"csrf": token, **data}, headers=HTML,
                       follow_redirects=False)


def sign_in(platform: Platform, user: str = "operator") -> TestClient:
    c = platform.client
    r = _post(c, "/console/signin", "/console/signin",
              {"username": user, "password": platform.passwords[user], "next": "/console/map"})
    assert r.status_code == 303 and r.headers["location"] == "/console/map", r.text
    return c


def _shelters(platform: Platform) -> None:
    auth = {**platform.auth("admin"), "Content-Type": "application/json"}
    for n, (name, lon, lat, people) in enumerate((("光風台小学校", 135.437, 34.899, 12),
                                                  ("吉川小学校", 135.452, 34.912, 3))):
        body = {"id": "urn:ngsi-ld:EvacuationShelter:kofudai" if n == 0 else f"urn:ngsi-ld:EvacuationShelter:{n}",
                "type": "EvacuationShelter",
                "name": {"type": "Property", "value": name},
                "location": {"type": "GeoProperty",
                             "value": {"type": "Point", "coordinates": [lon, lat]}}}
        assert platform.client.post("/ngsi-ld/v1/entities", json=body, headers=auth
                                    ).status_code == 201
        for k in range(3):
            r = platform.client.post(
                f"/ngsi-ld/v1/entities/{body['id']}/attrs", headers=auth,
                json={"occupancy": {"type": "Property", "value": people + k, "unitCode": "C62",
                                    "observedAt": f"2026-11-22T0{k}:00:00Z"}})
            assert r.status_code == 204, r.text


def test_a_browser_is_sent_to_sign_in_and_back(platform: Platform) -> None:
    c = platform.client
    r = c.get("/console/map", headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/signin")
    page = c.get(r.headers["location"], headers=HTML)
    assert page.status_code == 200 and '<html lang="ja"' in page.text
    assert 'for="username"' in page.text and 'autocomplete="current-password"' in page.text
    wrong = _post(c, "/console/signin", "/console/signin",
                  {"username": "operator", "password": "nope"})
    assert wrong.status_code == 401 and "パスワードが違います" in wrong.text
    sign_in(platform)
    assert c.get("/console/map", headers=HTML).status_code == 200
    out = _post(c, "/console", "/console/signout", {})
    assert out.status_code == 303
    assert c.get("/console", headers=HTML, follow_redirects=False).status_code == 303


def test_an_api_client_without_a_token_gets_401(platform: Platform) -> None:
    assert platform.client.get("/console/map/layers").status_code == 401


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_page_renders_in_both_languages(platform: Platform, lang: str) -> None:
    _shelters(platform)
    c = sign_in(platform)
    c.get(f"/app/settings?lang={lang}", headers=HTML)
    for path in PAGES:
        r = c.get(path, headers=HTML)
        assert r.status_code == 200, (path, r.text[:300])
        assert f'<html lang="{lang}"' in r.text
        assert '<main id="main"' in r.text and 'class="skip"' in r.text
        assert "console." not in re.sub(r"<[^>]+>", "", r.text), f"an untranslated key in {path}"
    word = "Map of the town" if lang == "en" else "まちの地図"
    assert word in c.get("/console/map", headers=HTML).text


def test_staff_add_a_service_and_the_catalog_has_it_at_once(platform: Platform) -> None:
    c = sign_in(platform)
    form = {"new": "1", "id": "toyono-kaimono", "name_ja": "お買い物便", "name_en": "Shopping bus",
            "field": "logistics", "provider": "能勢おかいもの便", "description_ja": "週2回",
            "description_en": "", "deepLink": "nose-okaimono://order", "webFallback": "",
            "price_resident": "paid", "price_municipality": "free",
            "dataCategories": "購買情報、位置情報", "status": "pilot"}
    r = _post(c, "/console/services/new", "/console/services", form)
    assert r.status_code == 303 and r.headers["location"] == "/console/services?done=saved"
    listed = c.get("/catalog/v1/services", headers=platform.auth("resident")).json()
    assert [s["id"] for s in listed] == ["toyono-kaimono"]
    assert listed[0]["dataCategories"] == ["購買情報", "位置情報"]
    again = _post(c, "/console/services/new", "/console/services", form)
    assert again.status_code == 400 and "toyono-kaimono" in again.text  # the id is taken
    bad = _post(c, "/console/services/new", "/console/services",
                {**form, "id": "other", "deepLink": "javascript:alert(1)"})
    assert bad.status_code == 400 and 'role="alert"' in bad.text
    edit = _post(c, "/console/services/toyono-kaimono/edit", "/console/services",
                 {**form, "new": "0", "status": "active"})
    assert edit.status_code == 303
    assert c.get("/catalog/v1/services/toyono-kaimono", headers=platform.auth("resident")
                 ).json()["status"] == "active"
    gone = _post(c, "/console/services", "/console/services/toyono-kaimono/delete", {})
    assert gone.status_code == 303
    assert c.get("/catalog/v1/services", headers=platform.auth("resident")).json() == []


def test_yaml_import_from_the_console(platform: Platform) -> None:
    c = sign_in(platform)
    text = ("- id: bousai\n  name: {ja: 防災マップ}\n  field: ①防災\n  provider: 豊能防災サービス\n"
            "  deepLink: toyono-bousai://map\n")
    r = _post(c, "/console/services", "/console/services/import", {"yaml": text})
    assert r.status_code == 303 and "imported%3A1%3A0" in r.headers["location"]
    assert "追加 1 件・更新 0 件" in c.get(r.headers["location"], headers=HTML).text
    r = _post(c, "/console/services", "/console/services/import", {"yaml": "- id: [\n"})
    assert r.status_code == 400 and "YAML" in r.text


def test_the_catalog_download_works_for_a_signed_in_clerk(platform: Platform) -> None:
    """The console's download link works with the browser's session (the API route it once
    pointed at wants a bearer token: a clerk's download was cancelled)."""
    c = sign_in(platform)
    r = _post(c, "/console/services", "/console/services/import",
              {"yaml": "- id: bousai\n  name: {ja: 防災マップ}\n  field: ①防災\n"
                       "  provider: 豊能防災サービス\n  deepLink: toyono-bousai://map\n"})
    assert r.status_code == 303, r.text
    page = c.get("/console/services", headers=HTML).text
    link = re.search(r'href="([^"]+)" download="catalog.yaml"', page)
    assert link and link.group(1) == "/console/services/export"
    r = c.get(link.group(1), headers=HTML)
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    assert "防災マップ" in r.text and "id: bousai" in r.text


def test_notices_editor(platform: Platform) -> None:
    c = sign_in(platform)
    r = _post(c, "/console/notices", "/console/notices",
              {"title_ja": "断水のお知らせ", "title_en": "Water cut", "body_ja": "3日 9時から",
               "body_en": "", "severity": "warning", "until": ""})
    assert r.status_code == 303
    seen = c.get("/catalog/v1/notices", headers=platform.auth("resident")).json()
    assert [n["title"]["ja"] for n in seen] == ["断水のお知らせ"]
    bad = _post(c, "/console/notices", "/console/notices", {"title_ja": "", "until": "x"})
    assert bad.status_code == 400
    bad = _post(c, "/console/notices", "/console/notices", {"title_ja": "t", "until": "来週"})
    assert bad.status_code == 400 and "2026/12/31 17:00 のように" in bad.text
    r = _post(c, "/console/notices", "/console/notices",  # as a clerk types it (issue #20)
              {"title_ja": "年末の窓口", "severity": "info", "until": "2099/12/31 17:00"})
    assert r.status_code == 303, r.text
    page = c.get("/console/notices", headers=HTML).text
    assert "– 2099/12/31 17:00" in page and "T17:00" not in page  # shown as typed, JST
    seen = c.get("/catalog/v1/notices", headers=platform.auth("resident")).json()
    year_end = next(n for n in seen if n["title"]["ja"] == "年末の窓口")
    assert year_end["until"] == "2099-12-31T17:00:00+09:00"  # the data keeps ISO 8601
    _post(c, "/console/notices", f"/console/notices/{year_end['id']}/delete", {})
    seen = [n for n in c.get("/catalog/v1/notices", headers=platform.auth("resident")).json()
            if n["title"]["ja"] == "断水のお知らせ"]
    withdraw = _post(c, "/console/notices", f"/console/notices/{seen[0]['id']}/delete", {})
    assert withdraw.status_code == 303
    assert c.get("/catalog/v1/notices", headers=platform.auth("resident")).json() == []


def test_a_form_without_its_token_is_refused(platform: Platform) -> None:
    c = sign_in(platform)
    r = c.post("/console/notices", data={"title_ja": "x"}, headers=HTML, follow_redirects=False)
    assert r.status_code == 400
    assert c.get("/catalog/v1/notices", headers=platform.auth("viewer")).json() == []


def test_viewers_see_but_do_not_edit_and_residents_stay_out(platform: Platform) -> None:
    c = sign_in(platform, "viewer")
    services = c.get("/console/services", headers=HTML)
    assert services.status_code == 200 and "/console/services/new" not in services.text
    assert c.get("/console/services/new", headers=HTML).status_code == 403
    r = _post(c, "/console/notices", "/console/notices", {"title_ja": "x"})
    assert r.status_code == 403
    resident = platform.client.get("/console", headers={**HTML, **platform.auth("resident")})
    assert resident.status_code == 403


def test_map_layers_are_geojson_with_sources(platform: Platform) -> None:
    _shelters(platform)
    c = sign_in(platform)
    page = c.get("/console/map", headers=HTML)
    assert "vendor/leaflet/leaflet.js" in page.text and "console/console-map.js" in page.text
    assert "cyberjapandata.gsi.go.jp" in page.headers["content-security-policy"]
    assert "光風台小学校" in page.text  # the table beside the map
    data = c.get("/console/map/layers").json()
    shelters = data["layers"]["shelters"]["features"]
    assert sorted(f["properties"]["name"] for f in shelters) == ["光風台小学校", "吉川小学校"]
    first = next(f for f in shelters if f["id"].endswith("kofudai"))
    assert first["geometry"] == {"type": "Point", "coordinates": [135.437, 34.899]}
    assert first["properties"]["occupancy"] == 14
    assert first["properties"]["observedAt"] == "2026-11-22T02:00:00Z"
    assert data["outline"] is None  # no town areas: no outline
    assert any("国土地理院" in s["ja"] for s in data["sources"])
    for asset in ("vendor/leaflet/leaflet.js", "vendor/leaflet/leaflet.css",
                  "console/console-map.js", "console/console.css"):
        assert c.get(f"/static/{asset}").status_code == 200, asset


def test_entity_page_draws_a_chart_of_numeric_history(platform: Platform) -> None:
    _shelters(platform)
    c = sign_in(platform)
    html = c.get("/console/entities/urn:ngsi-ld:EvacuationShelter:kofudai", headers=HTML).text
    svg = re.search(r'<svg class="chart".*?</svg>', html, re.S)
    assert svg, html[:2000]
    assert 'role="img"' in svg.group(0) and "occupancy" in svg.group(0)
    assert svg.group(0).count("<circle") == 3
    listed = c.get("/console/entities?type=EvacuationShelter", headers=HTML).text
    assert "光風台小学校" in listed and "(2)" in listed
    missing = c.get("/console/entities/urn:ngsi-ld:EvacuationShelter:none", headers=HTML)
    assert missing.status_code == 404


def test_overview_counts_and_usage(platform: Platform) -> None:
    for _ in range(2):
        platform.client.get("/ngsi-ld/v1/entities?type=Shelter", headers=platform.auth("Reader"))
    c = sign_in(platform)
    html = c.get("/console", headers=HTML).text
    kpis: dict[str, Any] = dict(re.findall(
        r'<span class="kpi-label">(?:<a [^>]+>)?([^<]+)(?:</a>)?</span>\s*'
        r'<span class="kpi-value">([^<]+)</span>', html))
    assert kpis["住民アカウント"] == "1" and kpis["事業者"] == "4"
    assert re.search(r"<th scope=\"row\">Reader</th><td class=\"num\">2</td>", html)


def test_without_tiles_the_map_page_loads_nothing_from_outside(platform: Platform) -> None:
    import dataclasses

    from cityos.app import create_app

    settings = dataclasses.replace(platform.settings, console=dataclasses.replace(
        platform.settings.console, tile_url=""))
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        token = _csrf(c.get("/console/signin", headers=HTML).text)
        r = c.post("/console/signin", headers=HTML, follow_redirects=False, data={
            "csrf": token, "username": "operator", "password": platform.passwords["operator"]})
        assert r.status_code == 303
        page = c.get("/console/map", headers=HTML)
        assert page.status_code == 200 and 'data-tiles=""' in page.text
        assert "img-src 'self' data:;" in page.headers["content-security-policy"]
        assert "背景地図なし" in page.text


def test_a_role_that_needs_a_passkey_is_not_signed_in_by_password(
        prepared: Any, tmp_path: Any) -> None:
    from access.secured import make_platform

    for strict in make_platform(prepared, tmp_path / "strict", second_factor_roles=("operator",)):
        c = strict.client
        r = _post(c, "/console/signin", "/console/signin",
                  {"username": "operator", "password": strict.passwords["operator"]})
        assert r.status_code == 401 and "パスキーが必要です" in r.text
        assert c.get("/console", headers=HTML, follow_redirects=False).status_code == 303
        token = _csrf(c.get("/console/signin", headers=HTML).text)
        forged = c.post("/console/signin/token", headers=HTML,
                        data={"csrf": token, "token": strict.tokens["resident"]})
        assert forged.status_code == 401  # only a staff member's token starts a session
        viewer = c.post("/console/signin/token", headers=HTML,
                        data={"csrf": token, "token": strict.tokens["viewer"]})
        assert viewer.status_code == 204
        assert c.get("/console", headers=HTML).status_code == 200


def test_the_self_check_page_shows_the_newest_run_and_whether_it_got_better(
        platform: Platform) -> None:
    import os
    import subprocess

    from conftest import CITYOS

    c = sign_in(platform)
    page = c.get("/console/compliance", headers=HTML)
    assert page.status_code == 200 and "まだ点検していません" in page.text
    data_dir = platform.settings.data_dir
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYOS_")}
    if platform.settings.storage.database_url:
        env["CITYOS_DATABASE_URL"] = platform.settings.storage.database_url
    for extra in ({}, {"CITYOS_ACCESS_ALERT_WEBHOOK": "https://alerts.example.jp/hook"}):
        done = subprocess.run([CITYOS, "compliance", "--data-dir", str(data_dir), "--no-verify"],
                              capture_output=True, text=True, env={**env, **extra})
        assert done.returncode == 1, done.stderr  # items need action in a test platform
    page = c.get("/console/compliance", headers=HTML).text
    assert "前回より改善しました" in page  # the alert webhook took items off the list
    assert "都市OS③-2" in page and "定期的にバックアップを取得する" in page
    assert "証跡の添付が必要な項目" in page and "情報セキュリティ基本方針" in page
    assert page.count('<th scope="row">ガバナンス') == 13
    c.get("/app/settings?lang=en", headers=HTML)
    assert "Better than last time" in c.get("/console/compliance", headers=HTML).text


def test_the_incident_page_shows_each_stage_and_the_contacts(platform: Platform) -> None:
    from cityos.compliance.incidents import add_step, open_incident, set_contact

    c = sign_in(platform)
    assert "記録はありません" in c.get("/console/incidents", headers=HTML).text
    data_dir = platform.settings.data_dir
    made = open_incident(data_dir, "職員アカウントへの総当たり", "high", by="当番",
                         note="アラート brute-force を確認")
    add_step(data_dir, made.id, "contain", "該当IPを遮断、アカウントをロック", by="当番")
    set_contact(data_dir, "委託先 SOC", "24時間監視", "soc@vendor.example.jp")
    page = c.get("/console/incidents", headers=HTML).text
    assert made.id in page and "職員アカウントへの総当たり" in page
    assert "封じ込め" in page and "該当IPを遮断" in page and "高" in page
    assert "委託先 SOC" in page and "soc@vendor.example.jp" in page
    c.get("/app/settings?lang=en", headers=HTML)
    assert "Contained" in c.get("/console/incidents", headers=HTML).text


def test_the_help_desk_resets_a_residents_password_with_a_one_time_code(
        platform: Platform) -> None:
    c = sign_in(platform)
    page = c.get("/console/accounts", headers=HTML).text
    assert "パスワードの再設定" in page
    r = _post(c, "/console/accounts", "/console/accounts/residents/reset-code",
              {"login": "nobody@example.jp"})
    assert r.status_code == 404 and "見つかりません" in r.text
    r = _post(c, "/console/accounts", "/console/accounts/residents/reset-code",
              {"login": "hanako@example.jp"})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    code = re.search(r"<strong>([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})</strong>", r.text)
    assert code, r.text
    c.post("/console/signout", data={"csrf": _csrf(c.get("/console", headers=HTML).text)},
           headers=HTML)
    form = c.get("/app/reset", headers=HTML).text
    assert "役場の窓口" in form
    new = {"csrf": _csrf(form), "login": "hanako@example.jp", "password": "atarashii-pass-1"}
    r = c.post("/app/reset", data={**new, "code": "AAAA-BBBB-CCCC"}, headers=HTML)
    assert r.status_code == 401 and "コードが違う" in r.text
    typed = code.group(1).lower().replace("-", " ")  # as a person types it
    r = c.post("/app/reset", data={**new, "code": typed}, headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app/signin?reset=1"
    r = c.post("/app/reset", data={**new, "code": code.group(1)}, headers=HTML)
    assert r.status_code == 401  # used once: void
    signin = c.get("/app/signin", headers=HTML).text
    r = c.post("/app/signin", data={"csrf": _csrf(signin), "login": "hanako@example.jp",
                                    "password": "atarashii-pass-1", "next": "/app"},
               headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app"


def test_a_viewer_cannot_issue_reset_codes(platform: Platform) -> None:
    c = sign_in(platform, "viewer")
    assert "パスワードの再設定" not in c.get("/console/accounts", headers=HTML).text
    r = _post(c, "/console/accounts", "/console/accounts/residents/reset-code",
              {"login": "hanako@example.jp"})
    assert r.status_code == 403
