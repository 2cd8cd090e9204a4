"""The hash chain against golden fixtures: each kind of tampering has its own error code."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from cityos.audit.chain import (
    DELETED,
    EDITED,
    MALFORMED,
    REORDERED,
    TRUNCATED,
    Entry,
    canonical,
    from_lines,
    link,
    read_export,
    to_line,
    verify,
)

FIXTURES = Path(__file__).parent / "fixtures"


def _check(name: str) -> list[str]:
    entries, problems, start = read_export((FIXTURES / name).read_bytes().splitlines())
    return [p.code for p in problems + verify(entries, start=start)]


def test_intact_fixture_verifies() -> None:
    assert _check("intact.jsonl") == []


def test_a_pruned_trail_verifies_from_its_checkpoint() -> None:
    """pruned.jsonl is intact.jsonl after retention removed seq 1–2 behind a checkpoint."""
    assert _check("pruned.jsonl") == []
    entries, _ = from_lines((FIXTURES / "pruned.jsonl").read_bytes().splitlines())
    assert [p.code for p in verify(entries)] == [DELETED]  # without its checkpoint: a gap


@pytest.mark.parametrize(("name", "code"), [
    ("edited.jsonl", EDITED), ("deleted.jsonl", DELETED),
    ("deleted_renumbered.jsonl", DELETED), ("reordered.jsonl", REORDERED),
    ("reordered_renumbered.jsonl", REORDERED), ("malformed.jsonl", MALFORMED),
    ("pruned_deleted.jsonl", DELETED), ("pruned_wrong_checkpoint.jsonl", DELETED)])
def test_each_kind_of_tampering_has_its_code(name: str, code: str) -> None:
    codes = _check(name)
    assert codes and codes[0] == code


def _chain(n: int) -> list[Entry]:
    entries: list[Entry] = []
    prev = None
    for seq in range(1, n + 1):
        body = canonical({"seq": seq, "who": f"staff:u{seq % 3}", "status": 200})
        entries.append(Entry(seq, body, prev, link(prev, body)))
        prev = entries[-1].hash
    return entries


def test_truncation_needs_the_anchored_head() -> None:
    entries = _chain(6)
    head = (6, entries[-1].hash)
    assert verify(entries, head) == []
    assert [p.code for p in verify(entries[:-2], head)] == [TRUNCATED]
    assert verify(entries[:-2]) == []  # without an anchor a cut tail cannot be seen


def test_random_tampering_is_always_detected() -> None:
    rng = random.Random(5)
    for _ in range(300):
        entries = _chain(rng.randint(2, 12))
        head = (entries[-1].seq, entries[-1].hash)
        kind = rng.choice(["edit", "delete", "swap"])
        i = rng.randrange(len(entries))
        if kind == "edit":
            e = entries[i]
            entries[i] = Entry(e.seq, e.body.replace(b"200", b"500"), e.prev, e.hash)
        elif kind == "delete":
            del entries[i]
        else:
            j = rng.randrange(len(entries))
            if i == j:
                continue
            entries[i], entries[j] = entries[j], entries[i]
        assert verify(entries, head), (kind, i)


def test_export_lines_round_trip() -> None:
    entries = _chain(3)
    parsed, problems = from_lines(b"".join(to_line(e) for e in entries).splitlines())
    assert parsed == entries and problems == []
