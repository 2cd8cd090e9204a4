"""Drive the pages as a browser does: ask for HTML, carry the form's CSRF token."""

from __future__ import annotations

import re

import httpx
from starlette.testclient import TestClient

from access.secured import RESIDENT_PASSWORD

HTML = {"Accept": "text/html,application/xhtml+xml"}


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form token"
    return found.group(1)


def get(client: TestClient, path: str, **kw: object) -> httpx.Response:
    return client.get(path, headers=HTML, **kw)  # type: ignore[arg-type]


def post_form(client: TestClient, page: str, action: str, data: dict[str, str],
              **kw: object) -> httpx.Response:
    """Open `page`, then post `data` with the page's token to `action`."""
    token = csrf_of(get(client, page).text)
    return client.post(action, data={"csrf": token, **data}, headers=HTML,
                       **kw)  # type: ignore[arg-type]


def sign_in(client: TestClient, login: str = "hanako@example.jp",
            password: str = RESIDENT_PASSWORD) -> httpx.Response:
    r = post_form(client, "/app/signin", "/app/signin",
                  {"login": login, "password": password, "next": "/app"},
                  follow_redirects=False)
    assert r.status_code == 303, r.text
    return r
