"""Staff sign-in through a real OIDC provider (oidc-provider-mock: authlib's server in Flask,
on a localhost port), driven over HTTP as a browser would, plus ID-token forgeries."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from cryptography.hazmat.primitives.asymmetric import rsa

from cityos.access.oidc import STATES, OidcConfig, OidcError, verify_id_token

from .secured import Platform, make_platform

CALLBACK = "http://127.0.0.1:8000/auth/oidc/callback"  # the test platform's public URL
CONSOLE_CALLBACK = "http://127.0.0.1:8000/console/signin/oidc/callback"


@pytest.fixture(scope="module")
def provider() -> Iterator[dict[str, str]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import oidc_provider_mock
    with oidc_provider_mock.run_server_in_thread(require_client_registration=True,
                                                 require_nonce=True) as server:
        issuer = f"http://localhost:{server.server_port}"
        r = httpx.post(f"{issuer}/oauth2/clients",
                       json={"redirect_uris": [CALLBACK, CONSOLE_CALLBACK]})
        r.raise_for_status()
        yield {"issuer": issuer, "client_id": r.json()["client_id"],
               "client_secret": r.json()["client_secret"]}


def _platform(prepared: Any, path: Path, provider: dict[str, str], **more: Any
              ) -> Iterator[Platform]:
    return make_platform(prepared, path, oidc_issuer=provider["issuer"],
                         oidc_client_id=provider["client_id"],
                         oidc_client_secret=provider["client_secret"], **more)


def _sign_in(platform: Platform, who: str) -> httpx.Response:
    """The browser's trip: cityos → provider (the staff member signs in there) → cityos."""
    start = platform.client.get("/auth/oidc/login", follow_redirects=False)
    assert start.status_code == 302, start.text
    authorize = start.headers["location"]
    with httpx.Client() as browser:
        assert browser.get(authorize).status_code == 200  # the provider's sign-in form
        back = browser.post(authorize, data={"sub": who})
    assert back.status_code == 302, back.text
    callback = urlsplit(back.headers["location"])
    assert f"{callback.scheme}://{callback.netloc}{callback.path}" == CALLBACK
    return platform.client.get(f"{callback.path}?{callback.query}")


def test_a_mapped_staff_member_signs_in(prepared, tmp_path, provider) -> None:  # type: ignore[no-untyped-def]
    for platform in _platform(prepared, tmp_path / "var", provider):
        r = _sign_in(platform, "viewer")  # the provider's e-mail claim names staff 'viewer'
        assert r.status_code == 200, r.text
        claims = jwt.decode(r.json()["access_token"], options={"verify_signature": False})
        assert claims["sub"] == "staff:viewer" and claims["roles"] == ["viewer"]
        auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
        assert platform.client.get("/ngsi-ld/v1/types", headers=auth).status_code == 200
        assert platform.client.get("/auth/v1/alerts", headers=auth).status_code == 403

        async def bound(access):  # type: ignore[no-untyped-def]
            return (await access.book.get_staff("viewer"))["oidc"]

        assert platform.access(bound) == {"iss": provider["issuer"], "sub": "viewer"}


def test_pkce_state_and_nonce_travel_with_the_request(prepared, tmp_path, provider) -> None:  # type: ignore[no-untyped-def]
    for platform in _platform(prepared, tmp_path / "var", provider):
        start = platform.client.get("/auth/oidc/login", follow_redirects=False)
        query = {k: v[0] for k, v in parse_qs(urlsplit(start.headers["location"]).query).items()}
        assert query["code_challenge_method"] == "S256" and query["nonce"]
        assert query["response_type"] == "code" and "openid" in query["scope"].split()

        async def saved(access, key=query["state"]):  # type: ignore[no-untyped-def]
            return await access.store.kv_get(STATES, key)

        state = platform.access(saved)
        assert create_s256_code_challenge(state["verifier"]) == query["code_challenge"]
        assert state["nonce"] == query["nonce"]
        cookie = start.headers["set-cookie"]
        assert "HttpOnly" in cookie and "Path=/auth/oidc" in cookie and "SameSite=lax" in cookie


def test_unknown_staff_get_no_access_by_default(prepared, tmp_path, provider) -> None:  # type: ignore[no-untyped-def]
    for platform in _platform(prepared, tmp_path / "var", provider):
        r = _sign_in(platform, "stranger@town.example")
        assert r.status_code == 403 and r.json()["error"] == "access_denied"
        assert "cityos staff add" in r.json()["error_description"]

        async def staff(access):  # type: ignore[no-untyped-def]
            return [m["username"] for m in await access.book.list_staff()]

        assert "stranger@town.example" not in platform.access(staff)
        alerts = platform.client.get("/auth/v1/alerts?kind=oidc-refused",
                                     headers=platform.auth("admin")).json()
        assert len(alerts) == 1


def test_a_default_role_makes_new_staff_viewers(prepared, tmp_path, provider) -> None:  # type: ignore[no-untyped-def]
    for platform in _platform(prepared, tmp_path / "var", provider,
                              oidc_default_role="viewer", oidc_default_tenant="toyono"):
        r = _sign_in(platform, "suzuki@town.example")
        assert r.status_code == 200, r.text
        claims = jwt.decode(r.json()["access_token"], options={"verify_signature": False})
        assert claims["sub"] == "staff:suzuki@town.example"
        assert claims["roles"] == ["viewer"] and claims["tenant"] == "toyono"


def test_callbacks_that_were_not_started_here_are_refused(prepared, tmp_path, provider) -> None:  # type: ignore[no-untyped-def]
    for platform in _platform(prepared, tmp_path / "var", provider):
        r = platform.client.get("/auth/oidc/callback?code=abc&state=forged")
        assert r.status_code == 400
        start = platform.client.get("/auth/oidc/login", follow_redirects=False)
        authorize = start.headers["location"]
        with httpx.Client() as browser:
            back = browser.post(authorize, data={"sub": "viewer"})
        callback = urlsplit(back.headers["location"])
        platform.client.cookies.clear()  # another browser (no state cookie) brings the code
        assert platform.client.get(f"{callback.path}?{callback.query}").status_code == 400
        r = platform.client.get("/auth/oidc/callback?error=access_denied")
        assert r.status_code == 403


PAGE = {"Accept": "text/html"}


def _console_trip(platform: Platform, who: str) -> httpx.Response:
    """The console's button: cityos → provider → the console's callback."""
    start = platform.client.get("/console/signin/oidc", headers=PAGE, follow_redirects=False)
    assert start.status_code == 303, start.text
    with httpx.Client() as browser:
        back = browser.post(start.headers["location"], data={"sub": who})
    callback = urlsplit(back.headers["location"])
    assert f"{callback.scheme}://{callback.netloc}{callback.path}" == CONSOLE_CALLBACK
    return platform.client.get(f"{callback.path}?{callback.query}", headers=PAGE,
                               follow_redirects=False)


def test_staff_sign_in_to_the_console_with_the_municipalitys_id(prepared, tmp_path, provider) -> None:  # type: ignore[no-untyped-def]
    """Back to a page session (no token on screen); an unmapped staff member or a code that
    was not started in this browser gets the sign-in page again with the reason."""
    for platform in _platform(prepared, tmp_path / "var", provider):
        signin = platform.client.get("/console/signin", headers=PAGE)
        assert 'href="/console/signin/oidc"' in signin.text
        stranger = _console_trip(platform, "stranger@town.example")
        assert stranger.status_code == 403 and "自治体の ID" in stranger.text
        assert platform.client.get("/console", headers=PAGE,
                                   follow_redirects=False).status_code == 303  # not signed in
        done = _console_trip(platform, "viewer")
        assert done.status_code == 303 and done.headers["location"] == "/console"
        console = platform.client.get("/console", headers=PAGE, follow_redirects=False)
        assert console.status_code == 200 and "viewer" in console.text
        replay = platform.client.get("/console/signin/oidc/callback?code=abc&state=forged",
                                     headers=PAGE, follow_redirects=False)
        assert replay.status_code == 400


def test_oidc_is_off_unless_configured(platform: Platform) -> None:
    assert platform.client.get("/auth/oidc/login", follow_redirects=False).status_code == 404
    assert platform.client.get("/console/signin/oidc", headers={"Accept": "text/html"},
                               follow_redirects=False).status_code == 404
    assert platform.client.get("/auth/oidc/callback?code=x&state=y").status_code == 404


CONFIG = OidcConfig("https://idp.town.example", "cityos-client", "s", "openid",
                    CALLBACK, "email", "", "")


def _keys() -> tuple[rsa.RSAPrivateKey, dict[str, Any]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return key, {"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}


def _id_token(key: Any, **changes: Any) -> str:
    now = int(time.time())
    claims = {"iss": CONFIG.issuer, "sub": "u1", "aud": CONFIG.client_id, "iat": now,
              "exp": now + 300, "nonce": "n", "email": "tanaka"}
    claims.update(changes)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key,
                      algorithm="RS256", headers={"kid": "k1"})


@pytest.mark.parametrize("change", [
    {"iss": "https://evil.example"}, {"aud": "another-client"},
    {"exp": int(time.time()) - 3600}, {"iat": None}])
def test_id_tokens_with_wrong_claims_are_refused(change: dict[str, Any]) -> None:
    key, jwks = _keys()
    assert verify_id_token(_id_token(key), jwks, CONFIG)["sub"] == "u1"
    with pytest.raises(OidcError):
        verify_id_token(_id_token(key, **change), jwks, CONFIG)


def test_id_tokens_signed_by_others_are_refused() -> None:
    _, jwks = _keys()
    other, _ = _keys()
    with pytest.raises(OidcError, match="not valid"):
        verify_id_token(_id_token(other), jwks, CONFIG)
    unsigned = jwt.encode({"iss": CONFIG.issuer, "sub": "u1", "aud": CONFIG.client_id},
                          key=None, algorithm="none")
    with pytest.raises(OidcError, match="not accepted"):
        verify_id_token(unsigned, jwks, CONFIG)
    hmac = jwt.encode({"sub": "u1"}, "a-secret-shared-with-nobody-at-all-0123456789",
                      algorithm="HS256", headers={"kid": "k1"})
    with pytest.raises(OidcError, match="not accepted"):
        verify_id_token(hmac, jwks, CONFIG)
