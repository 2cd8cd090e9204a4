"""Accounts: organisations (OAuth 2.0 clients) and staff, kept in the store's kv documents.

RFC 6749 §2.3.1 client credentials with hashed secrets rotated with overlap; staff roles of
MIC guideline 都市OS①-2. Blocking Argon2 work runs in threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

from cityos.access import monitor
from cityos.access.corporate import validate_corporate_number
from cityos.access.passwords import hash_secret, new_secret, verify_secret
from cityos.operations import STAFF_ROLES
from cityos.storage.base import Store, shared
from cityos.trust import state

ORGS = "access.orgs"  # name -> organisation
CLIENTS = "access.clients"  # client id -> organisation name
STAFF = "access.staff"  # username -> staff member
_NAME = re.compile(r"^[\w.@-][\w .@-]{0,99}$")
_TENANT = re.compile(r"^(\*|[\w-]{0,64})$")


class AccountError(ValueError):
    """A request about accounts that cannot be done (unknown, duplicate, invalid)."""


class BadCredentials(Exception):
    """Wrong name, secret or password (deliberately not saying which)."""


class Locked(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"locked for {seconds:.0f} s")
        self.seconds = seconds


def _types(values: Iterable[str]) -> list[str]:
    return sorted({v.strip() for v in values if v.strip()})


class AccountBook:
    """Creates, finds and authenticates accounts. One per store."""

    def __init__(self, store: Store, *, lockout_after: int = 10, lockout_seconds: float = 60.0,
                 secret_overlap: float = 7 * 86_400.0,
                 alerts: monitor.Monitor | None = None) -> None:
        self.store = store
        self.monitor = alerts or monitor.Monitor(store)
        self.lockout_after = lockout_after
        self.lockout_seconds = lockout_seconds
        self.secret_overlap = secret_overlap
        self._locks: dict[str, asyncio.Lock] = {}

    @contextlib.asynccontextmanager
    async def lock(self, key: str) -> AsyncIterator[None]:
        """One lock per account key, so that concurrent sign-ins count failures exactly; with
        several processes on one database (PostgreSQL) it is their lease on the account too."""
        if len(self._locks) > 10_000:
            self._locks = {k: v for k, v in self._locks.items() if v.locked()}
        async with self._locks.setdefault(key, asyncio.Lock()):
            several = shared(self.store)
            if several is None:
                yield
                return
            name = f"account\0{key}"
            while not await several.lease(name):  # another process signs this account in
                await asyncio.sleep(0.02)
            try:
                yield
            finally:
                await several.release(name)

    # each change of what an account may do is a state leaf too (trust/state.py), which
    # `cityos verify` checks the stored account against
    async def _save_org(self, org: dict[str, Any]) -> None:
        await self.store.kv_put(ORGS, org["name"], org)
        await state.append(self.store, [state.org_leaf(org)])

    async def _save_staff(self, member: dict[str, Any]) -> None:
        await self.store.kv_put(STAFF, member["username"], member)
        await state.append(self.store, [state.staff_leaf(member)])

    # organisations ----------------------------------------------------------------------
    async def add_org(self, name: str, corporate_number: str, *, tenant: str = "",
                      read: Iterable[str] = (), write: Iterable[str] = ()
                      ) -> tuple[dict[str, Any], str]:
        """Register an organisation; returns it and its client secret (shown once)."""
        if not _NAME.match(name):
            raise AccountError(f"事業者名 {name!r} に使えるのは英数字・空白・. @ - _ です / "
                               f"organisation name {name!r}: letters, digits, space . @ - _")
        if not _TENANT.match(tenant):
            raise AccountError(f"{tenant!r} はテナント名ではありません / tenant {tenant!r} is not "
                               "a tenant name")
        number = validate_corporate_number(corporate_number)
        if await self.store.kv_get(ORGS, name) is not None:
            raise AccountError(f"事業者 {name!r} はすでに登録されています / organisation "
                               f"{name!r} already exists")
        client_id = "org_" + secrets.token_hex(8)
        secret = new_secret("cs_")
        now = time.time()
        org = {"name": name, "corporate_number": number, "tenant": tenant,
               "client_id": client_id, "created": now, "disabled": False, "last_used": None,
               "grants": {"read": _types(read), "write": _types(write)},
               "secrets": [{"hash": await asyncio.to_thread(hash_secret, secret),
                            "created": now, "expires": None}],
               "failures": 0, "locked_until": 0.0}
        await self._save_org(org)
        await self.store.kv_put(CLIENTS, client_id, name)
        return org, secret

    async def get_org(self, name: str) -> dict[str, Any]:
        org = await self.store.kv_get(ORGS, name)
        if org is None:
            raise AccountError(f"事業者 {name!r} は登録されていません / no organisation {name!r}")
        return dict(org)

    async def org_by_client(self, client_id: str) -> dict[str, Any] | None:
        name = await self.store.kv_get(CLIENTS, client_id)
        return None if name is None else await self.store.kv_get(ORGS, name)

    async def list_orgs(self) -> list[dict[str, Any]]:
        return [org for _, org in await self.store.kv_list(ORGS)]

    async def set_org_disabled(self, name: str, disabled: bool) -> None:
        org = await self.get_org(name)
        org["disabled"] = disabled
        await self._save_org(org)

    async def grant(self, name: str, *, read: Iterable[str] = (), write: Iterable[str] = (),
                    revoke: bool = False) -> dict[str, Any]:
        """Add (or with `revoke` remove) entity types the organisation may read / write."""
        org = await self.get_org(name)
        for mode, types in (("read", _types(read)), ("write", _types(write))):
            current = set(org["grants"].get(mode, []))
            current = current - set(types) if revoke else current | set(types)
            org["grants"][mode] = sorted(current)
        await self._save_org(org)
        return org

    async def rotate_secret(self, name: str, overlap: float | None = None) -> str:
        """A new client secret; the old ones keep working for `overlap` seconds."""
        org = await self.get_org(name)
        now = time.time()
        until = now + (self.secret_overlap if overlap is None else overlap)
        kept = [s for s in org["secrets"] if s["expires"] is None or s["expires"] > now]
        for old in kept:
            old["expires"] = until if old["expires"] is None else min(old["expires"], until)
        secret = new_secret("cs_")
        kept.append({"hash": await asyncio.to_thread(hash_secret, secret), "created": now,
                     "expires": None})
        org["secrets"] = kept
        await self._save_org(org)
        return secret

    async def authenticate_client(self, client_id: str, secret: str) -> dict[str, Any]:
        """The organisation whose live secret this is; raises BadCredentials or Locked."""
        async with self.lock("org:" + client_id):
            org = await self.org_by_client(client_id)
            now = time.time()
            hashes = [s["hash"] for s in (org or {}).get("secrets", [])
                      if s["expires"] is None or s["expires"] > now]
            if org is not None and (wait := monitor.locked_for(org, now)):
                raise Locked(wait)
            ok = False
            for stored in hashes or [None]:
                ok = ok or await asyncio.to_thread(verify_secret, stored, secret)
            if org is None or org.get("disabled"):
                raise BadCredentials()
            return await self.settle(ORGS, org["name"], org, ok, "org:" + client_id, now)

    # staff --------------------------------------------------------------------------------
    async def add_staff(self, username: str, roles: Iterable[str], *, tenant: str | None = None,
                        password: str | None = None, first_admin: bool = False
                        ) -> tuple[dict[str, Any], str]:
        """Add a staff member; returns the account and its password (generated if not given)."""
        roles = tuple(dict.fromkeys(roles))
        if not _NAME.match(username) or " " in username:
            raise AccountError(f"ユーザー名 {username!r} に使えるのは英数字と . @ - _ です / "
                               f"user name {username!r}: letters, digits . @ - _")
        if not roles or any(r not in STAFF_ROLES for r in roles):
            given = ", ".join(roles) or "-"
            raise AccountError(f"役割は {', '.join(STAFF_ROLES)} のいずれかです({given} は不可) / "
                               f"roles must be among {', '.join(STAFF_ROLES)}, not {given}")
        tenant = ("*" if "admin" in roles else "") if tenant is None else tenant
        if not _TENANT.match(tenant):
            raise AccountError(f"{tenant!r} はテナント名ではありません / tenant {tenant!r} is not "
                               "a tenant name")
        if password is not None and len(password) < 12:
            raise AccountError("パスワードは12文字以上です / a password has at least 12 characters")
        if await self.store.kv_get(STAFF, username) is not None:
            raise AccountError(f"職員 {username!r} はすでに登録されています / staff member "
                               f"{username!r} already exists")
        password = password or new_secret("")[:24]
        member = {"username": username, "roles": list(roles), "tenant": tenant,
                  "password": await asyncio.to_thread(hash_secret, password),
                  "created": time.time(), "disabled": False, "first_admin": first_admin,
                  "last_used": None, "failures": 0, "locked_until": 0.0}
        await self._save_staff(member)
        return member, password

    async def get_staff(self, username: str) -> dict[str, Any]:
        member = await self.store.kv_get(STAFF, username)
        if member is None:
            raise AccountError(f"職員 {username!r} は登録されていません / no staff member "
                               f"{username!r}")
        return dict(member)

    async def list_staff(self) -> list[dict[str, Any]]:
        return [m for _, m in await self.store.kv_list(STAFF)]

    async def first_admin(self) -> dict[str, Any] | None:
        admins = [m for m in await self.list_staff() if "admin" in m["roles"]]
        admins.sort(key=lambda m: (not m.get("first_admin"), m["created"]))
        return admins[0] if admins else None

    async def set_staff_disabled(self, username: str, disabled: bool) -> None:
        member = await self.get_staff(username)
        member["disabled"] = disabled
        await self._save_staff(member)

    async def authenticate_staff(self, username: str, password: str) -> dict[str, Any]:
        """The staff member with this password; raises BadCredentials or Locked."""
        async with self.lock("staff:" + username):
            member = await self.store.kv_get(STAFF, username)
            now = time.time()
            if member is not None and (wait := monitor.locked_for(member, now)):
                raise Locked(wait)
            stored = None if member is None else member["password"]
            ok = await asyncio.to_thread(verify_secret, stored, password)
            if member is None or member.get("disabled"):
                raise BadCredentials()
            return await self.settle(STAFF, username, member, ok, "staff:" + username, now)

    # passkeys (residents sign in with them; staff use them as a second factor) -------------
    async def add_passkey(self, space: str, key: str, passkey: dict[str, Any]) -> None:
        """Keep a verified passkey on the account `key` of `space`."""
        async with self.lock(f"{space}:{key}"):
            account = await self.store.kv_get(space, key)
            if account is None:
                raise AccountError(f"アカウント {key!r} はありません / no account {key!r}")
            account["passkeys"] = [*account.get("passkeys", []), passkey]
            await self.store.kv_put(space, key, account)

    async def passkey_result(self, space: str, key: str, subject: str, credential_id: str,
                             ok: bool, sign_count: int = 0) -> dict[str, Any]:
        """Count a passkey assertion (success: its new sign count and last use; failure:
        toward the lockout). Raises Locked or BadCredentials like a password."""
        async with self.lock(f"{space}:{key}"):
            account = await self.store.kv_get(space, key)
            now = time.time()
            if account is None or account.get("disabled"):
                raise BadCredentials()
            if wait := monitor.locked_for(account, now):
                raise Locked(wait)
            if ok:
                for passkey in account.get("passkeys", []):
                    if passkey["id"] == credential_id:
                        passkey["sign_count"], passkey["last_used"] = sign_count, now
            return await self.settle(space, key, account, ok, subject, now)

    async def settle(self, space: str, key: str, record: dict[str, Any], ok: bool,
                     subject: str, now: float) -> dict[str, Any]:
        """Store the outcome of a sign-in attempt: success resets the failures, a failure
        counts toward the lockout (and its alert) and raises BadCredentials."""
        if ok:
            monitor.register_success(record, now)
            await self.store.kv_put(space, key, record)
            return record
        locked = monitor.register_failure(record, now, self.lockout_after, self.lockout_seconds)
        await self.store.kv_put(space, key, record)
        if locked:
            await self.monitor.alert("brute-force", subject, failures=record["failures"],
                                     locked_seconds=round(record["locked_until"] - now))
        raise BadCredentials()
