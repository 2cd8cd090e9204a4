"""Residents' accounts for the app: sign-up and sign-in with a password (Argon2id) or passkeys.

MIC guideline 都市OS①-3 (authentication); the same lockout with back-off as staff (①-4).
A resident is identified by a random id (`res_…`), never by the login name they chose.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from typing import Any

from cityos.access.accounts import AccountBook, AccountError, BadCredentials, Locked
from cityos.access.monitor import locked_for
from cityos.access.passwords import hash_secret, verify_secret

RESIDENTS = "access.residents"  # resident id -> resident
LOGINS = "access.resident_logins"  # login name (lower case) -> resident id
PASSKEYS = "access.passkeys"  # credential id (base64url) -> resident id
MIN_PASSWORD = 12
RESET_SECONDS = 24 * 3600.0  # a counter reset code works this long
RESET_TRIES = 5  # wrong codes before the code is void
_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud, typed by hand
_LOGIN = re.compile(r"^[\w.@+-]{3,100}$")

__all__ = ["BadCredentials", "Locked", "ResidentBook"]


def normal_login(login: str) -> str:
    """The login name as stored (trimmed, lower case); AccountError when it is not one."""
    login = login.strip().lower()
    if not _LOGIN.match(login):
        raise AccountError("ログイン名は3〜100文字の英数字と . @ + - _ です / a login name has "
                           "3 to 100 letters, digits or . @ + - _")
    return login


class ResidentBook:
    """Creates, finds and authenticates residents; shares the staff book's locks and lockout."""

    def __init__(self, book: AccountBook) -> None:
        self.book = book
        self.store = book.store

    async def add_resident(self, login: str, *, tenant: str,
                           password: str | None = None) -> dict[str, Any]:
        """A new resident with `login` (and a password, or none when passkeys will be used)."""
        login = normal_login(login)
        if password is not None and len(password) < MIN_PASSWORD:
            raise AccountError(f"パスワードは{MIN_PASSWORD}文字以上です / a password has at "
                               f"least {MIN_PASSWORD} characters")
        hashed = None if password is None else await asyncio.to_thread(hash_secret, password)
        async with self.book.lock("resident-login:" + login):
            if await self.store.kv_get(LOGINS, login) is not None:
                raise AccountError("このログイン名は使われています / this login name is taken")
            resident_id = "res_" + secrets.token_hex(10)
            resident: dict[str, Any] = {
                "id": resident_id, "login": login, "tenant": tenant, "password": hashed,
                "passkeys": [], "created": time.time(), "disabled": False, "last_used": None,
                "failures": 0, "locked_until": 0.0}
            await self.store.kv_put(RESIDENTS, resident_id, resident)
            await self.store.kv_put(LOGINS, login, resident_id)
        return resident

    async def get(self, resident_id: str) -> dict[str, Any] | None:
        return await self.store.kv_get(RESIDENTS, resident_id)

    async def by_login(self, login: str) -> dict[str, Any] | None:
        try:
            resident_id = await self.store.kv_get(LOGINS, normal_login(login))
        except AccountError:
            return None
        return None if resident_id is None else await self.get(resident_id)

    async def list_residents(self) -> list[dict[str, Any]]:
        return [r for _, r in await self.store.kv_list(RESIDENTS)]

    async def set_disabled(self, resident_id: str, disabled: bool) -> None:
        resident = await self.get(resident_id)
        if resident is None:
            raise AccountError(f"no resident {resident_id!r}")
        resident["disabled"] = disabled
        await self.store.kv_put(RESIDENTS, resident_id, resident)

    async def authenticate(self, login: str, password: str) -> dict[str, Any]:
        """The resident with this login and password; raises BadCredentials or Locked."""
        resident = await self.by_login(login)
        key = resident["id"] if resident else "unknown"
        async with self.book.lock(f"{RESIDENTS}:{key}"):  # as passkey_result
            resident = None if resident is None else await self.get(resident["id"])
            now = time.time()
            if resident is not None and (wait := locked_for(resident, now)):
                raise Locked(wait)
            stored = None if resident is None else resident.get("password")
            ok = await asyncio.to_thread(verify_secret, stored, password)
            if resident is None or resident.get("disabled"):
                raise BadCredentials()
            return await self.book.settle(RESIDENTS, resident["id"], resident, ok,
                                          "resident:" + resident["id"], now)

    # password reset at the counter ----------------------------------------------------------
    async def issue_reset_code(self, resident_id: str, now: float | None = None) -> str:
        """A one-time code (12 characters in three groups) a clerk hands to the resident after
        checking who she is; it sets a new password within RESET_SECONDS. Only its hash is
        kept; a new code replaces the old one."""
        now = time.time() if now is None else now
        code = "-".join("".join(secrets.choice(_CODE_ALPHABET) for _ in range(4))
                        for _ in range(3))
        hashed = await asyncio.to_thread(hash_secret, code)
        async with self.book.lock(f"{RESIDENTS}:{resident_id}"):
            resident = await self.get(resident_id)
            if resident is None or resident.get("disabled"):
                raise AccountError("その住民はいません / no such resident")
            resident["reset"] = {"hash": hashed, "expires": now + RESET_SECONDS, "tries": 0}
            await self.store.kv_put(RESIDENTS, resident_id, resident)
        return code

    async def reset_password(self, login: str, code: str, password: str,
                             now: float | None = None) -> dict[str, Any]:
        """Set a new password with a counter code; BadCredentials for a wrong, used or
        expired code (the same answer for an unknown login), AccountError for a short one."""
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"パスワードは{MIN_PASSWORD}文字以上です / a password has at "
                               f"least {MIN_PASSWORD} characters")
        now = time.time() if now is None else now
        typed = code.strip().upper().replace(" ", "").replace("-", "")
        typed = "-".join(typed[i:i + 4] for i in range(0, len(typed), 4))
        found = await self.by_login(login)
        key = found["id"] if found else "unknown"
        async with self.book.lock(f"{RESIDENTS}:{key}"):
            resident = None if found is None else await self.get(found["id"])
            reset = (resident or {}).get("reset") or {}
            ok = await asyncio.to_thread(verify_secret, reset.get("hash"), typed)
            if resident is None or resident.get("disabled") or not reset:
                raise BadCredentials()
            if not ok or reset.get("expires", 0) < now or reset.get("tries", 0) >= RESET_TRIES:
                reset["tries"] = reset.get("tries", 0) + 1
                if reset["tries"] >= RESET_TRIES or reset.get("expires", 0) < now:
                    resident.pop("reset", None)  # void: the clerk issues a new one
                await self.store.kv_put(RESIDENTS, resident["id"], resident)
                raise BadCredentials()
            resident["password"] = await asyncio.to_thread(hash_secret, password)
            resident.pop("reset", None)
            resident["failures"], resident["locked_until"] = 0, 0.0
            await self.store.kv_put(RESIDENTS, resident["id"], resident)
            return resident

    # passkeys ---------------------------------------------------------------------------
    async def add_passkey(self, resident: dict[str, Any], credential: dict[str, Any]) -> None:
        """Keep a verified passkey (credential id, COSE public key, sign count) of `resident`."""
        await self.book.add_passkey(RESIDENTS, resident["id"], credential)
        await self.store.kv_put(PASSKEYS, credential["id"], resident["id"])

    async def of_passkey(self, credential_id: str) -> dict[str, Any] | None:
        resident_id = await self.store.kv_get(PASSKEYS, credential_id)
        return None if resident_id is None else await self.get(resident_id)

    async def passkey_result(self, resident: dict[str, Any], credential_id: str, ok: bool,
                             sign_count: int = 0) -> dict[str, Any]:
        """Count a passkey sign-in (success: new sign count and last use; failure: toward the
        lockout). Raises Locked or BadCredentials like a password sign-in."""
        return await self.book.passkey_result(RESIDENTS, resident["id"],
                                              "resident:" + resident["id"], credential_id, ok,
                                              sign_count)
