"""The hash chain of the audit trail and its verification, with one error code per tampering.

Each entry's hash is SHA-256(previous hash ‖ LF ‖ canonical JSON of the record) — the links
that the trust issue's RFC 9162 transparency log will later take as leaves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

GENESIS = "0" * 64

# error codes of `cityos verify`, one per kind of tampering
EDITED = "AUDIT_EDITED"  # a record no longer matches its hash
DELETED = "AUDIT_DELETED"  # a record is missing (a gap, or a link to a record that is gone)
REORDERED = "AUDIT_REORDERED"  # records are out of order
TRUNCATED = "AUDIT_TRUNCATED"  # the newest records are gone (the log ends before its head)
MALFORMED = "AUDIT_MALFORMED"  # an exported line is not an audit record


def canonical(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)


def link(prev: str | None, body: bytes) -> str:
    """The hash of an entry after `prev` (None for the first entry)."""
    return hashlib.sha256((prev or GENESIS).encode("ascii") + b"\n" + body).hexdigest()


@dataclass(frozen=True)
class Entry:
    seq: int
    body: bytes
    prev: str | None
    hash: str


@dataclass(frozen=True)
class Problem:
    code: str
    seq: int
    detail: str

    def __str__(self) -> str:
        return f"{self.code} at seq {self.seq}: {self.detail}"


def verify(entries: Iterable[Entry], head: tuple[int, str] | None = None,
           start: tuple[int, str] | None = None) -> list[Problem]:
    """Every problem of the chain, in order (empty when it is intact).

    `head` is the (sequence number, hash) last anchored outside the log: a log ending before
    it lost its newest records. `start` is the checkpoint of a pruned log (the seq and hash of
    its last pruned record): the chain then verifies from there."""
    items = list(entries)
    known = {e.hash for e in items}
    seqs = {e.seq for e in items}
    problems: list[Problem] = []
    last_seq, last_hash = (0, None) if start is None else start
    for entry in items:
        if link(entry.prev, entry.body) != entry.hash:
            problems.append(Problem(EDITED, entry.seq, "the record does not match its hash"))
        if entry.seq <= last_seq:
            problems.append(Problem(REORDERED, entry.seq, f"comes after seq {last_seq}"))
        elif entry.seq > last_seq + 1:
            missing = range(last_seq + 1, entry.seq)
            if any(seq in seqs for seq in missing):
                problems.append(Problem(REORDERED, entry.seq, f"comes before seq {missing[0]}"))
            else:
                problems.append(Problem(DELETED, entry.seq, f"seq {missing[0]}"
                                        + (f"…{missing[-1]}" if len(missing) > 1 else "")
                                        + " missing"))
        elif entry.prev != last_hash:
            if entry.prev in known:
                problems.append(Problem(REORDERED, entry.seq, "its predecessor is elsewhere"))
            else:
                problems.append(Problem(DELETED, entry.seq, "its predecessor is gone"))
        last_seq, last_hash = max(last_seq, entry.seq), entry.hash
    if head is not None and (last_seq < head[0] or (last_seq == head[0]
                                                    and last_hash != head[1])):
        problems.append(Problem(TRUNCATED, last_seq + 1, f"the log ends before seq {head[0]}"))
    return problems


def to_line(entry: Entry) -> bytes:
    """One JSON Lines line of an export: the record with its chain fields."""
    return orjson.dumps({"seq": entry.seq, "prev": entry.prev, "hash": entry.hash,
                         "record": orjson.Fragment(entry.body)}) + b"\n"


def checkpoint_line(checkpoint: Entry) -> bytes:
    """The first line of an export of a pruned log: where its chain starts."""
    return orjson.dumps({"checkpoint": {"seq": checkpoint.seq, "hash": checkpoint.hash,
                                        "note": orjson.Fragment(checkpoint.body)}}) + b"\n"


def read_export(lines: Iterable[bytes]
                ) -> tuple[list[Entry], list[Problem], tuple[int, str] | None]:
    """Entries of a JSON Lines export, problems with lines that are not entries, and the
    checkpoint (seq, hash) the chain starts from when the log was pruned."""
    entries: list[Entry] = []
    problems: list[Problem] = []
    start: tuple[int, str] | None = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = orjson.loads(line)
            if number == 1 and isinstance(data, dict) and "checkpoint" in data:
                start = (int(data["checkpoint"]["seq"]), str(data["checkpoint"]["hash"]))
                continue
            entries.append(Entry(int(data["seq"]), canonical(data["record"]), data["prev"],
                                 str(data["hash"])))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            problems.append(Problem(MALFORMED, 0, f"line {number} is not an audit record"))
    return entries, problems, start


def from_lines(lines: Iterable[bytes]) -> tuple[list[Entry], list[Problem]]:
    """Entries of a JSON Lines export (and problems with lines that are not entries)."""
    entries, problems, _ = read_export(lines)
    return entries, problems
