"""Security-relevant state checked against its signed history (issue #19, part 5).

A grant (an APPROVED consent as the storage's `grants` row) and an account's security fields
(an organisation's tenant, client id, grants, secrets, disabled; a staff member's roles,
tenant, password, disabled) change only through code that also appends a *state leaf* to the
transparency log: `{"kind": "state", "of": "grant"|"account", "key", "digest"}`, the digest of
the row as it stands after the change (null: gone). `cityos verify` replays the leaves and
compares the live rows (`check`): a row no leaf explains was inserted or edited behind the
platform's back. Grant keys are digests (no resident id in clear in the log); account keys
name the account (`org:NAME`, `staff:NAME`).

Rows made before this existed have no leaf: the first start after the upgrade records a
*baseline* (one leaf per account and grant, then a `baseline` leaf), once.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from cityos.storage.base import Store
from cityos.trust.entities import EntityHistory
from cityos.trust.log import LEAVES, chain

KIND = "state"
GRANT = "grant"
ACCOUNT = "account"
BASELINE = "baseline"
ORGS = "access.orgs"  # as access/accounts.py (not imported: it imports this module)
STAFF = "access.staff"
_DONE = ("trust.state", "baseline")  # kv: the baseline was recorded

# error codes of `cityos verify`
GRANT_FORGED = "GRANT_FORGED"  # a grant no consent gave (inserted, or widened to another key)
GRANT_MODIFIED = "GRANT_MODIFIED"  # a consent's grant with another end (`until`)
GRANT_DELETED = "GRANT_DELETED"  # an approved consent's grant is gone
ACCOUNT_FORGED = "ACCOUNT_FORGED"  # an account the platform never made
ACCOUNT_MODIFIED = "ACCOUNT_MODIFIED"  # an account's roles, grants, secrets … edited
ACCOUNT_DELETED = "ACCOUNT_DELETED"  # an account the platform made is gone
STATE_REBASELINED = "STATE_REBASELINED"  # a second baseline: history was started over


def digest(doc: dict[str, Any] | None) -> str | None:
    if doc is None:
        return None
    return hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()


def grant_key(tenant: str, recipient: str, subject: str, category: str, purpose: str) -> str:
    return hashlib.sha256("\x1f".join((tenant, recipient, subject, category, purpose))
                          .encode("utf-8")).hexdigest()


def grant_digest(tenant: str, recipient: str, subject: str, category: str, purpose: str,
                 until: float | None) -> str | None:
    return digest({"tenant": tenant, "recipient": recipient, "subject": subject,
                   "category": category, "purpose": purpose, "until": until})


def org_fields(org: dict[str, Any]) -> dict[str, Any]:
    """What of an organisation decides what it may do (not its sign-in counters)."""
    return {"name": org.get("name"), "tenant": org.get("tenant"),
            "client_id": org.get("client_id"), "disabled": bool(org.get("disabled")),
            "grants": org.get("grants"), "corporate_number": org.get("corporate_number"),
            "secrets": [[s.get("hash"), s.get("expires")] for s in org.get("secrets", [])]}


def staff_fields(member: dict[str, Any]) -> dict[str, Any]:
    return {"username": member.get("username"), "roles": member.get("roles"),
            "tenant": member.get("tenant"), "password": member.get("password"),
            "disabled": bool(member.get("disabled")), "first_admin": member.get("first_admin")}


def leaf(of: str, key: str, value: str | None) -> bytes:
    """`at` (ms) keeps two equal changes (disable, enable, disable) from being equal leaves."""
    return orjson.dumps({"kind": KIND, "of": of, "key": key, "digest": value,
                         "at": time.time_ns() // 1_000_000}, option=orjson.OPT_SORT_KEYS)


def grant_leaf(tenant: str, recipient: str, subject: str, category: str, purpose: str,
               until: float | None, *, granted: bool) -> bytes:
    return leaf(GRANT, grant_key(tenant, recipient, subject, category, purpose),
                grant_digest(tenant, recipient, subject, category, purpose, until)
                if granted else None)


def org_leaf(org: dict[str, Any]) -> bytes:
    return leaf(ACCOUNT, f"org:{org['name']}", digest(org_fields(org)))


def staff_leaf(member: dict[str, Any]) -> bytes:
    return leaf(ACCOUNT, f"staff:{member['username']}", digest(staff_fields(member)))


async def append(store: Store, leaves: Iterable[bytes]) -> None:
    """Append state leaves to the transparency log (a process's TransparencyLog reads them in
    on its next append or checkpoint, as another process's)."""
    bodies = list(leaves)
    if bodies:
        await store.append_log(LEAVES, bodies, chain, [["state"] for _ in bodies])


async def grant_rows(store: Store) -> list[tuple[str, str, str, str, str, float | None]]:
    if hasattr(store, "pool"):
        from cityos.storage.postgres.scan import grant_rows as rows_pg

        return await rows_pg(store)  # type: ignore[arg-type]
    from cityos.storage.sqlite.scan import grant_rows as rows_lite

    return await rows_lite(store)  # type: ignore[arg-type]


async def record_baseline(store: Store) -> bool:
    """Once (on the first start after the upgrade): a leaf for every account and grant as it
    stands, then a `baseline` leaf. True when recorded now."""
    if await store.kv_get(*_DONE) is not None:
        return False
    leaves = [org_leaf(org) for _, org in await store.kv_list(ORGS)]
    leaves += [staff_leaf(member) for _, member in await store.kv_list(STAFF)]
    leaves += [grant_leaf(*row[:5], row[5], granted=True) for row in await grant_rows(store)]
    await append(store, [*leaves, orjson.dumps({"kind": KIND, "of": BASELINE,
                                                "rows": len(leaves), "at": time.time()})])
    await store.kv_put(*_DONE, {"rows": len(leaves)})
    return True


@dataclass
class History:
    """The state leaves of the log, replayed (`add` is called for each, in order); `signed`
    is the size of the newest valid signed tree head."""

    signed: int = 0
    latest: dict[tuple[str, str], tuple[int, str | None]] = field(default_factory=dict)
    baselines: list[int] = field(default_factory=list)
    # consent leaves: (tenant, consent id) -> (leaf, record id, state) of the latest; and
    # store-log seq of each record -> (leaf, SHA-256 of the sealed record)
    consents: dict[tuple[str, str], tuple[int, str, str | None]] = field(default_factory=dict)
    records: dict[int, tuple[int, str]] = field(default_factory=dict)
    tracker: dict[int, tuple[int, str]] = field(default_factory=dict)  # seq -> (leaf, hash)
    entities: EntityHistory | None = None  # `verify --entities`: the write records' states

    def add(self, index: int, body: bytes) -> bool:
        """Take a leaf in; False when it is not a state, consent or tracker leaf."""
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            return False
        if not isinstance(doc, dict):
            return False
        if doc.get("kind") == "consent":
            state = doc.get("state")
            self.consents[(str(doc.get("tenant")), str(doc.get("consent")))] = (
                index, str(doc.get("record")), None if state is None else str(state))
            if "seq" in doc and "sealed" in doc:  # leaves before part 5 have neither
                self.records[int(doc["seq"])] = (index, str(doc["sealed"]))
            return True
        if doc.get("kind") == "tracker":
            self.tracker[int(doc["seq"])] = (index, str(doc["head"]))
            return True
        if doc.get("kind") != KIND:
            return False
        if doc.get("of") == BASELINE:
            self.baselines.append(index)
            return True
        key = (str(doc.get("of")), str(doc.get("key")))
        value = doc.get("digest")
        value = None if value is None else str(value)
        self.latest[key] = (index, value)
        return True


@dataclass(frozen=True)
class Finding:
    code: str
    index: int  # the leaf of the latest record of the row (-1: none)
    detail: str


@dataclass
class Outcome:
    findings: list[Finding] = field(default_factory=list)
    checked: int = 0  # rows that match their signed history
    unsigned: int = 0  # rows whose last change is in leaves no tree head signed yet
    unrecorded: int = 0  # rows without history and no baseline yet (an old platform)


def _judge(history: History, of: str, key: str, value: str | None, outcome: Outcome,
           codes: tuple[str, str, str], name: str) -> None:
    """Compare one live row (`value` None: absent) with its history."""
    forged, modified, deleted = codes
    index, latest = history.latest.get((of, key), (-1, None))
    if index >= 0 and value == latest:
        if index >= history.signed:  # no signed tree head covers the record yet: counted
            outcome.unsigned += 1
        else:
            outcome.checked += 1
        return
    if index < 0 and not history.baselines:
        outcome.unrecorded += 1
        return
    if value is None:
        outcome.findings.append(Finding(deleted, index, f"{name} is gone, though the log's "
                                        "last record of it keeps it"))
    elif index < 0 or latest is None:
        outcome.findings.append(Finding(forged, index, f"{name} was never made by the "
                                        "platform: no record in the log"))
    else:
        outcome.findings.append(Finding(modified, index, f"{name} is not as the log's last "
                                        "record of it says: it was edited in the database"))


async def check(store: Store, history: History) -> Outcome:
    """Compare the live grants and accounts with `history`."""
    outcome = Outcome()
    if len(history.baselines) > 1:
        outcome.findings.append(Finding(STATE_REBASELINED, history.baselines[1],
                                        "a second baseline: the record of accounts and grants "
                                        "was started over"))
    seen: set[tuple[str, str]] = set()
    for tenant, recipient, subject, category, purpose, until in await grant_rows(store):
        key = grant_key(tenant, recipient, subject, category, purpose)
        seen.add((GRANT, key))
        _judge(history, GRANT, key, grant_digest(tenant, recipient, subject, category, purpose,
                                                 until), outcome,
               (GRANT_FORGED, GRANT_MODIFIED, GRANT_DELETED),
               f"the grant to {recipient} of {category} for {purpose} (tenant {tenant!r})")
    accounts = [(f"org:{k}", digest(org_fields(v))) for k, v in await store.kv_list(ORGS)]
    accounts += [(f"staff:{k}", digest(staff_fields(v))) for k, v in await store.kv_list(STAFF)]
    for key, value in accounts:
        seen.add((ACCOUNT, key))
        _judge(history, ACCOUNT, key, value, outcome,
               (ACCOUNT_FORGED, ACCOUNT_MODIFIED, ACCOUNT_DELETED), f"account {key}")
    for (of, key), (_, latest) in history.latest.items():
        if (of, key) in seen or latest is None or of not in (GRANT, ACCOUNT):
            continue
        if of == GRANT:
            _judge(history, of, key, None, outcome, (GRANT_FORGED, GRANT_MODIFIED,
                                                     GRANT_DELETED),
                   f"a grant (key {key[:16]}…) of an approved consent")
        else:
            _judge(history, of, key, None, outcome, (ACCOUNT_FORGED, ACCOUNT_MODIFIED,
                                                     ACCOUNT_DELETED), f"account {key}")
    return outcome
