"""Each service's own organisation on the platform: made at its first start, its type grants
set from its manifest at every start, its client secret kept in the key store
(`DATA_DIR/keys/services/<name>.json`, 0600) — never printed, never in the database.
"""

from __future__ import annotations

import hashlib
from typing import Any

from cityos.access.accounts import AccountError
from cityos.access.corporate import check_digit
from cityos.access.service import access_of
from cityos.keystore import KeyStore
from cityos.services.manifest import Manifest

KIND = "services"  # key store folder


def fictional_corporate_number(name: str) -> str:
    """A well-formed (check digit) corporate number for a service when the town set none."""
    digits = str(int(hashlib.sha256(name.encode()).hexdigest(), 16))[:11]
    base = f"7{digits}"
    return f"{check_digit(base)}{base}"


async def ensure_identity(app: Any, manifest: Manifest) -> tuple[str, str]:
    """(client id, secret) of the service's organisation, made or repaired as needed."""
    settings = app.state.settings
    access = await access_of(app)
    book = access.book
    keys = KeyStore.at(settings.data_dir)
    saved = keys.get(KIND, manifest.name)
    number = settings.services.corporate_number or fictional_corporate_number(manifest.name)
    try:
        org, secret = await book.add_org(manifest.org, number, read=manifest.read_types,
                                         write=manifest.write_types)
    except AccountError:  # it exists: the grants follow the manifest, the secret is kept
        org = await book.get_org(manifest.org)
        wanted = {"read": set(manifest.read_types), "write": set(manifest.write_types)}
        current = {mode: set(org["grants"].get(mode, [])) for mode in ("read", "write")}
        if current != wanted:  # grants are stored as names; compare and set exactly
            await book.grant(manifest.org, read=current["read"] - wanted["read"],
                             write=current["write"] - wanted["write"], revoke=True)
            org = await book.grant(manifest.org, read=wanted["read"], write=wanted["write"])
        if saved is not None and saved.get("client_id") == org["client_id"]:
            return org["client_id"], str(saved["secret"])
        secret = await book.rotate_secret(manifest.org, overlap=0)  # the file was lost
    keys.put(KIND, manifest.name, {"client_id": org["client_id"], "org": manifest.org,
                                   "secret": secret})
    return org["client_id"], secret
