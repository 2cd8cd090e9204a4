"""Residents sign in through their identity provider (as the My Number card reaches cityos)
end to end: a real `cityos serve` and a real OIDC provider on localhost ports, the browser's
trip played by httpx; a refused sign-in, a forged ID token and a forged bearer token fail."""

from __future__ import annotations

import subprocess
import sys
import time
import warnings
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from cityos.access.oidc import OidcConfig, OidcError, verify_id_token

# not `from conftest import …`: in a full run another folder's conftest may own that name
CITYOS = str(Path(sys.executable).with_name("cityos"))

pytestmark = pytest.mark.e2e


def test_resident_signs_in_and_links_through_the_identity_provider(serve,  # type: ignore[no-untyped-def]
                                                                   tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import oidc_provider_mock
    data = tmp_path / "town"
    subprocess.run([CITYOS, "init", "--data-dir", str(data)], capture_output=True, check=True)
    with oidc_provider_mock.run_server_in_thread(require_nonce=True) as provider:
        issuer = f"http://localhost:{provider.server_port}"
        (data / "cityos.toml").write_text(
            f'[personal]\noidc_issuer = "{issuer}"\noidc_client_id = "cityos-residents"\n'
            'oidc_client_secret = "test-only-secret"\n', encoding="utf-8")
        server = serve(data_dir=data)
        with httpx.Client(follow_redirects=True) as browser:
            form = browser.get(f"{server.url}/personal/v1/oidc/login")
            assert form.status_code == 200 and str(form.url).startswith(issuer)
            # the resident signs in at the provider (the My Number card app), comes back
            first = browser.post(str(form.url), data={"sub": "mynumber-0001"})
            assert first.status_code == 201, first.text  # a new account, linked
            again = browser.post(str(browser.get(f"{server.url}/personal/v1/oidc/login").url),
                                 data={"sub": "mynumber-0001"})
            assert again.status_code == 200, again.text
            # the resident refuses at the provider: no token
            refused = browser.post(str(browser.get(f"{server.url}/personal/v1/oidc/login").url),
                                   data={"action": "deny", "sub": "mynumber-0001"})
            assert refused.status_code == 403 and "access_token" not in refused.text
            # a callback this browser did not start is refused
            assert browser.get(f"{server.url}/personal/v1/oidc/callback",
                               params={"state": "x", "code": "y"}).status_code == 400
            # a password account links its public ID from the app
            signup = browser.post(f"{server.url}/auth/residents",
                                  data={"login": "jiro", "password": "jiro-no-himitsu-1"})
            jiro = {"Authorization": f"Bearer {signup.json()['access_token']}"}
            start = browser.post(f"{server.url}/personal/v1/me/links/identity", headers=jiro)
            assert start.status_code == 200, start.text
            linked = browser.post(str(browser.get(start.json()["url"]).url),
                                  data={"sub": "mynumber-0002"})
            assert linked.status_code == 200, linked.text
            jwks = httpx.get(f"{issuer}/jwks").json()
    token = first.json()["access_token"]
    me = jwt.decode(token, options={"verify_signature": False})
    assert me["sub"].startswith("resident:res_") and me["roles"] == ["resident"]
    assert jwt.decode(again.json()["access_token"],
                      options={"verify_signature": False})["sub"] == me["sub"]
    auth = {"Authorization": f"Bearer {token}"}
    r = httpx.get(f"{server.url}/personal/v1/me", headers=auth)
    assert r.status_code == 200
    assert [i["sub"] for i in r.json()["linkedIds"]["identities"]] == ["mynumber-0001"]
    jiro_links = httpx.get(f"{server.url}/personal/v1/me/links", headers={
        "Authorization": f"Bearer {linked.json()['access_token']}"})
    assert [i["sub"] for i in jiro_links.json()["identities"]] == ["mynumber-0002"]
    assert jwt.decode(linked.json()["access_token"], options={"verify_signature": False})[
        "sub"] == jwt.decode(signup.json()["access_token"],
                             options={"verify_signature": False})["sub"]
    # a bearer token signed by someone else is refused
    forged = jwt.encode({**me, "exp": int(time.time()) + 600},
                        rsa.generate_private_key(public_exponent=65537, key_size=2048),
                        algorithm="RS256")
    assert httpx.get(f"{server.url}/personal/v1/me",
                     headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    # an ID token in the provider's name but signed with another key is refused
    kid = jwks["keys"][0].get("kid")
    claims = {"iss": issuer, "sub": "mynumber-0001", "aud": "cityos-residents",
              "iat": int(time.time()), "exp": int(time.time()) + 300}
    fake = jwt.encode(claims, rsa.generate_private_key(public_exponent=65537, key_size=2048),
                      algorithm="RS256", headers={"kid": kid} if kid else None)
    config = OidcConfig(issuer, "cityos-residents", "", "openid", "", "sub", "", "")
    with pytest.raises(OidcError, match="not valid"):
        verify_id_token(fake, jwks, config)
