"""Consents: resident × recipient × data category × purpose, and their life cycle.

APPI explicit consent (第三者提供の同意), the information-bank guideline's dynamic opt-in.
States REQUESTED → APPROVED | DECLINED, APPROVED → WITHDRAWN | EXPIRED (a resident may switch a
declined or withdrawn consent ON again). APPROVED is the storage grant that releases rows.
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import re
import secrets
import time
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cityos.audit.chain import link
from cityos.personal.receipts import build_record, digest, purpose_term, sign
from cityos.personal.vault import Vault
from cityos.storage.base import Store
from cityos.trust.log import TransparencyLog
from cityos.trust.state import append as append_state
from cityos.trust.state import grant_leaf

SPACE = "personal.consents"  # kv: tenant \x1f consent id -> the consent as it stands
RECORDS = "personal.consent-records"  # store log: every record, sealed under the subject's key
STATES = ("REQUESTED", "APPROVED", "DECLINED", "WITHDRAWN", "EXPIRED")
OPEN = ("REQUESTED", "APPROVED")
# (from, to) -> who may make the change: "subject" (the resident or a representative),
# "recipient" (the organisation that asked), "system" (expiry)
MOVES = {
    ("REQUESTED", "APPROVED"): "subject", ("REQUESTED", "DECLINED"): "subject",
    ("DECLINED", "APPROVED"): "subject", ("WITHDRAWN", "APPROVED"): "subject",
    ("APPROVED", "WITHDRAWN"): "subject", ("REQUESTED", "WITHDRAWN"): "recipient",
    ("APPROVED", "EXPIRED"): "system", ("REQUESTED", "EXPIRED"): "system",
}
_PURPOSE = re.compile(r"^[A-Za-z][\w:/#.-]{0,199}$")
_CATEGORY = re.compile(r"^[a-z][a-z0-9-]{1,39}$")


class ConsentError(Exception):
    """A consent change that cannot be made; `status` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _key(tenant: str, consent_id: str) -> str:
    return f"{tenant}\x1f{consent_id}"


class ConsentBook:
    """Consents of one platform: kept in the store, each change a signed TS 27560 record
    (sealed in the store log, its digest a transparency-log leaf), APPROVED mirrored as a
    storage grant so that a change takes effect on the very next read."""

    def __init__(self, store: Store, vault: Vault, signer: Ed25519PrivateKey,
                 tlog: TransparencyLog | None = None) -> None:
        self.store = store
        self.vault = vault
        self.signer = signer
        self.tlog = tlog
        self._lock = asyncio.Lock()

    # reading ---------------------------------------------------------------------------------
    async def get(self, tenant: str, consent_id: str) -> dict[str, Any] | None:
        consent = await self.store.kv_get(SPACE, _key(tenant, consent_id))
        return self._current(consent) if consent is not None else None

    async def list(self, tenant: str, *, subject: str | None = None,
                   recipient: str | None = None) -> builtins.list[dict[str, Any]]:
        """Consents of a tenant (of one subject, or one recipient), newest first."""
        prefix = tenant + "\x1f"
        out = [self._current(c) for k, c in await self.store.kv_list(SPACE)
               if k.startswith(prefix) and (subject is None or c["subject"] == subject)
               and (recipient is None or c["recipient"] == recipient)]
        return sorted(out, key=lambda c: c["updated"], reverse=True)

    def _current(self, consent: dict[str, Any]) -> dict[str, Any]:
        """The consent with an ended validity shown as EXPIRED even before the sweep ran."""
        until = consent.get("until")
        if consent["state"] in OPEN and until is not None and until <= time.time():
            return {**consent, "state": "EXPIRED"}
        return consent

    async def records(self, tenant: str, consent_id: str) -> builtins.list[dict[str, Any]]:
        """Every record of a consent, oldest first (none once its subject is erased)."""
        consent = await self.store.kv_get(SPACE, _key(tenant, consent_id))
        if consent is None:
            return []
        out = []
        for ref in consent.get("records", []):
            [entry] = await self.store.read_log(RECORDS, after=ref["seq"] - 1, limit=1)
            body = self.vault.open(tenant, consent["subject"], entry.body)
            if body is not None:
                out.append({**orjson.loads(body), "leafIndex": ref.get("leaf")})
        return out

    # changing --------------------------------------------------------------------------------
    async def request(self, tenant: str, *, subject: str, recipient: str, category: str,
                      purpose: str, recipient_name: str = "", service: str = "",
                      notice: str = "", until: float | None = None,
                      if_refused: str = "") -> dict[str, Any]:
        """An organisation asks `subject` for consent; ConsentError 409 when one is open.
        `service` names its service, `notice` says why in its words, `if_refused` what the
        resident loses by refusing (all shown to her as the company wrote them)."""
        if not _CATEGORY.match(category):
            raise ConsentError("category はデータ区分です (例: location) / category is a data "
                               "category such as location")
        if not _PURPOSE.match(purpose):
            raise ConsentError("purpose は利用目的 (DPV の用語, 例: ServiceProvision) です / "
                               "purpose is a DPV purpose such as ServiceProvision")
        if until is not None and until <= time.time():
            raise ConsentError("until は未来の時刻です / until must be in the future")
        if len(if_refused) > 500:
            raise ConsentError("ifRefused は500文字までです / ifRefused has at most 500 "
                               "characters")
        if len(notice) > 2000 or len(service) > 200:
            raise ConsentError("notice は2000文字、service は200文字までです / notice has at "
                               "most 2000 characters, service 200")
        term = purpose_term(purpose)
        async with self._lock:
            for other in await self.list(tenant, subject=subject, recipient=recipient):
                if other["category"] == category and other["purpose"] == term \
                        and other["state"] in OPEN:
                    raise ConsentError(f"同じ同意がすでにあります / this consent exists already: "
                                       f"{other['id']}", 409)
            now = time.time()
            consent: dict[str, Any] = {
                "id": "cns_" + secrets.token_hex(10), "tenant": tenant, "subject": subject,
                "recipient": recipient, "recipientName": recipient_name, "service": service,
                "category": category, "purpose": term, "notice": notice, "until": until,
                "ifRefused": if_refused,
                "state": "REQUESTED", "version": 1, "requested": now, "updated": now,
                "records": []}
            return await self._save(consent, by=recipient, role="recipient", at=now)

    async def decide(self, tenant: str, consent_id: str, state: str, *, by: str,
                     role: str = "data subject", until: float | None = None,
                     as_recipient: bool = False) -> dict[str, Any]:
        """Move a consent to `state` (APPROVED, DECLINED, WITHDRAWN); the subject (or their
        representative) decides, the recipient may only withdraw its own open request."""
        if state not in ("APPROVED", "DECLINED", "WITHDRAWN"):
            raise ConsentError("state は APPROVED, DECLINED, WITHDRAWN のいずれかです / state "
                               "is APPROVED, DECLINED or WITHDRAWN")
        if until is not None and until <= time.time():
            raise ConsentError("until は未来の時刻です / until must be in the future")
        async with self._lock:
            consent = await self.store.kv_get(SPACE, _key(tenant, consent_id))
            if consent is None:
                raise ConsentError(f"同意 {consent_id} はありません / no consent {consent_id}", 404)
            consent = self._current(consent)
            who = MOVES.get((consent["state"], state))
            if who is None or who != ("recipient" if as_recipient else "subject"):
                raise ConsentError(f"{consent['state']} から {state} には変えられません / a "
                                   f"{consent['state']} consent cannot become {state}", 409)
            if state == "APPROVED":  # one grant per key: never two open consents for it
                for other in await self.list(tenant, subject=consent["subject"],
                                             recipient=consent["recipient"]):
                    if other["id"] != consent_id and other["state"] in OPEN and \
                            (other["category"], other["purpose"]) == (consent["category"],
                                                                      consent["purpose"]):
                        raise ConsentError(f"新しい同意 {other['id']} があります / a newer "
                                           f"consent is open: {other['id']}", 409)
            if until is not None:
                consent["until"] = until
            consent["state"] = state
            return await self._save(consent, by=by, role=role, at=time.time())

    async def expire(self, now: float | None = None) -> int:
        """Mark open consents whose validity ended EXPIRED (the grant ended already: the
        engine checks `until` itself); returns how many."""
        now = time.time() if now is None else now
        count = 0
        async with self._lock:
            for _, consent in await self.store.kv_list(SPACE):
                until = consent.get("until")
                if consent["state"] in OPEN and until is not None and until <= now:
                    consent["state"] = "EXPIRED"
                    await self._save(consent, by="system", role="system", at=now)
                    count += 1
        return count

    async def withdraw_all(self, tenant: str, subject: str, *, by: str, role: str) -> int:
        """Withdraw (or decline) every open consent of `subject` (erasure); how many."""
        count = 0
        for consent in await self.list(tenant, subject=subject):
            if consent["state"] in OPEN:
                target = "WITHDRAWN" if consent["state"] == "APPROVED" else "DECLINED"
                await self.decide(tenant, consent["id"], target, by=by, role=role)
                count += 1
        return count

    async def forget(self, tenant: str, subject: str) -> int:
        """Delete the subject's consent documents (erasure; records are shredded with the key)."""
        count = 0
        for consent in await self.list(tenant, subject=subject):
            count += await self.store.kv_delete(SPACE, _key(tenant, consent["id"]))
        return count

    async def _save(self, consent: dict[str, Any], *, by: str, role: str,
                    at: float) -> dict[str, Any]:
        """Grant or end the grant first, then the record, then the document."""
        tenant, subject = consent["tenant"], consent["subject"]
        grant = (tenant, subject, consent["recipient"], consent["category"], consent["purpose"])
        # the grant's state leaf (trust/state.py): what `cityos verify` checks the row against
        changed: list[bytes] = []
        if consent["state"] == "APPROVED":
            await self.store.put_grant(*grant, consent.get("until"))
            changed.append(grant_leaf(tenant, consent["recipient"], subject,
                                            consent["category"], consent["purpose"],
                                            consent.get("until"), granted=True))
        elif consent["records"]:  # not a new request: there may be a grant to end
            await self.store.drop_grant(*grant)
            changed.append(grant_leaf(tenant, consent["recipient"], subject,
                                            consent["category"], consent["purpose"], None,
                                            granted=False))
        previous = consent["records"][-1]["digest"] if consent["records"] else None
        consent["updated"] = at
        if consent["records"]:
            consent["version"] += 1
        record = sign(build_record(consent, at=at, by=by, role=role, previous=previous),
                      self.signer)
        sealed = await asyncio.to_thread(self.vault.seal, tenant, subject, orjson.dumps(record))
        seq = await self.store.append_log(RECORDS, [sealed], link,
                                          [[_key(tenant, consent["id"])]])
        ref: dict[str, Any] = {"seq": seq, "record": record["record_id"],
                               "digest": digest(record), "leaf": None}
        if self.tlog is not None:  # `seq` and `sealed`: the stored record, for `verify`
            leaf = orjson.dumps({"kind": "consent", "tenant": tenant, "consent": consent["id"],
                                 "record": record["record_id"], "digest": ref["digest"],
                                 "seq": seq, "sealed": hashlib.sha256(sealed).hexdigest(),
                                 "state": consent["state"]}, option=orjson.OPT_SORT_KEYS)
            ref["leaf"] = await self.tlog.append([leaf, *changed], keys=[
                [f"consent:{consent['id']}"], *(["state"] for _ in changed)])
        else:
            await append_state(self.store, changed)
        consent["records"] = [*consent["records"], ref]
        await self.store.kv_put(SPACE, _key(tenant, consent["id"]), consent)
        return consent
