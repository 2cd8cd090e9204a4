"""`cityos verify` beyond the two logs (issue #19, part 5): the live grants and accounts
against their state leaves (trust/state.py), the stored consent records against the consent
leaves, and the data tracker's hash chain against the tracker heads the log took in."""

from __future__ import annotations

from hashlib import sha256

from cityos.audit.chain import link
from cityos.storage.base import Store
from cityos.trust.feed import TRACKER_LOG
from cityos.trust.state import Finding, History, Outcome, check

CONSENT_MODIFIED = "CONSENT_MODIFIED"  # a consent record (or document) is not the one logged
TRACKER_MODIFIED = "TRACKER_MODIFIED"  # a data-tracker entry was edited (or its chain redone)
TRACKER_DELETED = "TRACKER_DELETED"  # data-tracker entries are gone
CONSENT_RECORDS = "personal.consent-records"  # as personal/consents.py's RECORDS
CONSENTS = "personal.consents"  # as personal/consents.py's SPACE
_PAGE = 10_000


async def check_rows(store: Store, history: History) -> tuple[Outcome, int]:
    """Every finding, and how many tracker entries no tracker head in the log covers yet."""
    outcome = await check(store, history)
    await _consents(store, history, outcome)
    unlogged = await _tracker(store, history, outcome)
    return outcome, unlogged


async def _consents(store: Store, history: History, outcome: Outcome) -> None:
    expected = dict(history.records)
    after = 0
    while page := await store.read_log(CONSENT_RECORDS, after=after, limit=_PAGE):
        for entry in page:
            found = expected.pop(entry.seq, None)
            if found is not None and sha256(entry.body).hexdigest() != found[1]:
                outcome.findings.append(Finding(CONSENT_MODIFIED, found[0], f"consent record "
                                                f"{entry.seq} is not the one the log took in"))
        after = page[-1].seq
    for seq, (index, _) in sorted(expected.items()):
        outcome.findings.append(Finding(CONSENT_MODIFIED, index, f"consent record {seq} is "
                                        "gone, though the log took it in"))
    for key, consent in await store.kv_list(CONSENTS):
        tenant, _, consent_id = key.partition("\x1f")
        logged = history.consents.get((tenant, consent_id))
        records = consent.get("records") or [{}]
        if logged is None:
            if records[-1].get("leaf") is not None:  # it claims a leaf the log does not have
                outcome.findings.append(Finding(CONSENT_MODIFIED, 0, f"consent {consent_id} "
                                                "names a leaf that is not in the log"))
            continue
        index, record, state = logged
        if records[-1].get("record") != record or (state is not None
                                                    and consent.get("state") != state):
            outcome.findings.append(Finding(CONSENT_MODIFIED, index, f"consent {consent_id} "
                                            "is not as its last logged record says"))


async def _tracker(store: Store, history: History, outcome: Outcome) -> int:
    heads = dict(history.tracker)
    last_seq, last_hash = 0, None
    after = 0
    found: list[Finding] = []
    while page := await store.read_log(TRACKER_LOG, after=after, limit=_PAGE):
        for entry in page:
            head = heads.pop(entry.seq, (0, entry.hash))
            if link(entry.prev, entry.body) != entry.hash:
                found.append(Finding(TRACKER_MODIFIED, head[0], f"data-tracker entry "
                                     f"{entry.seq} does not match its hash"))
            elif head[1] != entry.hash:
                found.append(Finding(TRACKER_MODIFIED, head[0], f"data-tracker entry "
                                     f"{entry.seq} is not the one the log took in: the "
                                     "tracker was rewritten"))
            if entry.seq != last_seq + 1:
                found.append(Finding(TRACKER_DELETED, head[0], f"data-tracker entries "
                                     f"{last_seq + 1}…{entry.seq - 1} are gone"))
            elif entry.prev != last_hash:
                found.append(Finding(TRACKER_DELETED, head[0], f"the data-tracker entry "
                                     f"before {entry.seq} is gone (the rest renumbered)"))
            last_seq, last_hash = entry.seq, entry.hash
        after = page[-1].seq
    for seq, (index, _) in sorted(heads.items()):
        if seq > last_seq:
            found.append(Finding(TRACKER_DELETED, index, f"the data tracker ends at entry "
                                 f"{last_seq}, though the log took in entry {seq}"))
            break
    outcome.findings += found[:20]
    return max(0, last_seq - max(history.tracker, default=0))
