"""The service catalog and notices over HTTP: staff edit, residents and companies read."""

from __future__ import annotations

from typing import Any

from access.secured import Platform

SERVICE: dict[str, Any] = {
    "id": "toyono-bousai-map",
    "name": {"ja": "避難所マップ", "en": "Shelter map"},
    "field": "①防災",
    "provider": "豊能防災サービス",
    "description": {"ja": "近くの避難所と混雑状況", "en": "Nearby shelters and how full they are"},
    "deepLink": "toyono-bousai://map",
    "webFallback": "https://bousai.example.jp/map",
    "price": {"resident": "無償", "municipality": "有償"},
    "dataCategories": ["位置情報"],
    "status": "pilot",
}


def test_staff_add_and_everyone_with_a_grant_reads(platform: Platform) -> None:
    c = platform.client
    r = c.post("/catalog/v1/services", json=SERVICE, headers=platform.auth("operator"))
    assert r.status_code == 201, r.text
    stored = r.json()
    assert stored["field"] == "disaster" and stored["price"] == {"resident": "free",
                                                                 "municipality": "paid"}
    assert r.headers["location"] == "/catalog/v1/services/toyono-bousai-map"
    for reader in ("resident", "viewer", "Reader", "Writer"):
        got = c.get("/catalog/v1/services", headers=platform.auth(reader))
        assert got.status_code == 200, reader
        assert [s["id"] for s in got.json()] == ["toyono-bousai-map"]
    assert c.get("/catalog/v1/services", headers=platform.auth("Nobody")).status_code == 403
    assert c.get("/catalog/v1/services").status_code == 401
    one = c.get("/catalog/v1/services/toyono-bousai-map", headers=platform.auth("resident"))
    assert one.json()["name"]["en"] == "Shelter map"


def test_only_staff_write(platform: Platform) -> None:
    c = platform.client
    for who in ("resident", "viewer", "Writer"):
        r = c.post("/catalog/v1/services", json=SERVICE, headers=platform.auth(who))
        assert r.status_code == 403, who
    assert c.get("/catalog/v1/services", headers=platform.auth("admin")).json() == []


def test_replace_filter_and_delete(platform: Platform) -> None:
    c, staff = platform.client, platform.auth("operator")
    assert c.put("/catalog/v1/services/toyono-bousai-map", json=SERVICE,
                 headers=staff).status_code == 201
    changed = {**SERVICE, "status": "active"}
    r = c.put("/catalog/v1/services/toyono-bousai-map", json=changed, headers=staff)
    assert r.status_code == 200 and r.json()["status"] == "active"
    assert c.post("/catalog/v1/services", json=SERVICE, headers=staff).status_code == 409
    other = {**SERVICE, "id": "coin", "field": "payment", "provider": "とよのコイン"}
    assert c.post("/catalog/v1/services", json=other, headers=staff).status_code == 201
    by_field = c.get("/catalog/v1/services?field=payment", headers=staff).json()
    assert [s["id"] for s in by_field] == ["coin"]
    assert c.get("/catalog/v1/services?field=nope", headers=staff).status_code == 400
    assert c.delete("/catalog/v1/services/coin", headers=staff).status_code == 204
    assert c.get("/catalog/v1/services/coin", headers=staff).status_code == 404
    assert c.delete("/catalog/v1/services/coin", headers=staff).status_code == 404


def test_bad_services_are_refused_and_nothing_is_written(platform: Platform) -> None:
    c, staff = platform.client, platform.auth("operator")
    bad = [
        {**SERVICE, "id": "Bad Id"},
        {**SERVICE, "field": "④"},  # the plan leaves ④ unused
        {**SERVICE, "deepLink": "javascript:alert(1)"},
        {**SERVICE, "deepLink": "", "webFallback": "http://plain.example.jp/"},
        {**SERVICE, "deepLink": "", "webFallback": ""},
        {**SERVICE, "price": {"resident": "たぶん"}},
        {**SERVICE, "status": "retired"},
        {**SERVICE, "name": {"en": "no Japanese name"}},
        {**SERVICE, "provider": ""},
        {**SERVICE, "dataCategories": [1, 2]},
        ["not", "an", "object"],
    ]
    for body in bad:
        r = c.post("/catalog/v1/services", json=body, headers=staff)
        assert r.status_code == 400, (body, r.text)
        assert " / " in r.json()["detail"]  # Japanese and English
    r = c.post("/catalog/v1/services", content=b"{not json", headers={
        **staff, "Content-Type": "application/json"})
    assert r.status_code == 400
    assert c.get("/catalog/v1/services", headers=staff).json() == []


def test_yaml_import_is_all_or_nothing_and_export_reads_back(platform: Platform) -> None:
    c, staff = platform.client, platform.auth("operator")
    yaml_type = {**staff, "Content-Type": "application/yaml"}
    good = ("services:\n"
            "  - id: bousai\n    name: {ja: 防災マップ, en: Hazard map}\n    field: 防災\n"
            "    provider: 豊能防災サービス\n    deepLink: toyono-bousai://map\n"
            "  - id: coin\n    name: とよのコイン\n    field: ⑬支払い\n    provider: とよのコイン\n"
            "    webFallback: https://coin.example.jp/\n    price: {resident: 無償, municipality: 有償}\n")
    r = c.post("/catalog/v1/import", content=good.encode(), headers=yaml_type)
    assert r.status_code == 200 and r.json() == {"created": 2, "updated": 0}
    broken = good.replace("id: coin", "id: Coin!")
    r = c.post("/catalog/v1/import", content=broken.encode(), headers=yaml_type)
    assert r.status_code == 400
    assert c.post("/catalog/v1/import", content=b"a: [", headers=yaml_type).status_code == 400
    assert c.post("/catalog/v1/import", content=good.encode(),
                  headers={**staff, "Content-Type": "application/json"}).status_code == 415
    exported = c.get("/catalog/v1/export", headers=staff)
    assert exported.headers["content-type"].startswith("application/yaml")
    assert "防災マップ" in exported.text  # unicode kept readable
    r = c.post("/catalog/v1/import", content=exported.content, headers=yaml_type)
    assert r.json() == {"created": 0, "updated": 2}
    assert c.post("/catalog/v1/import", content=exported.content,
                  headers={**platform.auth("viewer"), "Content-Type": "application/yaml"}
                  ).status_code == 403


def test_notices_staff_publish_residents_read_current(platform: Platform) -> None:
    c, staff = platform.client, platform.auth("operator")
    r = c.post("/catalog/v1/notices", json={"title": {"ja": "断水のお知らせ", "en": "Water cut"},
                                            "body": "3日 9時〜12時", "severity": "warning"},
               headers=staff)
    assert r.status_code == 201, r.text
    notice = r.json()
    old = c.post("/catalog/v1/notices", json={"title": "終わった催し", "until": "2020-01-01T00:00:00Z"},
                 headers=staff)
    assert old.status_code == 201
    seen = c.get("/catalog/v1/notices", headers=platform.auth("resident")).json()
    assert [n["title"]["ja"] for n in seen] == ["断水のお知らせ"]
    assert len(c.get("/catalog/v1/notices", headers=staff).json()) == 2
    assert c.post("/catalog/v1/notices", json={"title": "x"},
                  headers=platform.auth("resident")).status_code == 403
    assert c.post("/catalog/v1/notices", json={"title": "x", "until": "tomorrow"},
                  headers=staff).status_code == 400
    r = c.put(f"/catalog/v1/notices/{notice['id']}", json={"title": "断水（延期）"}, headers=staff)
    assert r.status_code == 200 and r.json()["publishedAt"] == notice["publishedAt"]
    assert c.put("/catalog/v1/notices/nope", json={"title": "x"}, headers=staff).status_code == 404
    assert c.delete(f"/catalog/v1/notices/{notice['id']}", headers=staff).status_code == 204
    assert c.get("/catalog/v1/notices", headers=platform.auth("resident")).json() == []


def test_usage_counts_each_organisations_calls_and_bytes(platform: Platform) -> None:
    c = platform.client
    for _ in range(3):
        assert c.get("/ngsi-ld/v1/entities?type=Shelter", headers=platform.auth("Reader")
                     ).status_code == 200
    c.post("/ngsi-ld/v1/entities", json={"id": "urn:ngsi-ld:Shelter:1", "type": "Shelter"},
           headers=platform.auth("Writer"))
    c.get("/catalog/v1/services", headers=platform.auth("resident"))  # not an organisation
    rows = c.get("/catalog/v1/usage", headers=platform.auth("viewer")).json()
    by_org = {r["organisation"]: r for r in rows}
    assert set(by_org) == {"Reader", "Writer"}
    assert by_org["Reader"]["calls"] == 3 and by_org["Reader"]["bytesOut"] >= 6  # "[]" × 3
    assert by_org["Writer"]["calls"] == 1 and by_org["Writer"]["bytesIn"] > 30
    month = rows[0]["month"]
    assert c.get(f"/catalog/v1/usage?month={month}", headers=platform.auth("viewer")).json() == rows
    assert c.get("/catalog/v1/usage?month=2001-01", headers=platform.auth("viewer")).json() == []
    assert c.get("/catalog/v1/usage?month=2001-13", headers=platform.auth("viewer")
                 ).status_code == 400
    assert c.get("/catalog/v1/usage", headers=platform.auth("Reader")).status_code == 403
