"""Verification of the whole transparency log, naming each failure by its own code.

Leaves are re-hashed (RFC 9162 §2.1.1) and their `prev` links followed, every signed tree head
is checked against the root recomputed from the leaves, its signature and its RFC 3161 token,
and every seal in a write record against its certificate — streaming, O(log n) memory.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from hashlib import sha256

import orjson
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cityos.audit.trail import LOG as AUDIT_LOG
from cityos.storage.base import LogEntry, Store
from cityos.trust.certs import ANCHORS, CertificateBook, load_pem
from cityos.trust.entities import EntityHistory, check_entities
from cityos.trust.log import LEAVES, TransparencyLog
from cityos.trust.merkle import Frontier
from cityos.trust.private import DIGEST
from cityos.trust.rows import check_rows
from cityos.trust.seal import SealError, parse_seal, verify_seal
from cityos.trust.sealing import certificate_status
from cityos.trust.state import History
from cityos.trust.treehead import SignedTreeHead, TreeHeadError, key_id, verify_head
from cityos.trust.tsa import TimeStampError, verify_token

# error codes, one per kind of tampering
LEAF_MODIFIED = "LEAF_MODIFIED"  # a leaf's bytes changed (or a leaf was replaced)
LEAF_REMOVED = "LEAF_REMOVED"  # a leaf is missing
LEAF_INSERTED = "LEAF_INSERTED"  # a leaf was put between two others
LEAF_REORDERED = "LEAF_REORDERED"  # leaves are out of order
LOG_TRUNCATED = "LOG_TRUNCATED"  # the log ends before a signed tree head's size
HEAD_SIGNATURE = "TREE_HEAD_SIGNATURE"  # a tree head not signed by the platform's log key
HEAD_FORK = "TREE_HEAD_FORK"  # a validly signed tree head the log does not lead to (a fork)
HEAD_ORDER = "TREE_HEAD_ORDER"  # tree heads that shrink
HEAD_MISMATCH = "TREE_HEAD_MISMATCH"  # leaves below a signed tree head changed (a consequence)
RECORD_MALFORMED = "RECORD_MALFORMED"  # a leaf that is not a record cityos writes
AUDIT_REWRITTEN = "AUDIT_REWRITTEN"  # the audit trail holds another record than the log names
AUDIT_DELETED = "AUDIT_DELETED"  # audit records the log took in are gone (later ones remain)
AUDIT_TRUNCATED = "AUDIT_TRUNCATED"  # the newest audit records the log took in are gone
GONE = ""  # what an AuditLookup answers for a record deleted from the trail (None: pruned)
GONE_TO_END = "-"  # … for a record gone with every one after it (the trail was truncated)
_WINDOW = 4096  # leaves looked back / ahead to tell a reordering from a removal

AuditLookup = Callable[[int], Awaitable[str | None]]
CertificateLookup = Callable[[str], Awaitable[tuple[dict[str, object], x509.Certificate] | None]]


@dataclass(frozen=True)
class Problem:
    code: str
    index: int  # leaf index (0-based) or tree size for tree heads
    detail: str

    def __str__(self) -> str:
        return f"{self.code} at {self.index}: {self.detail}"


@dataclass
class Summary:
    leaves: int = 0
    heads: int = 0
    stamped: int = 0
    seals: int = 0
    audit: int = 0  # audit leaves checked against the audit trail
    audit_last: int = 0  # the newest audit record the log took in
    signed: int = 0  # leaves under the newest valid signed tree head
    unlogged: int = 0  # audit records not yet taken into the log (after `audit_last`)
    withheld: int = 0  # seals over personal payloads kept sealed (their digest is in the leaf)
    rows: int = 0  # grants and accounts that match their signed history (trust/state.py)
    rows_unsigned: int = 0  # … whose last change no signed tree head covers yet
    rows_unrecorded: int = 0  # … with no history (no baseline recorded yet)
    tracker_unlogged: int = 0  # data-tracker entries after the last tracker head in the log
    entities: int = -1  # entities as their last write record left them (-1: not checked)
    entities_unsigned: int = 0  # … whose last write record no signed tree head covers yet
    entities_unrecorded: int = 0  # entities no write record gives a state of
    entities_purged: int = 0  # entities gone in a purge or erasure after their last write
    root: bytes = b""


def _classify(entry: LogEntry, last: LogEntry | None, recent: deque[str],
              ahead: list[LogEntry]) -> tuple[str, str] | None:
    """What is wrong with `entry`'s place after `last` (None when it links correctly)."""
    expected_seq = 1 if last is None else last.seq + 1
    expected_prev = None if last is None else last.hash
    if entry.seq == expected_seq and entry.prev == expected_prev:
        return None
    if last is not None and entry.prev == last.prev and entry.seq == expected_seq:
        return LEAF_INSERTED, "this leaf was inserted: the next one links past it"
    if entry.prev in recent or any(e.hash == entry.prev for e in ahead):
        return LEAF_REORDERED, "its predecessor is elsewhere in the log"
    if entry.seq > expected_seq:
        return LEAF_REMOVED, f"leaf {expected_seq - 1} is missing"
    return LEAF_MODIFIED, f"leaf {entry.seq - 2} was replaced (its successor names another)"


async def verify_log(pages: AsyncIterator[list[LogEntry]], heads: list[SignedTreeHead],
                     public: Ed25519PublicKey | Sequence[Ed25519PublicKey],
                     anchors: list[x509.Certificate],
                     certificate: CertificateLookup | None = None,
                     summary: Summary | None = None,
                     audit: AuditLookup | None = None,
                     history: History | None = None) -> list[Problem]:
    """Every problem of the log, in order; `pages` yields its entries in sequence order.
    `public` is the log's key, or every key it had (rotations): a head verifies against the
    one its key id names. `audit` gives the audit trail's hash of a record (None when pruned,
    `GONE` or `GONE_TO_END` when deleted), to check audit leaves; `history` takes in the
    state, consent and tracker leaves (trust/state.py)."""
    publics = [public] if isinstance(public, Ed25519PublicKey) else list(public)
    problems: list[Problem] = []
    gone: list[tuple[int, int, str]] = []  # (leaf index, audit seq, mark) of one run
    summary = summary if summary is not None else Summary()
    signed_size = 0
    for sth in heads:
        try:
            verify_head(sth, next((k for k in publics if key_id(sth.head.origin, k) == sth.key),
                                  publics[0]))
        except TreeHeadError as exc:
            problems.append(Problem(HEAD_SIGNATURE, sth.size, str(exc)))
            continue
        if sth.size < signed_size:
            problems.append(Problem(HEAD_ORDER, sth.size, f"comes after a head of {signed_size}"))
        signed_size = max(signed_size, sth.size)
        token = sth.extra.get("timeStampToken")
        if token is not None:
            try:
                verify_token(base64.b64decode(token), sth.head.body(), anchors)
                summary.stamped += 1
            except (TimeStampError, ValueError) as exc:
                problems.append(Problem(getattr(exc, "code", "TST_MALFORMED"), sth.size, str(exc)))
    valid_heads = sorted((h for h in heads if not any(
        p.code == HEAD_SIGNATURE and p.index == h.size for p in problems)), key=lambda h: h.size)
    due = deque(valid_heads)
    entity_states = None if history is None else history.entities
    if history is not None:
        history.signed = max((h.size for h in valid_heads), default=0)
    frontier = Frontier()
    last: LogEntry | None = None
    recent: deque[str] = deque(maxlen=_WINDOW)
    chain_ok = True
    buffered: list[LogEntry] = []
    source = pages.__aiter__()
    exhausted = False

    async def fill() -> None:
        nonlocal exhausted
        while not exhausted and len(buffered) < _WINDOW:
            try:
                buffered.extend(await source.__anext__())
            except StopAsyncIteration:
                exhausted = True

    while due and due[0].size == 0:  # heads of the empty tree
        sth = due.popleft()
        summary.heads += 1
        if sth.root != frontier.root():
            problems.append(Problem(HEAD_FORK, 0, "a signed head of the empty tree with a root"))
    await fill()
    index = 0
    next_size = due[0].size if due else -1
    expected_seq, expected_prev = 1, None
    append = frontier.append
    while buffered:
        page, buffered[:] = buffered[:], []
        await fill()
        for position, entry in enumerate(page):
            body = entry.body
            digest = sha256(b"\x00" + body).digest()  # leaf_hash, inline: this runs per leaf
            if digest.hex() != entry.hash:
                chain_ok = False
                problems.append(Problem(LEAF_MODIFIED, index, "the leaf does not match its hash"))
            if entry.seq != expected_seq or entry.prev != expected_prev:  # look around only now
                problem = _classify(entry, last, recent, page[position + 1:position + _WINDOW]
                                    + buffered[:_WINDOW])
                if problem is not None:
                    chain_ok = False
                    at = index - 1 if problem[0] == LEAF_INSERTED else index  # the intruder
                    problems.append(Problem(problem[0], at, problem[1]))
            expected_seq, expected_prev = entry.seq + 1, entry.hash
            if entity_states is not None and (b'"kind":"write"' in body
                                              or b'"of":"erasure"' in body):
                entity_states.add(index, body)
            if b'"seal":"' in body:
                await _check_seal(body, index, certificate, problems, summary)
            elif audit is not None and body.startswith(b'{"hash":"'):
                await _check_audit(body, index, audit, problems, summary, gone)
            elif history is not None and (b'"kind":"state"' in body or b'"kind":"consent"'
                                          in body or b'"kind":"tracker"' in body):
                history.add(index, body)
            append(digest)
            index += 1
            if index != next_size:
                recent.append(entry.hash)
                last = entry
                continue
            while due and due[0].size == frontier.size:
                sth = due.popleft()
                summary.heads += 1
                if sth.root != frontier.root():
                    problems.append(Problem(HEAD_FORK if chain_ok else HEAD_MISMATCH, sth.size,
                                            "the signed tree head's root is not the log's"
                                            if chain_ok else "the leaves below this signed "
                                            "tree head changed"))
            next_size = due[0].size if due else -1
            recent.append(entry.hash)
            last = entry
    _gone_run(gone, problems)
    summary.signed = max((h.size for h in valid_heads), default=0)
    for sth in due:
        problems.append(Problem(LOG_TRUNCATED, sth.size, f"the log has {frontier.size} leaves "
                                f"but a tree head of {sth.size} was signed"))
    summary.leaves, summary.root = frontier.size, frontier.root()
    return _renamed_removals(problems)


def _renamed_removals(problems: list[Problem]) -> list[Problem]:
    """A leaf taken out with the rest renumbered shows as a replaced leaf plus a log shorter
    than its tree heads: name it a removal."""
    if not any(p.code == LOG_TRUNCATED for p in problems):
        return problems
    out = []
    for p in problems:
        if p.code == LEAF_MODIFIED and "replaced" in p.detail:
            out.append(Problem(LEAF_REMOVED, p.index, "the leaf before it is missing"))
        elif p.code == LOG_TRUNCATED and any(q.code == LEAF_MODIFIED and "replaced" in q.detail
                                             for q in problems):
            continue
        else:
            out.append(p)
    return out


def _gone_run(gone: list[tuple[int, int, str]], problems: list[Problem]) -> None:
    """One problem for a run of audit records gone from the trail, naming the first."""
    if not gone:
        return
    index, first, _ = gone[0]
    truncated = gone[-1][2] == GONE_TO_END
    more = f" (and {len(gone) - 1} after it, through {gone[-1][1]})" if len(gone) > 1 else ""
    problems.append(Problem(
        AUDIT_TRUNCATED if truncated else AUDIT_DELETED, index,
        f"audit record {first}{more} is gone from the audit trail, though the transparency "
        "log took it in" + (": the trail was truncated" if truncated else "")))
    gone.clear()


async def _check_audit(body: bytes, index: int, audit: AuditLookup, problems: list[Problem],
                       summary: Summary, gone: list[tuple[int, int, str]]) -> None:
    try:
        record = orjson.loads(body)
        seq, expected = int(record["seq"]), str(record["hash"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        problems.append(Problem(RECORD_MALFORMED, index, "an audit leaf without seq and hash"))
        return
    summary.audit_last = max(summary.audit_last, seq)
    found = await audit(seq)
    if found in (GONE, GONE_TO_END):
        if gone and gone[-1][1] != seq - 1:
            _gone_run(gone, problems)
        gone.append((index, seq, str(found)))
        return
    _gone_run(gone, problems)
    if found is None:
        return  # pruned by retention (the audit chain's checkpoint covers it)
    if found != expected:
        problems.append(Problem(AUDIT_REWRITTEN, index, f"audit record {seq} is not the one the "
                                "log took in: the audit trail was rewritten"))
    else:
        summary.audit += 1


async def _check_seal(body: bytes, index: int, certificate: CertificateLookup | None,
                      problems: list[Problem], summary: Summary) -> None:
    try:
        record = orjson.loads(body)
    except orjson.JSONDecodeError:
        problems.append(Problem(RECORD_MALFORMED, index, "the leaf is not JSON"))
        return
    if not isinstance(record, dict) or "seal" not in record or certificate is None:
        return
    if "payload" not in record and DIGEST in record:  # a personal write: the payload is sealed
        summary.withheld += 1
        return
    code, detail = check_record_seal(record, await certificate(str(record.get("certificate"))))
    if code:
        problems.append(Problem(code, index, detail))
    else:
        summary.seals += 1


def check_record_seal(record: dict[str, object],
                      found: tuple[dict[str, object], x509.Certificate] | None) -> tuple[str, str]:
    """("", "") when the record's seal verifies with a certificate valid when it was written."""
    if found is None:
        return "SEAL_UNKNOWN_CERTIFICATE", f"no certificate {str(record.get('certificate'))[:40]}"
    info, cert = found
    try:
        seal = parse_seal(str(record["seal"]))
        verify_seal(seal, str(record["payload"]).encode("utf-8"), cert)
    except SealError as exc:
        return exc.code, exc.detail
    except KeyError:
        return RECORD_MALFORMED, "a sealed record without its payload"
    at = dt.datetime.fromtimestamp(int(str(record.get("at", 0))) / 1000, dt.UTC)
    status = certificate_status(info, cert, at)
    if status != "valid":
        return (f"SEAL_CERTIFICATE_{status.upper().replace('-', '_')}",
                f"the certificate was {status} when the record was written")
    return "", ""


async def store_pages(store: Store, log: str = LEAVES, page: int = 10_000
                      ) -> AsyncIterator[list[LogEntry]]:
    """The entries of a store log, a page at a time."""
    after = 0
    while True:
        entries = await store.read_log(log, after=after, limit=page)
        if not entries:
            return
        yield entries
        after = entries[-1].seq


async def all_heads(tlog: TransparencyLog) -> list[SignedTreeHead]:
    heads: list[SignedTreeHead] = []
    while True:
        page = await tlog.heads(after=len(heads), limit=1000)
        heads += page
        if len(page) < 1000:
            return heads


async def verify_store(store: Store, tlog: TransparencyLog, certs: CertificateBook,
                       public: Ed25519PublicKey | None = None,
                       ca: x509.Certificate | None = None,
                       log_keys: Sequence[Ed25519PublicKey] = (), entities: bool = False
                       ) -> tuple[list[Problem], Summary]:
    """Verify a platform's log from its store; `public` and `ca` pin the log key and the CA
    (by default the ones in the key store: `log_keys`, every key the log had, and the CA's
    certificates); with `entities`, every stored entity against its last write record too."""
    anchors = ([ca] if ca else certs.ca_certificates()) + [
        load_pem(doc["pem"]) for _, doc in await store.kv_list(ANCHORS)]
    table: dict[str, tuple[dict[str, object], x509.Certificate]] = {}
    for record in await certs.list():
        table[str(record["serial"])] = (record, load_pem(str(record["certificate"])))

    async def lookup(serial: str) -> tuple[dict[str, object], x509.Certificate] | None:
        return table.get(serial)

    summary = Summary()
    checkpoint = await store.log_checkpoint(AUDIT_LOG)
    hashes = AuditHashes(store, pruned=0 if checkpoint is None else checkpoint.seq)
    history = History(entities=EntityHistory() if entities else None)
    problems = await verify_log(store_pages(store), await all_heads(tlog),
                                public or log_keys or [tlog.key.public_key()], anchors, lookup,
                                summary, hashes.get, history)
    outcome, summary.tracker_unlogged = await check_rows(store, history)
    problems += [Problem(f.code, max(f.index, 0), f.detail) for f in outcome.findings]
    summary.rows, summary.rows_unsigned = outcome.checked, outcome.unsigned
    summary.rows_unrecorded = outcome.unrecorded
    if history.entities is not None:
        found = await check_entities(store, history.entities, history.signed)
        problems += [Problem(code, index, detail) for code, index, detail in found.findings]
        summary.entities, summary.entities_unsigned = found.checked, found.unsigned
        summary.entities_unrecorded = found.unrecorded
        summary.entities_purged = found.bulk_deleted
    after = summary.audit_last
    while page := await store.read_log_hashes(AUDIT_LOG, after=after, limit=10_000):
        summary.unlogged += len(page)
        after = page[-1][0]
    return problems, summary


class AuditHashes:
    """The audit trail's entry hashes by sequence number, read a page ahead (audit leaves come
    in sequence order)."""

    def __init__(self, store: Store, page: int = 10_000, pruned: int = 0) -> None:
        self.store = store
        self.page = page
        self.pruned = pruned  # records through this seq were pruned by retention
        self._hashes: dict[int, str] = {}
        self._upto = -1  # pages were read for every seq below this
        self._empty = False  # the last page read was empty: no record from there on

    async def get(self, seq: int) -> str | None:
        """The record's chain hash; None when pruned; `GONE` when it is missing (deleted),
        `GONE_TO_END` when every record from it on is missing (truncated)."""
        if seq not in self._hashes and not self._upto > seq:
            entries = await self.store.read_log_hashes(AUDIT_LOG, after=seq - 1, limit=self.page)
            self._hashes = dict(entries)
            self._empty = not entries
            self._upto = entries[-1][0] + 1 if entries else 1 << 62  # nothing after seq
        found = self._hashes.get(seq)
        if found is not None or seq <= self.pruned:
            return found
        return GONE_TO_END if self._empty else GONE  # a page holds a later record, or none
