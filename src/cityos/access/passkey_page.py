"""A minimal page that runs the passkey ceremonies in the browser (Japanese first, English).

W3C WebAuthn `navigator.credentials.create` / `get`; the resident app's own sign-in page will
replace it, this one keeps the ceremonies usable (and tested in a real browser) until then.
"""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

_PAGE = """<!doctype html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>パスキーでサインイン / Sign in with a passkey</title>
<style nonce="{nonce}">
body {{ font: 1.25rem/1.6 system-ui, sans-serif; max-width: 32rem; margin: 2rem auto; padding: 0 1rem; }}
input, button {{ font: inherit; padding: .5rem; width: 100%; box-sizing: border-box; margin: .25rem 0 1rem; }}
button {{ cursor: pointer; }}
#status {{ font-weight: bold; }}
</style>
</head>
<body>
<main>
<h1>パスキーでサインイン<br><small lang="en">Sign in with a passkey</small></h1>
<p>パスワードの代わりに、この端末の指紋・顔・画面ロックを使います。
<span lang="en">Your device's fingerprint, face or screen lock replaces the password.</span></p>
<label for="login">ログイン名 <span lang="en">(login name)</span></label>
<input id="login" name="login" autocomplete="username webauthn">
<button id="register" type="button">パスキーを作成して登録 <span lang="en">/ Create a passkey and sign up</span></button>
<button id="signin" type="button">パスキーでサインイン <span lang="en">/ Sign in with a passkey</span></button>
<p id="status" role="status" aria-live="polite"></p>
</main>
<script nonce="{nonce}">
"use strict";
const b64 = {{
  toBytes(s) {{
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(s + "===".slice((s.length + 3) % 4)), c => c.charCodeAt(0));
  }},
  fromBytes(buf) {{
    let s = "";
    for (const b of new Uint8Array(buf)) s += String.fromCharCode(b);
    return btoa(s).replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
  }},
}};
const status = (ja, en) => {{ document.getElementById("status").textContent = ja + " / " + en; }};
async function post(path, body) {{
  const r = await fetch(path, {{ method: "POST", headers: {{ "Content-Type": "application/json" }},
                                body: JSON.stringify(body) }});
  const data = await r.json();
  if (!r.ok) throw new Error(data.error_description || data.error || r.status);
  return data;
}}
function credentialJSON(c) {{
  const r = c.response, out = {{ id: c.id, rawId: b64.fromBytes(c.rawId), type: c.type,
    clientExtensionResults: c.getClientExtensionResults(), response: {{
      clientDataJSON: b64.fromBytes(r.clientDataJSON) }} }};
  if (r.attestationObject) {{
    out.response.attestationObject = b64.fromBytes(r.attestationObject);
    out.response.transports = r.getTransports ? r.getTransports() : [];
  }} else {{
    out.response.authenticatorData = b64.fromBytes(r.authenticatorData);
    out.response.signature = b64.fromBytes(r.signature);
    if (r.userHandle) out.response.userHandle = b64.fromBytes(r.userHandle);
  }}
  return out;
}}
function signedIn(token) {{
  sessionStorage.setItem("cityos_token", token.access_token);
  status("サインインしました", "signed in");
}}
document.getElementById("register").addEventListener("click", async () => {{
  try {{
    const begin = await post("/auth/passkeys/register", {{ login: document.getElementById("login").value }});
    const o = begin.publicKey;
    o.challenge = b64.toBytes(o.challenge);
    o.user.id = b64.toBytes(o.user.id);
    for (const c of o.excludeCredentials || []) c.id = b64.toBytes(c.id);
    const c = await navigator.credentials.create({{ publicKey: o }});
    signedIn(await post("/auth/passkeys/register/finish", {{ ceremony: begin.ceremony, credential: credentialJSON(c) }}));
  }} catch (e) {{ status("登録できませんでした: " + e.message, "could not sign up"); }}
}});
document.getElementById("signin").addEventListener("click", async () => {{
  try {{
    const begin = await post("/auth/passkeys/login", {{}});
    const o = begin.publicKey;
    o.challenge = b64.toBytes(o.challenge);
    for (const c of o.allowCredentials || []) c.id = b64.toBytes(c.id);
    const c = await navigator.credentials.get({{ publicKey: o }});
    signedIn(await post("/auth/passkeys/login/finish", {{ ceremony: begin.ceremony, credential: credentialJSON(c) }}));
  }} catch (e) {{ status("サインインできませんでした: " + e.message, "could not sign in"); }}
}});
</script>
</body>
</html>
"""


async def passkey_page(request: Request) -> Response:
    """The passkey sign-up / sign-in page (its script allowed by a per-answer CSP nonce)."""
    nonce = secrets.token_urlsafe(16)
    csp = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
           "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
    return HTMLResponse(_PAGE.format(nonce=nonce),
                        headers={"Content-Security-Policy": csp, "Cache-Control": "no-store",
                                 "X-Content-Type-Options": "nosniff"})
