"""The access-control state of one running platform: accounts, keys, verifier, limits, monitor.

Made lazily on first use from the app's store, so the app's lifespan needs no extra step.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from cityos.access.accounts import AccountBook
from cityos.access.grants import type_grants
from cityos.access.keys import KeyRing
from cityos.access.monitor import Monitor
from cityos.access.ratelimit import RateLimiter
from cityos.access.residents import RESIDENTS, ResidentBook
from cityos.access.shared import CountExchange
from cityos.access.tokens import Principal, TokenVerifier, issue_token
from cityos.keystore import KeyStore, move_keys_out
from cityos.operations import RESIDENT_ROLE
from cityos.settings import AccessSettings
from cityos.storage.base import Store, shared

ACCOUNT_CACHE_SECONDS = 2.0  # a disabled account stops working within this time


@dataclass
class Access:
    settings: AccessSettings
    store: Store
    book: AccountBook
    ring: KeyRing
    verifier: TokenVerifier
    limiter: RateLimiter
    login_limiter: RateLimiter
    monitor: Monitor
    _accounts: dict[str, tuple[float, dict[str, Any] | None]] = field(default_factory=dict)
    exchange: CountExchange | None = None  # several processes on one database

    @classmethod
    async def create(cls, store: Store, settings: AccessSettings, keys: KeyStore) -> Access:
        """`keys`: the data directory's key store (`KeyStore.at(settings.data_dir)`)."""
        await move_keys_out(store, keys)  # a platform from before the key store
        ring = KeyRing(keys, settings.key_rotation_days * 86_400.0, settings.token_ttl)
        await ring.load()
        book = AccountBook(store, lockout_after=settings.lockout_after,
                           lockout_seconds=settings.lockout_seconds,
                           secret_overlap=settings.secret_overlap_hours * 3600.0,
                           alerts=Monitor(store, webhook=settings.alert_webhook))
        return cls(settings, store, book, ring, TokenVerifier(ring),
                   RateLimiter(settings.rate_per_second, settings.rate_burst),
                   RateLimiter(1.0, 20.0), book.monitor)

    def share_counts(self) -> None:
        """Serving requests with other processes on one database: the rate and the monitor's
        counts become the processes' sum (nothing to do for an engine one process has alone)."""
        several = shared(self.store)
        if several is not None and self.exchange is None:
            self.exchange = CountExchange(several, self.limiter, self.login_limiter,
                                          self.monitor)
            self.exchange.start()

    async def close(self) -> None:
        if self.exchange is not None:
            await self.exchange.close()

    @property
    def residents(self) -> ResidentBook:
        return ResidentBook(self.book)

    async def issue(self, principal: Principal) -> str:
        return await issue_token(self.ring, principal, self.settings.token_ttl)

    def live_account(self, sub: str) -> tuple[bool, dict[str, Any] | None]:
        """(True, account) when the account of `sub` was looked up less than two seconds ago."""
        cached = self.account_entry(sub, time.monotonic())
        return (False, None) if cached is None else (True, cached[1])

    def account_entry(self, sub: str, now: float) -> tuple[float, dict[str, Any] | None] | None:
        """The cache entry behind `live_account` (when it was looked up, the account) while
        fresh at monotonic time `now`, else None. It is the same object until the account is
        looked up again, so a holder can tell that what it decided on is still current."""
        cached = self._accounts.get(sub)
        if cached is not None and now - cached[0] < ACCOUNT_CACHE_SECONDS:
            return cached
        return None

    def forget(self, sub: str) -> None:
        """Look the account of `sub` up again on its next request (after a change to it)."""
        self._accounts.pop(sub, None)

    async def account_of(self, principal: Principal) -> dict[str, Any] | None:
        """The live account behind a token (cached briefly); None if gone or disabled."""
        known, cached = self.live_account(principal.sub)
        if known:
            return cached
        now = time.monotonic()
        if principal.kind == "org":
            account = await self.book.org_by_client(principal.name)
        elif principal.kind == "resident":
            account = await self.store.kv_get(RESIDENTS, principal.name)
        else:
            account = await self.store.kv_get("access.staff", principal.name)
        if account is not None and account.get("disabled"):
            account = None
        if len(self._accounts) > 10_000:
            self._accounts.clear()
        self._accounts[principal.sub] = (now, account)
        return account


def org_principal(org: dict[str, Any]) -> Principal:
    grants = org.get("grants", {})
    scopes = tuple(f"ngsi:{mode}" for mode in ("read", "write") if grants.get(mode))
    return Principal(sub=f"org:{org['client_id']}", tenant=org["tenant"], scopes=scopes,
                     org=org["name"])


def staff_principal(member: dict[str, Any]) -> Principal:
    return Principal(sub=f"staff:{member['username']}", tenant=member["tenant"],
                     roles=tuple(member["roles"]))


def resident_principal(resident: dict[str, Any]) -> Principal:
    """A resident's tokens carry the role `resident` only, their id and their tenant."""
    return Principal(sub=f"resident:{resident['id']}", tenant=resident["tenant"],
                     roles=(RESIDENT_ROLE,))


async def access_of(app: Any) -> Access:
    """The app's `Access`, made on first use (needs the broker's store to be open)."""
    store = app.state.broker.store
    access: Access | None = getattr(app.state, "access", None)
    if access is None or access.store is not store:  # first use, or the app was restarted
        access = await Access.create(store, app.state.settings.access,
                                     KeyStore.at(app.state.settings.data_dir))
        current: Access | None = getattr(app.state, "access", None)
        if current is not None and current.store is store:
            return current  # a concurrent first request won
        app.state.access = access
        access.share_counts()
    return access


async def close_access(app: Any) -> None:
    """Stop what the app's `Access` runs in the background (before the store closes)."""
    access: Access | None = getattr(app.state, "access", None)
    if access is not None:
        await access.close()


class AccountGrants:
    """`cityos.ngsi.ports.TypeGrants` from the accounts (issue 18): an organisation's read
    grants as they are now, from the same two-second account cache as the gate's, so a
    revoked grant or a disabled account stops the next notification. Installed at start."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def reads(self, sub: str) -> frozenset[str] | None:
        if not sub.startswith("org:"):
            return None  # staff and residents: what they read is limited otherwise
        access = await access_of(self.app)
        account = await access.account_of(Principal(sub=sub, tenant=""))
        if account is None:
            return frozenset()  # disabled or removed: nothing
        return type_grants(account.get("grants")).reads
