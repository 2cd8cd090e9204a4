"""Passkeys in a real browser: headless Chromium with a virtual authenticator (Chrome DevTools
Protocol `WebAuthn` domain) signs a resident up and in against a real `cityos serve`.

http://localhost is a secure context, so WebAuthn runs without TLS; the RP ID is `localhost`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from conftest import CITYOS, system_binary

pytestmark = pytest.mark.e2e
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
SIGNED_IN = "サインインしました / signed in"


def test_sign_up_then_sign_in_with_a_passkey(serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = system_binary("chromium")
    server = serve("--host", "localhost")  # base URL http://localhost:PORT → RP ID localhost
    site = f"http://localhost:{server.port}"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            page = browser.new_context().new_page()
            cdp = page.context.new_cdp_session(page)
            cdp.send("WebAuthn.enable")
            authenticator = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
                "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
                "hasUserVerification": True, "isUserVerified": True,
                "automaticPresenceSimulation": True}})["authenticatorId"]
            page.goto(f"{site}/auth/passkeys")
            assert page.locator("h1").inner_text().startswith("パスキーでサインイン")

            page.fill("#login", "hanako@toyono.example")
            page.click("#register")
            # expect() polls from Playwright's own world: the page's CSP forbids eval
            sync_api.expect(page.locator("#status")).to_have_text(SIGNED_IN, timeout=30_000)
            signed_up = page.evaluate("sessionStorage.getItem('cityos_token')")
            creds = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
            assert len(creds["credentials"]) == 1 and creds["credentials"][0]["isResidentCredential"]

            page.evaluate("sessionStorage.clear()")
            page.reload()
            page.click("#signin")  # no login name: the browser offers the passkey it holds
            sync_api.expect(page.locator("#status")).to_have_text(SIGNED_IN, timeout=30_000)
            token = page.evaluate("sessionStorage.getItem('cityos_token')")
            assert token and token != signed_up

            page.fill("#login", "hanako@toyono.example")  # taken now: the page says so
            page.click("#register")
            sync_api.expect(page.locator("#status")).to_contain_text("登録できませんでした",
                                                                     timeout=30_000)
        finally:
            browser.close()
    me = httpx.get(f"{site}/auth/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["login"] == "hanako@toyono.example" and body["roles"] == ["resident"]
    assert len(body["passkeys"]) == 1 and body["passkeys"][0]["last_used"] is not None
    assert body["password"] is False
    staff_only = httpx.get(f"{site}/auth/v1/accounts", headers={"Authorization": f"Bearer {token}"})
    assert staff_only.status_code == 403


ADD_PASSKEY = """async (token) => {
  const auth = { "Authorization": "Bearer " + token, "Content-Type": "application/json" };
  const begin = await (await fetch("/auth/v1/me/passkeys", { method: "POST", headers: auth })).json();
  const o = begin.publicKey;
  o.challenge = b64.toBytes(o.challenge);
  o.user.id = b64.toBytes(o.user.id);
  for (const c of o.excludeCredentials || []) c.id = b64.toBytes(c.id);
  const c = await navigator.credentials.create({ publicKey: o });
  const r = await fetch("/auth/passkeys/register/finish", { method: "POST", headers: auth,
    body: JSON.stringify({ ceremony: begin.ceremony, credential: credentialJSON(c) }) });
  return r.status;
}"""


def test_a_password_account_adds_a_passkey(serve) -> None:  # type: ignore[no-untyped-def]
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = system_binary("chromium")
    server = serve("--host", "localhost")
    site = f"http://localhost:{server.port}"
    signed_up = httpx.post(f"{site}/auth/residents", data={
        "login": "jiro@toyono.example", "password": "jiro-no-nagai-himitsu"})
    assert signed_up.status_code == 201, signed_up.text
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            page = browser.new_context().new_page()
            cdp = page.context.new_cdp_session(page)
            cdp.send("WebAuthn.enable")
            cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
                "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
                "hasUserVerification": True, "isUserVerified": True,
                "automaticPresenceSimulation": True}})
            page.goto(f"{site}/auth/passkeys")
            assert page.evaluate(ADD_PASSKEY, signed_up.json()["access_token"]) == 200
            page.click("#signin")
            sync_api.expect(page.locator("#status")).to_have_text(SIGNED_IN, timeout=30_000)
            token = page.evaluate("sessionStorage.getItem('cityos_token')")
        finally:
            browser.close()
    me = httpx.get(f"{site}/auth/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["login"] == "jiro@toyono.example" and me["password"] is True
    assert len(me["passkeys"]) == 1


SIGN_WITH_PASSKEY = """async (challenge) => {
  const o = challenge.publicKey;
  o.challenge = b64.toBytes(o.challenge);
  for (const c of o.allowCredentials || []) c.id = b64.toBytes(c.id);
  const c = await navigator.credentials.get({ publicKey: o });
  const r = await fetch("/auth/login/passkey", { method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ ceremony: challenge.ceremony, credential: credentialJSON(c) }) });
  return { status: r.status, body: await r.json() };
}"""


def test_a_staff_passkey_becomes_the_second_factor(serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = system_binary("chromium")
    data = tmp_path / "town"
    subprocess.run([CITYOS, "init", "--data-dir", str(data)], capture_output=True, check=True)
    added = subprocess.run([CITYOS, "staff", "add", "yamada", "--role", "admin",
                            "--data-dir", str(data)], capture_output=True, text=True, check=True)
    password = added.stdout.strip().splitlines()[-1]
    server = serve("--host", "localhost", data_dir=data)
    site = f"http://localhost:{server.port}"
    login = {"username": "yamada", "password": password}
    first = httpx.post(f"{site}/auth/login", data=login)
    assert first.status_code == 200  # no passkey yet: the password is enough
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            page = browser.new_context().new_page()
            cdp = page.context.new_cdp_session(page)
            cdp.send("WebAuthn.enable")
            cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
                "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
                "hasUserVerification": True, "isUserVerified": True,
                "automaticPresenceSimulation": True}})
            page.goto(f"{site}/auth/passkeys")
            assert page.evaluate(ADD_PASSKEY, first.json()["access_token"]) == 200
            challenged = httpx.post(f"{site}/auth/login", data=login)
            assert challenged.status_code == 401, challenged.text
            assert challenged.json()["error"] == "second_factor_required"
            assert "access_token" not in challenged.json()
            signed = page.evaluate(SIGN_WITH_PASSKEY, challenged.json())
            replay = page.evaluate(SIGN_WITH_PASSKEY, challenged.json())  # used once only
        finally:
            browser.close()
    assert signed["status"] == 200, signed
    assert replay["status"] == 401
    auth = {"Authorization": f"Bearer {signed['body']['access_token']}"}
    rows = httpx.get(f"{site}/auth/v1/accounts", headers=auth).json()
    [yamada] = [r for r in rows if r["name"] == "yamada"]
    assert yamada["passkeys"] == 1 and "admin-without-second-factor" not in yamada["flags"]
    more = httpx.post(f"{site}/auth/v1/me/passkeys", headers=auth)
    assert more.status_code == 400  # a stolen token cannot enrol the thief's passkey
    reset = subprocess.run([CITYOS, "staff", "reset-passkeys", "yamada", "--data-dir", str(data)],
                           capture_output=True, text=True)
    assert reset.returncode == 0 and "1 passkeys" in reset.stdout
    assert httpx.post(f"{site}/auth/login", data=login).status_code == 200
