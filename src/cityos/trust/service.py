"""The trust state of one running platform: the log signing key, the transparency log and the
periodic checkpoint (feed the audit trail in, sign a tree head, time-stamp it).

Made in the app's lifespan; `run` is its background task, `close` takes a last checkpoint.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cityos.access.monitor import Monitor
from cityos.keystore import KeyStore, key_name, move_keys_out
from cityos.settings import TrustSettings
from cityos.storage.base import Store, shared
from cityos.trust.certs import CertificateBook
from cityos.trust.feed import audit_leaf, new_audit_entries, tracker_head, tracker_leaf
from cityos.trust.log import TransparencyLog
from cityos.trust.sealing import SealChecker
from cityos.trust.stamper import Stamper, built_in_tsa
from cityos.trust.treehead import SignedTreeHead, public_key_text
from cityos.trust.writes import WriteRecorder

LOG_KIND = "log"  # the key store's kind of the tree-head signing keys
CRL_PATH = "/trust/v1/ca/crl"
_T = TypeVar("_T")
_CHECKPOINT_LEASE = "trust.checkpoint"  # one process at a time feeds, signs and stamps
log = logging.getLogger("cityos.trust")


def _log_doc() -> dict[str, Any]:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return {"pem": pem.decode("ascii"), "created": time.time()}


def _private(doc: dict[str, Any]) -> Ed25519PrivateKey:
    loaded = serialization.load_pem_private_key(doc["pem"].encode("ascii"), password=None)
    assert isinstance(loaded, Ed25519PrivateKey)
    return loaded


def _public(doc: dict[str, Any]) -> Ed25519PublicKey:
    if "pem" in doc:
        return _private(doc).public_key()
    return Ed25519PublicKey.from_public_bytes(bytes.fromhex(doc["public"]))


def log_key(keys: KeyStore) -> Ed25519PrivateKey:
    """The platform's tree-head signing key: the newest in the key store (`keys/log/`),
    made on first use (the first process to add it wins)."""
    signing = [doc for _, doc in keys.list(LOG_KIND) if "pem" in doc]
    return _private(signing[-1] if signing else keys.add(LOG_KIND, "first", _log_doc()))


def log_public_keys(keys: KeyStore) -> list[Ed25519PublicKey]:
    """Every key that signed the log's tree heads, the current one first."""
    return [_public(doc) for _, doc in reversed(keys.list(LOG_KIND))]


def rotate_log_key(keys: KeyStore) -> Ed25519PrivateKey:
    """A new key signs tree heads from now on; the old ones keep only their public half, so
    that the heads they signed verify (a process that has not read the new key yet signs its
    next head with the old one: that head verifies too)."""
    older = keys.list(LOG_KIND)
    doc = _log_doc()
    keys.put(LOG_KIND, key_name(doc["created"]), doc)
    for name, old in older:
        if "pem" in old:
            raw = _public(old).public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)
            keys.put(LOG_KIND, name, {"public": raw.hex(), "created": old["created"]})
    return log_key(keys)


ORIGIN_SPACE = "trust.log"  # kv space of the log's name, kept from the first start


def default_origin(public_url: str) -> str:
    return f"{urlsplit(public_url).netloc or 'cityos'}/trust/v1/log"


@dataclass
class Trust:
    settings: TrustSettings
    store: Store
    keys: KeyStore
    log: TransparencyLog
    certs: CertificateBook
    stamper: Stamper
    seals: SealChecker
    writes: WriteRecorder
    _task: asyncio.Task[None] | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @classmethod
    async def open(cls, store: Store, settings: TrustSettings, public_url: str,
                   keys: KeyStore, alert_webhook: str = "") -> Trust:
        """`keys`: the data directory's key store (`KeyStore.at(settings.data_dir)`)."""
        await move_keys_out(store, keys)  # a platform from before the key store
        # the log's name is fixed by the first start (or set by trust.origin): a command run
        # without --port, or a second port, must not sign the same log under another name
        origin = settings.origin or str(await store.kv_add(ORIGIN_SPACE, "origin",
                                                           default_origin(public_url)))
        tlog = TransparencyLog(store, origin, log_key(keys))
        await tlog.open()
        certs = CertificateBook(store, keys, crl_url=f"{public_url.rstrip('/')}{CRL_PATH}")
        await certs.ensure_ca(settings.ca_name)
        tsa = await built_in_tsa(keys, certs, settings.ca_name)
        stamper = Stamper(settings, tsa, Monitor(store, webhook=alert_webhook))
        return cls(settings, store, keys, tlog, certs, stamper, SealChecker(store, certs),
                   WriteRecorder(tlog))

    @property
    def public_key(self) -> str:
        """The log's verifier key in signed-note form (pin it to verify offline)."""
        return public_key_text(self.log.origin, self.log.key.public_key())

    def public_keys(self) -> list[Ed25519PublicKey]:
        """Every key that signed the log's heads (rotations), the current one first."""
        return log_public_keys(self.keys)

    async def reload_keys(self) -> None:
        """Sign and stamp with the newest keys of the key store (another process, or `cityos
        keys rotate`, may have rotated them)."""
        self.log.key = log_key(self.keys)
        self.stamper.tsa = await built_in_tsa(self.keys, self.certs, self.settings.ca_name)

    async def feed(self) -> int:
        """Append the audit records not yet in the log; returns how many. Another process may
        have taken some in already: reading its leaves first moves the cursor past them (and
        `checkpoint`, its caller, runs in one process at a time)."""
        await self.log.catch_up()
        added = 0
        while True:
            entries = await new_audit_entries(self.store, self.log.cursors.get("audit", 0))
            if not entries:
                await self._feed_tracker()
                return added
            await self.log.append([audit_leaf(seq, hash_) for seq, hash_ in entries],
                                  cursors={"audit": entries[-1][0]})
            added += len(entries)

    async def _feed_tracker(self) -> None:
        """The data tracker's head into the log, when it grew (its chain is checked up to it)."""
        head = await tracker_head(self.store, self.log.cursors.get("tracker", 0))
        if head is not None:
            await self.log.append([tracker_leaf(*head)], cursors={"tracker": head[0]})

    async def checkpoint(self) -> SignedTreeHead | None:
        """Feed, then sign (and keep) a tree head if the log grew since the last one. With
        several processes on one database (PostgreSQL) one checkpoints at a time, so no audit
        record is taken in twice and one head (and time-stamp) covers what both appended."""
        return await self._alone(self._checkpoint)

    async def take_in(self) -> int:
        """Feed only (no head), as `checkpoint` would: between checkpoints, so that audit
        records enter the log a second's worth at a time rather than in one long burst."""
        return await self._alone(self.feed)

    async def _alone(self, work: Callable[[], Awaitable[_T]]) -> _T:
        async with self._lock:
            several = shared(self.store)
            if several is None:
                return await work()
            while not await several.lease(_CHECKPOINT_LEASE):  # another process's checkpoint
                await asyncio.sleep(0.05)
            try:
                return await work()
            finally:
                await several.release(_CHECKPOINT_LEASE)

    async def _checkpoint(self) -> SignedTreeHead | None:
        await self.writes.flush()
        await self.reload_keys()
        await self.feed()
        latest = await self.log.latest_head()
        await self.log.catch_up()
        if latest is not None and latest.size == self.log.size and \
                "timeStampToken" in latest.extra:  # an unstamped head is stamped again
            return None
        sth = await self.log.sign()
        token = await self.stamper.stamp(sth.head.body())
        if token is not None:  # the next head's token covers these leaves too
            sth = sth.with_extra(timeStampToken=base64.b64encode(token).decode())
        await self.log.checkpoint(sth)
        return sth

    @property
    def writes_allowed(self) -> bool:
        return self.stamper.writes_allowed()

    async def run(self) -> None:
        """A checkpoint every `checkpoint_seconds`; in between, the audit records are taken in
        every `feed_seconds` (a burst of requests then never makes one long catch-up)."""
        period = self.settings.checkpoint_seconds
        due = time.monotonic() + period
        while True:
            await asyncio.sleep(min(self.settings.feed_seconds, max(0.0, due - time.monotonic())))
            try:
                if time.monotonic() >= due:
                    due = time.monotonic() + period
                    await self.checkpoint()
                else:
                    await self.take_in()
            except Exception:  # keep checkpointing; the next period retries
                log.exception("trust checkpoint failed")

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run())

    async def close(self) -> None:
        await self.writes.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            await self.checkpoint()
        except Exception:
            log.exception("last trust checkpoint failed")


def trust_of(app: Any) -> Trust:
    trust: Trust | None = getattr(app.state, "trust", None)
    if trust is None:
        raise RuntimeError("the trust part is not running")
    return trust
