"""Golden evidence bundles kept in the repository (tests/trust/fixtures, made by
make_bundles.py): the good one verifies with its pinned keys, each tampered one fails with the
code in its file name as the first problem — with this cityos and every later one."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from cityos.trust.evidence import verify_bundle

FIXTURES = Path(__file__).resolve().parent / "fixtures"
GOOD = orjson.loads((FIXTURES / "bundle.good.json").read_bytes())
BAD = sorted(p for p in FIXTURES.glob("bundle.*.json") if p.name != "bundle.good.json")


def test_the_good_bundle_verifies() -> None:
    assert verify_bundle(GOOD, GOOD["logKey"], GOOD["ca"].encode()) == []
    assert len(GOOD["records"]) == 2


def test_every_code_has_a_golden_bundle() -> None:
    codes = {p.name.split(".")[2] for p in BAD}
    assert codes >= {"RECORD_MODIFIED", "SEAL_SIGNATURE", "SEAL_CERTIFICATE_REVOKED",
                     "SEAL_CERTIFICATE_EXPIRED", "TST_SIGNATURE", "TST_UNTRUSTED_TSA",
                     "TREE_HEAD_SIGNATURE"}


@pytest.mark.parametrize("path", BAD, ids=[p.name.split(".")[1] for p in BAD])
def test_each_golden_tampering_is_named(path: Path) -> None:
    code = path.name.split(".")[2]
    problems = verify_bundle(orjson.loads(path.read_bytes()), GOOD["logKey"], GOOD["ca"].encode())
    assert problems and problems[0].code == code, "\n".join(map(str, problems))
