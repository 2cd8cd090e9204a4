"""Staff sign-in through OIDC end to end: a real `cityos serve` and a real OIDC provider on
localhost ports, the browser's trip played by httpx following every redirect."""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path

import httpx
import jwt
import pytest

from conftest import CITYOS

pytestmark = pytest.mark.e2e


def test_staff_sign_in_through_the_town_oidc_provider(serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import oidc_provider_mock
    data = tmp_path / "town"
    subprocess.run([CITYOS, "init", "--data-dir", str(data)], capture_output=True, check=True)
    subprocess.run([CITYOS, "staff", "add", "tanaka@town.example", "--role", "operator",
                    "--data-dir", str(data)], capture_output=True, check=True)
    with oidc_provider_mock.run_server_in_thread(require_nonce=True) as provider:
        issuer = f"http://localhost:{provider.server_port}"
        (data / "cityos.toml").write_text(
            f'[access]\noidc_issuer = "{issuer}"\noidc_client_id = "cityos-town"\n'
            'oidc_client_secret = "test-only-secret"\n', encoding="utf-8")
        server = serve(data_dir=data)
        with httpx.Client(follow_redirects=True) as browser:
            form = browser.get(f"{server.url}/auth/oidc/login")
            assert form.status_code == 200 and str(form.url).startswith(issuer)
            # the staff member signs in at the provider, which sends the browser back
            answer = browser.post(str(form.url), data={"sub": "tanaka@town.example"})
            assert answer.status_code == 200, answer.text
            assert str(answer.url).startswith(f"{server.url}/auth/oidc/callback?")
            token = answer.json()["access_token"]
            stranger = browser.post(str(browser.get(f"{server.url}/auth/oidc/login").url),
                                    data={"sub": "stranger@elsewhere.example"})
            assert stranger.status_code == 403 and stranger.json()["error"] == "access_denied"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == "staff:tanaka@town.example" and claims["roles"] == ["operator"]
    auth = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{server.url}/ngsi-ld/v1/types", headers=auth).status_code == 200
    assert httpx.get(f"{server.url}/auth/v1/accounts", headers=auth).status_code == 403
