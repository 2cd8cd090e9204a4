"""The resident app's pages over the real app: sign-in, CSRF, home and services, my data
(consent switches, tracker, export, erasure), family mode, English."""

from __future__ import annotations

import re
import time

from access.secured import RESIDENT_PASSWORD, Platform
from cityos.personal.service import personal_of

from .pages import HTML, csrf_of, get, post_form, sign_in

SIGHTING = {"id": "urn:ngsi-ld:BeaconSighting:p1", "type": "BeaconSighting",
            "rssi": {"type": "Property", "value": -60}}
SERVICE = {"id": "watch-over", "name": {"ja": "見守りサービス", "en": "Watch-over"},
           "field": "safety", "provider": "とよの見守りネット",
           "deepLink": "toyono-mimamori://service/watch-over",
           "webFallback": "https://mimamori.example.jp/app", "dataCategories": ["location"],
           "price": {"resident": "free", "municipality": "paid"}, "status": "active",
           "linkVerified": True}


def _resident_id(platform: Platform) -> str:
    me = platform.client.get("/auth/v1/me", headers=platform.auth("resident")).json()
    return str(me["id"])


def test_signed_out_browser_is_sent_to_sign_in_and_scripts_get_401(platform: Platform) -> None:
    client = platform.client
    r = get(client, "/app/mydata", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app/signin?next=/app/mydata"
    assert client.get("/app/mydata").status_code == 401  # no Accept: text/html → the gate's
    r = client.get("/app/mydata", headers={"HX-Request": "true"})
    assert r.headers["hx-redirect"] == "/app/signin"


def test_password_sign_in_wrong_then_right(platform: Platform) -> None:
    client = platform.client
    r = post_form(client, "/app/signin", "/app/signin",
                  {"login": "hanako@example.jp", "password": "wrong", "next": "/app/mydata"})
    assert r.status_code == 401
    assert "ログイン名かパスワードが違います" in r.text and 'role="alert"' in r.text
    r = post_form(client, "/app/signin", "/app/signin",
                  {"login": "hanako@example.jp", "password": RESIDENT_PASSWORD,
                   "next": "/app/mydata"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app/mydata"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    page = get(client, "/app/mydata")
    assert page.status_code == 200 and "わたしのデータ" in page.text
    assert page.headers["cache-control"] == "no-store"
    # signed in already: the sign-in page goes on
    assert get(client, "/app/signin", follow_redirects=False).status_code == 303


def test_form_posts_need_the_sessions_token(platform: Platform) -> None:
    client = platform.client
    sign_in(client)
    assert client.post("/app/signout", data={"csrf": "forged"}, headers=HTML).status_code == 400
    assert client.post("/app/signout", headers=HTML).status_code == 400
    assert get(client, "/app").status_code == 200  # still signed in
    r = post_form(client, "/app", "/app/signout", {}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app/signin?signed_out=1"
    assert get(client, "/app", follow_redirects=False).status_code == 303


def test_a_new_session_token_after_sign_in(platform: Platform) -> None:
    client = platform.client
    before = csrf_of(get(client, "/app/signin").text)
    sign_in(client)
    after = csrf_of(get(client, "/app").text)
    assert before != after  # no fixation of the anonymous token
    assert client.post("/app/signout", data={"csrf": before}, headers=HTML).status_code == 400


def test_sign_up_with_a_password(platform: Platform) -> None:
    client = platform.client
    r = post_form(client, "/app/signup", "/app/signup",
                  {"login": "taro@example.jp", "password": "short"})
    assert r.status_code == 400 and "12" in r.text
    r = post_form(client, "/app/signup", "/app/signup",
                  {"login": "taro@example.jp", "password": "taro-no-nagai-himitsu",
                   "next": "/app/mydata"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app/mydata"
    assert "わたしのデータ" in get(client, "/app/mydata").text


def test_home_opens_only_what_works_and_keeps_the_rest_behind_fields(platform: Platform) -> None:
    client, admin = platform.client, {"Authorization": f"Bearer {platform.admin_token}"}
    sign_in(client)
    assert "まだサービスが登録されていません" in get(client, "/app").text
    assert client.post("/catalog/v1/services", json=SERVICE, headers=admin).status_code == 201
    planned = {**SERVICE, "id": "later", "name": {"ja": "将来の予定", "en": "Later"},
               "status": "planned"}
    assert client.post("/catalog/v1/services", json=planned, headers=admin).status_code == 201
    shelters = {**SERVICE, "id": "shelters", "name": {"ja": "避難所の混み具合", "en": "Shelters"},
                "field": "disaster", "linkVerified": False}  # nobody checked its link yet
    assert client.post("/catalog/v1/services", json=shelters, headers=admin).status_code == 201
    analysis = {**SERVICE, "id": "analysis", "name": {"ja": "利用履歴の行動分析", "en": "A"},
                "audience": "town"}  # the town's back office
    assert client.post("/catalog/v1/services", json=analysis, headers=admin).status_code == 201
    notice = {"title": {"ja": "避難所を開設しました", "en": "Shelters are open"},
              "severity": "emergency"}
    assert client.post("/catalog/v1/notices", json=notice, headers=admin).status_code == 201
    html = get(client, "/app").text  # no restart: the next page view shows them
    assert "見守りサービス" in html and "避難所の混み具合" in html
    assert "将来の予定" not in html and "利用履歴の行動分析" not in html
    assert "避難所を開設しました" in html and "緊急" in html
    opens = re.findall(r'<a class="button open" href="([^"]+)"', html)
    assert opens == [SERVICE["deepLink"]]  # only the verified link is offered as 開く
    link = re.search(r'<a class="button open" href="([^"]+)" data-fallback="([^"]+)"', html)
    assert link and link.groups() == (SERVICE["deepLink"], SERVICE["webFallback"])
    soon = html[html.index('id="soon-heading"'):]
    assert '<details class="field" id="field-disaster">' in soon and "避難所の混み具合" in soon
    assert "準備中" in soon and "①" not in html  # no skipping plan numbers for residents
    detail = get(client, "/app/services/watch-over").text
    assert "とよの見守りネット" in detail and "無料" in detail and "location" in detail
    detail = get(client, "/app/services/shelters").text
    assert "準備中" in detail and "mimamori.example.jp" not in detail  # no dead link
    assert get(client, "/app/services/nope").status_code == 404


def test_switch_a_consent_and_see_the_tracker(platform: Platform) -> None:
    client, res = platform.client, _resident_id(platform)
    sighting = {**SIGHTING, "refResident": {"type": "Relationship",
                                            "object": f"urn:ngsi-ld:Resident:{res}"}}
    assert client.post("/ngsi-ld/v1/entities", json=sighting,
                       headers=platform.auth("Writer")).status_code == 201
    ask = {"resident": res, "category": "location", "purpose": "ServiceProvision",
           "service": "見守り"}
    r = client.post("/personal/v1/consents", json=ask, headers=platform.auth("Reader"))
    assert r.status_code == 201, r.text
    consent = r.json()["id"]
    sign_in(client)
    page = get(client, "/app/mydata").text
    assert "許可を待っています" in page and "いる場所" in page
    assert "許可する" in page and "断る" in page  # a request is decided, not switched
    assert "「Reader」は、あなたのいる場所を受け取れなくなります" in page  # what refusing means
    token = csrf_of(page)
    htmx = {**HTML, "HX-Request": "true", "X-CSRF-Token": token}
    r = client.post(f"/app/mydata/consents/{consent}", data={"on": "1"}, headers=htmx)
    assert r.status_code == 200 and 'aria-checked="true"' in r.text, r.text
    assert "<html" not in r.text  # a fragment for htmx to swap in
    read = client.get("/ngsi-ld/v1/entities", params={"type": "BeaconSighting"},
                      headers=platform.auth("Reader"))
    assert [e["id"] for e in read.json()] == [SIGHTING["id"]]
    assert client.portal is not None
    client.portal.call(personal_of(client.app).tracker.flush)
    page = get(client, "/app/mydata").text
    timeline = page[page.index('id="tracker"'):page.index('id="links"')]
    assert "Reader" in timeline and "いる場所" in timeline and "<time datetime=" in timeline
    # off: the next read gets nothing; a plain form post (no script) comes back to the page
    r = client.post(f"/app/mydata/consents/{consent}", data={"on": "0", "csrf": token},
                    headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app/mydata#consents"
    assert client.get("/ngsi-ld/v1/entities", params={"type": "BeaconSighting"},
                      headers=platform.auth("Reader")).json() == []
    assert 'class="switch-label">渡さない</span>' in get(client, "/app/mydata").text
    # someone else's consent id is not found, not switched
    r = client.post("/app/mydata/consents/cns_nobody", data={"on": "1"}, headers=htmx)
    assert r.status_code == 404


def test_a_waiting_request_can_be_refused_in_the_companys_words(platform: Platform) -> None:
    client, res = platform.client, _resident_id(platform)
    ask = {"resident": res, "category": "location", "purpose": "ServiceProvision",
           "service": "健診の送迎", "notice": "健診会場への送迎に使います。",
           "ifRefused": "送迎の車がご自宅に迎えに行けません。"}
    first = client.post("/personal/v1/consents", json=ask, headers=platform.auth("Reader"))
    assert first.status_code == 201, first.text
    other = {"resident": res, "category": "health", "purpose": "ServiceProvision"}
    assert client.post("/personal/v1/consents", json=other,
                       headers=platform.auth("Reader")).status_code == 201
    sign_in(client)
    home = get(client, "/app").text
    assert "許可を待っている会社が 2 件あります" in home and 'href="/app/mydata#consents"' in home
    page = get(client, "/app/mydata").text
    assert "サービス: 健診の送迎" in page and "健診会場への送迎に使います。" in page
    assert "断ると: 送迎の車がご自宅に迎えに行けません。" in page  # its own words
    assert "見守りや避難" not in page  # never a line guessed from the data type
    order = re.findall(r'<li class="card consent[^"]*" id="consent-(cns_\w+)"', page)
    assert order[0] == first.json()["id"] and len(order) == 2  # oldest request first
    again = get(client, "/app/mydata").text
    assert re.findall(r'<li class="card consent[^"]*" id="consent-(cns_\w+)"', again) == order
    htmx = {**HTML, "HX-Request": "true", "X-CSRF-Token": csrf_of(page)}
    r = client.post(f"/app/mydata/consents/{first.json()['id']}", data={"on": "0"},
                    headers=htmx)
    assert r.status_code == 200 and "断りました。" in r.text
    assert 'aria-checked="false"' in r.text  # now an ordinary switch, off
    mine = {c["id"]: c["state"] for c in
            client.get("/personal/v1/me/consents", headers=platform.auth("resident")).json()}
    assert mine[first.json()["id"]] == "DECLINED"
    assert "許可を待っている会社が 1 件あります" in get(client, "/app").text


def test_the_export_in_plain_words(platform: Platform) -> None:
    client, res = platform.client, _resident_id(platform)
    sighting = {**SIGHTING, "refResident": {"type": "Relationship",
                                            "object": f"urn:ngsi-ld:Resident:{res}"}}
    assert client.post("/ngsi-ld/v1/entities", json=sighting,
                       headers=platform.auth("Writer")).status_code == 201
    ask = {"resident": res, "category": "location", "purpose": "ServiceProvision"}
    assert client.post("/personal/v1/consents", json=ask,
                       headers=platform.auth("Reader")).status_code == 201
    sign_in(client)
    assert 'href="/app/mydata/summary"' in get(client, "/app/mydata").text
    answer = get(client, "/app/mydata/summary")
    page = answer.text
    assert answer.status_code == 200 and "<h1>" in page, page[page.find("<main"):][:800]
    assert "わたしのデータのまとめ" in page, page[page.find("<main"):][:800]
    assert "見守りビーコンの検知" in page, page[page.find('id="s-data"'):][:900]  # the kind, in words
    assert "返事を待っています" in page and "「Reader」にいる場所を渡す" in page
    assert "urn:ngsi-ld" not in page and "https://uri.etsi.org" not in page  # no ids, no URLs
    assert re.search(r"作成: \d{4}/\d{2}/\d{2} \d{2}:\d{2}", page)  # Japan time, one format


def test_export_download_and_erasure_with_confirmation(platform: Platform) -> None:
    client = platform.client
    sign_in(client)
    r = get(client, "/app/mydata/export")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.json()["account"]["login"] == "hanako@example.jp"
    confirm = get(client, "/app/mydata/erase")
    assert "本当にデータを消しますか" in confirm.text
    assert "アカウントも削除されるため" in confirm.text  # says what really happens
    assert "法律で残すもの" in confirm.text and 'href="/app/mydata/export"' in confirm.text
    r = client.post("/app/mydata/erase", data={"csrf": csrf_of(confirm.text)}, headers=HTML)
    assert r.status_code == 400 and "確認のチェック" in r.text  # nothing erased yet
    assert get(client, "/app/mydata").status_code == 200
    r = client.post("/app/mydata/erase", data={"csrf": csrf_of(confirm.text), "confirm": "yes"},
                    headers=HTML)
    assert r.status_code == 200 and "データとアカウントを消しました" in r.text
    assert get(client, "/app", follow_redirects=False).status_code == 303  # signed out
    r = post_form(client, "/app/signin", "/app/signin",
                  {"login": "hanako@example.jp", "password": RESIDENT_PASSWORD})
    assert r.status_code == 401  # the account is closed


def test_family_representative_acts_for_a_parent(platform: Platform) -> None:
    client = platform.client

    async def add_son(access):  # type: ignore[no-untyped-def]
        return await access.residents.add_resident("ichiro@example.jp", tenant="",
                                                   password="ichiro-no-himitsu")

    son = platform.access(add_son)
    r = client.post("/personal/v1/me/representatives", headers=platform.auth("resident"),
                    json={"representative": son["id"], "actions": ["view", "consents"]})
    assert r.status_code == 201, r.text
    sign_in(client, "ichiro@example.jp", "ichiro-no-himitsu")
    page = get(client, "/app/family").text
    assert "hanako@example.jp さんとして使う" in page
    r = post_form(client, "/app/family", "/app/family", {"subject": _resident_id(platform)},
                  follow_redirects=False)
    assert r.status_code == 303
    assert "hanako@example.jp さんの代わりに操作しています" in get(client, "/app/mydata").text
    assert "本当にデータを消しますか" not in get(client, "/app/mydata/erase").text
    r = post_form(client, "/app/family", "/app/family", {"subject": "res_stranger"})
    assert r.status_code == 403
    post_form(client, "/app/family", "/app/family", {"subject": ""})
    assert "代わりに操作しています" not in get(client, "/app/mydata").text


def test_pages_in_english(platform: Platform) -> None:
    client = platform.client
    sign_in(client)
    get(client, "/app/settings?lang=en")
    page = get(client, "/app/mydata").text
    assert '<html lang="en"' in page and "My data" in page and "Who may receive your data" in page
    assert "わたし" not in page.replace('lang="ja"', "")


def test_staff_reach_resident_pages_only_as_admins(platform: Platform) -> None:
    client = platform.client
    admin = {**HTML, "Authorization": f"Bearer {platform.admin_token}"}
    r = client.get("/app", headers=admin)
    assert r.status_code == 200 and "住民の方のためのページです" in r.text
    viewer = {**HTML, "Authorization": f"Bearer {platform.tokens['viewer']}"}
    r = client.get("/app", headers=viewer)
    assert r.status_code == 403 and "このページを見る権限がありません" in r.text


def test_pwa_manifest_and_service_worker(platform: Platform) -> None:
    client = platform.client
    manifest = client.get("/app/manifest.webmanifest").json()
    assert manifest["start_url"] == "/app" and manifest["display"] == "standalone"
    sizes = {i["sizes"] for i in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        assert client.get(icon["src"]).status_code == 200
    sw = client.get("/app/sw.js")
    assert sw.status_code == 200 and sw.headers["service-worker-allowed"] == "/app"
    assert "/app/offline" in sw.text


def test_a_view_only_representative_cannot_switch(platform: Platform) -> None:
    client, res = platform.client, _resident_id(platform)
    consent = client.post("/personal/v1/consents", headers=platform.auth("Reader"), json={
        "resident": res, "category": "location", "purpose": "ServiceProvision"}).json()["id"]

    async def add_son(access):  # type: ignore[no-untyped-def]
        return await access.residents.add_resident("jiro@example.jp", tenant="",
                                                   password="jiro-no-himitsu-1")

    son = platform.access(add_son)
    r = client.post("/personal/v1/me/representatives", headers=platform.auth("resident"),
                    json={"representative": son["id"], "actions": ["view"]})
    assert r.status_code == 201, r.text
    sign_in(client, "jiro@example.jp", "jiro-no-himitsu-1")
    post_form(client, "/app/family", "/app/family", {"subject": res})
    page = get(client, "/app/mydata").text
    assert "許可を待っています" in page  # sees the consent
    for path in ("/app", "/app/mydata", "/app/settings"):  # whose data: on every page
        assert "いま hanako@example.jp さんの代わりに操作しています" in get(client, path).text
    r = client.post(f"/app/mydata/consents/{consent}", data={"on": "1", "csrf": csrf_of(page)},
                    headers=HTML)
    assert r.status_code == 403 and "この操作は頼まれていません" in r.text
    mine = client.get("/personal/v1/me/consents", headers=platform.auth("resident")).json()
    assert [c["state"] for c in mine] == ["REQUESTED"]


def test_a_representative_sees_only_the_mandate_categories(platform: Platform) -> None:
    """Review F4 on the pages: a location-only mandate shows no health consent, cannot switch
    one, and never downloads the parent's export."""
    client, res = platform.client, _resident_id(platform)
    ids = {cat: client.post("/personal/v1/consents", headers=platform.auth("Reader"), json={
        "resident": res, "category": cat, "purpose": "ServiceProvision"}).json()["id"]
        for cat in ("location", "health")}

    async def add_son(access):  # type: ignore[no-untyped-def]
        return await access.residents.add_resident("saburo@example.jp", tenant="",
                                                   password="saburo-no-himitsu-1")

    son = platform.access(add_son)
    r = client.post("/personal/v1/me/representatives", headers=platform.auth("resident"),
                    json={"representative": son["id"], "categories": ["location"],
                          "actions": ["view", "consents"]})
    assert r.status_code == 201, r.text
    sign_in(client, "saburo@example.jp", "saburo-no-himitsu-1")
    post_form(client, "/app/family", "/app/family", {"subject": res})
    page = get(client, "/app/mydata").text
    assert f"consent-{ids['location']}" in page and f"consent-{ids['health']}" not in page
    r = client.post(f"/app/mydata/consents/{ids['health']}",
                    data={"on": "1", "csrf": csrf_of(page)}, headers=HTML)
    assert r.status_code == 404
    assert client.get("/app/mydata/export", headers=HTML).status_code == 403
    mine = client.get("/personal/v1/me/consents", headers=platform.auth("resident")).json()
    assert {c["state"] for c in mine if c["id"] == ids["health"]} == {"REQUESTED"}


def test_a_switch_personal_link_refuses_says_why(platform: Platform) -> None:
    """An ended consent cannot be switched on from a page opened before it ended."""
    client, res = platform.client, _resident_id(platform)
    r = client.post("/personal/v1/consents", headers=platform.auth("Reader"), json={
        "resident": res, "category": "health", "purpose": "ServiceProvision",
        "until": time.time() + 1.5})
    assert r.status_code == 201, r.text
    sign_in(client)
    page = get(client, "/app/mydata").text
    assert "健康の記録" in page
    time.sleep(2)  # the consent ends (not a timing assertion: nothing is measured)
    htmx = {**HTML, "HX-Request": "true", "X-CSRF-Token": csrf_of(page)}
    r = client.post(f"/app/mydata/consents/{r.json()['id']}", data={"on": "1"}, headers=htmx)
    assert r.status_code == 200 and 'role="alert"' in r.text, r.text
    assert "変更できませんでした" in r.text and 'aria-checked="false"' in r.text
    assert "健康の記録" not in get(client, "/app/mydata").text  # ended: no longer listed


def test_an_action_after_the_session_ran_out_says_so_and_returns(platform: Platform) -> None:
    client = platform.client
    sign_in(client)
    page = get(client, "/app/mydata").text
    client.cookies.clear()  # the session ran out while the page stayed open
    htmx = {**HTML, "HX-Request": "true", "X-CSRF-Token": csrf_of(page),
            "Referer": "http://testserver/app/mydata"}
    r = client.post("/app/mydata/consents/cns_any", data={"on": "1"}, headers=htmx)
    assert r.headers["hx-redirect"] == "/app/signin?expired=1&next=/app/mydata"
    signin = get(client, r.headers["hx-redirect"]).text
    assert "サインインが切れました" in signin and "まだ行われていません" in signin
    r = post_form(client, "/app/signin?expired=1&next=/app/mydata", "/app/signin",
                  {"login": "hanako@example.jp", "password": RESIDENT_PASSWORD,
                   "next": "/app/mydata"}, follow_redirects=False)
    assert r.headers["location"] == "/app/mydata"  # back where she was, not home
    # a plain form post from another site's page is not sent back there
    client.cookies.clear()
    r = client.post("/app/mydata/erase", data={}, follow_redirects=False,
                    headers={**HTML, "Referer": "https://evil.example/app/mydata"})
    assert r.headers["location"] == "/app/signin?expired=1"
