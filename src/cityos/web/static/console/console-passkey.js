// The second step of a staff sign-in (W3C WebAuthn): the passkey signs the challenge the
// password step made, /auth/login/passkey answers a token, and the token starts the session.
"use strict";
(() => {
  const button = document.getElementById("passkey-confirm");
  if (!button) return;
  const status = document.getElementById("passkey-status");
  const toBytes = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/") +
                                              "===".slice((s.length + 3) % 4)), (c) => c.charCodeAt(0));
  const fromBytes = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  button.addEventListener("click", async () => {
    try {
      const challenge = JSON.parse(button.getAttribute("data-challenge"));
      const o = challenge.publicKey;
      o.challenge = toBytes(o.challenge);
      for (const c of o.allowCredentials || []) c.id = toBytes(c.id);
      const c = await navigator.credentials.get({ publicKey: o });
      const r = c.response;
      const credential = { id: c.id, rawId: fromBytes(c.rawId), type: c.type,
        clientExtensionResults: c.getClientExtensionResults(),
        response: { clientDataJSON: fromBytes(r.clientDataJSON),
                    authenticatorData: fromBytes(r.authenticatorData),
                    signature: fromBytes(r.signature),
                    userHandle: r.userHandle ? fromBytes(r.userHandle) : undefined } };
      const answer = await fetch("/auth/login/passkey", { method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ ceremony: challenge.ceremony, credential }) });
      if (!answer.ok) throw new Error(String(answer.status));
      const token = (await answer.json()).access_token;
      const csrf = document.getElementById("passkey-csrf").value;
      const started = await fetch("/console/signin/token", { method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": csrf },
        body: new URLSearchParams({ token, csrf }) });
      if (started.status !== 204) throw new Error(String(started.status));
      window.location.assign(button.getAttribute("data-next") || "/console");
    } catch (e) {
      status.textContent = button.getAttribute("data-failed") + " (" + e.message + ")";
    }
  });
})();
