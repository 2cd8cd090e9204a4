"""Residents sign in to the app through their identity provider (as the My Number card
reaches cityos): a real `cityos serve` and a real OIDC provider, the browser's trip played by
httpx with its cookies; a refusal and a callback this browser did not start fail."""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path

import httpx
import pytest

from conftest import CITYOS

pytestmark = pytest.mark.e2e
HTML = {"Accept": "text/html"}


def test_sign_in_to_the_app_through_the_identity_provider(serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
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
        with httpx.Client(follow_redirects=True, headers=HTML) as browser:
            signin = browser.get(f"{server.url}/app/signin")
            assert 'href="/app/signin/oidc"' in signin.text
            form = browser.get(f"{server.url}/app/signin/oidc")
            assert str(form.url).startswith(issuer)
            home = browser.post(str(form.url), data={"sub": "mynumber-0101"})
            assert home.status_code == 200 and str(home.url) == f"{server.url}/app", home.text
            assert "<h1>ホーム</h1>" in home.text
            mydata = browser.get(f"{server.url}/app/mydata")
            assert "本人確認のID" in mydata.text  # the provider's ID is linked
            # a callback this browser did not start is refused, and signs nobody in
            with httpx.Client(follow_redirects=True, headers=HTML) as stranger:
                r = stranger.get(f"{server.url}/app/signin/oidc/callback",
                                 params={"state": "x", "code": "y"})
                assert r.status_code == 400 and "サインインできませんでした" in r.text
                assert "/app/signin" in str(stranger.get(f"{server.url}/app").url)
                # the resident says no at the provider
                form = stranger.get(f"{server.url}/app/signin/oidc")
                r = stranger.post(str(form.url), data={"action": "deny", "sub": "x"})
                assert r.status_code == 400 and "サインインできませんでした" in r.text
