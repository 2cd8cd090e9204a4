// Passkey sign-in and sign-up on the app's pages (W3C WebAuthn Level 2): the ceremonies run
// against /auth/passkeys/…, and the token they answer starts the page session.
"use strict";
(() => {
  const b64 = {
    toBytes(s) {
      s = s.replace(/-/g, "+").replace(/_/g, "/");
      return Uint8Array.from(atob(s + "===".slice((s.length + 3) % 4)), (c) => c.charCodeAt(0));
    },
    fromBytes(buf) {
      let s = "";
      for (const b of new Uint8Array(buf)) s += String.fromCharCode(b);
      return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    },
  };
  const statusLine = document.getElementById("passkey-status");
  const csrf = () => JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";

  async function postJSON(path, body) {
    const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
                                  body: JSON.stringify(body), credentials: "same-origin" });
    const data = await r.json();
    if (!r.ok) throw new Error(data.error_description || data.error || String(r.status));
    return data;
  }
  function credentialJSON(c) {
    const r = c.response;
    const out = { id: c.id, rawId: b64.fromBytes(c.rawId), type: c.type,
                  clientExtensionResults: c.getClientExtensionResults(),
                  response: { clientDataJSON: b64.fromBytes(r.clientDataJSON) } };
    if (r.attestationObject) {
      out.response.attestationObject = b64.fromBytes(r.attestationObject);
      out.response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      out.response.authenticatorData = b64.fromBytes(r.authenticatorData);
      out.response.signature = b64.fromBytes(r.signature);
      if (r.userHandle) out.response.userHandle = b64.fromBytes(r.userHandle);
    }
    return out;
  }
  async function startSession(token, next) {
    const r = await fetch("/app/signin/token", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": csrf() },
      body: new URLSearchParams({ token: token.access_token, csrf: csrf() }) });
    if (r.status !== 204) throw new Error(String(r.status));
    window.location.assign(next || "/app");
  }
  function failed(button, error) {
    statusLine.textContent = button.getAttribute("data-failed") + " (" + error.message + ")";
  }

  const signin = document.getElementById("passkey-signin");
  if (signin) signin.addEventListener("click", async () => {
    try {
      const begin = await postJSON("/auth/passkeys/login", {});
      const o = begin.publicKey;
      o.challenge = b64.toBytes(o.challenge);
      for (const c of o.allowCredentials || []) c.id = b64.toBytes(c.id);
      const c = await navigator.credentials.get({ publicKey: o });
      const token = await postJSON("/auth/passkeys/login/finish",
                                   { ceremony: begin.ceremony, credential: credentialJSON(c) });
      await startSession(token, signin.getAttribute("data-next"));
    } catch (e) { failed(signin, e); }
  });

  const signup = document.getElementById("passkey-signup");
  if (signup) signup.addEventListener("click", async () => {
    try {
      const begin = await postJSON("/auth/passkeys/register",
                                   { login: document.getElementById("login").value });
      const o = begin.publicKey;
      o.challenge = b64.toBytes(o.challenge);
      o.user.id = b64.toBytes(o.user.id);
      for (const c of o.excludeCredentials || []) c.id = b64.toBytes(c.id);
      const c = await navigator.credentials.create({ publicKey: o });
      const token = await postJSON("/auth/passkeys/register/finish",
                                   { ceremony: begin.ceremony, credential: credentialJSON(c) });
      await startSession(token, signup.getAttribute("data-next"));
    } catch (e) { failed(signup, e); }
  });
})();
