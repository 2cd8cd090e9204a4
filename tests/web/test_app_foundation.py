"""The web foundation: base template, languages, display settings, static files, session cookie."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

from starlette.testclient import TestClient

from cityos.web.i18n import MESSAGES
from cityos.web.middleware import cookie_header
from cityos.web.session import Session, decode_session, encode_session

TEMPLATES = Path(__file__).parents[2] / "src" / "cityos" / "web" / "templates"


def test_pages_are_japanese_first_with_skip_link_and_landmarks(client: TestClient) -> None:
    r = client.get("/app/settings")
    assert r.status_code == 200
    html = r.text
    assert '<html lang="ja" class="text-normal contrast-normal">' in html
    assert '<a class="skip" href="#main">本文へ移動</a>' in html
    for landmark in ("<header", '<main id="main"', "<footer"):
        assert landmark in html
    assert "表示の設定" in html
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "cdn" not in html.lower()


def test_english_switch_keeps_the_choice_in_a_cookie(client: TestClient) -> None:
    r = client.get("/app/settings?lang=en&next=/app/offline", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app/offline"
    assert "HttpOnly" in r.headers["set-cookie"] and "SameSite=Lax" in r.headers["set-cookie"]
    page = client.get("/app/offline").text
    assert '<html lang="en"' in page and "You are offline" in page
    assert 'lang="ja" hreflang="ja"' in page  # the way back, marked as Japanese


def test_large_text_and_high_contrast_become_classes(client: TestClient) -> None:
    client.get("/app/settings?size=xlarge&contrast=high")
    html = client.get("/app/settings?saved=1").text
    assert 'class="text-xlarge contrast-high"' in html
    assert "設定を変えました" in html
    client.get("/app/settings?size=huge")  # unknown values change nothing
    assert 'class="text-xlarge contrast-high"' in client.get("/app/settings").text


def test_no_open_redirect(client: TestClient) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        r = client.get("/app/settings", params={"lang": "en", "next": target},
                       follow_redirects=False)
        assert r.headers["location"] == "/app/settings?saved=1", target


def test_unknown_page_is_an_html_page_in_the_visitors_language(client: TestClient) -> None:
    r = client.get("/app/no-such-page", headers={"Accept": "text/html"})  # as browsers ask
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "ページが見つかりません" in r.text
    assert client.get("/app/no-such-page").headers["content-type"] == "application/json"


def test_static_files_are_vendored_compressed_and_cached(client: TestClient) -> None:
    r = client.get("/static/vendor/htmx-2.0.11.min.js", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    assert r.headers["content-type"].startswith("text/javascript")
    assert int(r.headers["content-length"]) < 20_000  # compressed on the wire
    assert "htmx" in r.text[:2000]
    again = client.get("/static/vendor/htmx-2.0.11.min.js",
                       headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    assert client.get("/static/base.css").headers["content-type"].startswith("text/css")
    for missing in ("/static/nope.js", "/static/../app.py", "/static/%2e%2e/app.py"):
        assert client.get(missing).status_code == 404, missing
    assert gzip.decompress(gzip.compress(b"x")) == b"x"


def test_session_cookie_is_signed() -> None:
    key = b"k" * 32
    session = Session(token="t", sub="resident:1", tenant="toyono", roles=("resident",),
                      until=10.0, acting_for="2")
    value = encode_session(key, session)
    back = decode_session(key, value)
    assert back is not None and back.sub == "resident:1" and back.acting_for == "2"
    assert decode_session(b"x" * 32, value) is None  # another key
    body, _, mac = value.partition(".")
    assert decode_session(key, body[:-2] + "AA." + mac) is None  # tampered
    assert decode_session(key, "garbage") is None


def test_a_tampered_cookie_is_a_signed_out_visitor(client: TestClient) -> None:
    client.cookies.set("cityos_session", "eyJ0IjoiZm9yZ2VkIn0.AAAA")
    r = client.get("/app/settings")
    assert r.status_code == 200
    assert "cityos_session=" in r.headers["set-cookie"]  # a fresh anonymous session


def test_secure_cookie_over_tls() -> None:
    assert "Secure" in cookie_header("a", "b", secure=True, max_age=1)
    assert "Secure" not in cookie_header("a", "b", secure=False, max_age=1)


def test_every_message_has_japanese_and_english_and_every_key_exists() -> None:
    for key, (ja, en) in MESSAGES.items():
        assert ja.strip() and en.strip(), key
    used = set()
    for template in TEMPLATES.rglob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*["']([\w.\-]+)["']\s*[,)]""",
                                     template.read_text()))
    missing = sorted(k for k in used if k not in MESSAGES)
    assert not missing, f"keys used in templates but not in the catalogue: {missing}"


def test_pages_travel_compressed(client: TestClient) -> None:
    r = client.get("/app/settings", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip" and "表示の設定" in r.text
    assert int(r.headers["content-length"]) < len(r.text.encode())
    plain = client.get("/app/settings", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and "表示の設定" in plain.text
