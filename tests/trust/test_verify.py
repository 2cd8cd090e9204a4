"""`cityos verify` over the transparency log: golden negative cases, each tampering named by
its own code as the first problem (and an intact log verifies)."""

from __future__ import annotations

import asyncio
import base64
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cityos.keystore import KeyStore
from cityos.settings import load_settings
from cityos.storage import open_store
from cityos.trust.ca import CertificateAuthority
from cityos.trust.merkle import leaf_hash
from cityos.trust.seal import HEADER, canonical_json, make_seal
from cityos.trust.service import Trust
from cityos.trust.treehead import SignedTreeHead, TreeHead, sign_head
from cityos.trust.tsa import BuiltInTsa, make_tsa_certificate
from cityos.trust.verify import Problem, Summary, verify_store
from conftest import CITYOS, database_environ, sqlite_only

from .platforms import certificate_for, checkpoint, secured_with


def _entity(n: int) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:Shelter:{n}", "type": "Shelter",
            "capacity": {"type": "Property", "value": 100 + n}}


@pytest.fixture(scope="module")
def template(prepared: tuple[Path, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
             ) -> Path:
    """A platform whose log holds audit leaves, sealed and unsealed write records, and
    two time-stamped tree heads."""
    data = tmp_path_factory.mktemp("trust-template") / "var"
    with secured_with(prepared, data) as platform:
        key = ec.generate_private_key(ec.SECP256R1())
        cert, _ = certificate_for(platform, "Writer", key)
        headers = {**platform.auth("Writer"), "Content-Type": "application/json"}
        for n in range(1, 4):
            body = orjson.dumps(_entity(n))
            seal = make_seal(canonical_json(_entity(n)), key, cert)
            assert platform.client.post("/ngsi-ld/v1/entities", content=body,
                                        headers={**headers, HEADER: seal}).status_code == 201
        checkpoint(platform)
        for n in range(4, 8):
            assert platform.client.post("/ngsi-ld/v1/entities", content=orjson.dumps(
                _entity(n)), headers=headers).status_code == 201
        checkpoint(platform)
    return data


def _verify(data: Path) -> tuple[list[Problem], Summary]:
    settings = load_settings(data, environ=database_environ(data))

    async def main() -> tuple[list[Problem], Summary]:
        store = open_store(settings.database_url)
        await store.open()
        try:
            trust = await Trust.open(store, settings.trust, settings.public_url,
                                     KeyStore.at(settings.data_dir))
            return await verify_store(store, trust.log, trust.certs, log_keys=trust.public_keys())
        finally:
            await store.close()

    return asyncio.run(main())


def _db(data: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(data / "cityos.db", isolation_level=None)
    conn.execute("DROP TRIGGER IF EXISTS logs_no_update")  # what a tamperer does first
    conn.execute("DROP TRIGGER IF EXISTS logs_no_delete")
    return conn


def _rows(conn: sqlite3.Connection, log: str = "trust") -> list[tuple[int, bytes, str, str]]:
    return conn.execute("SELECT seq, body, prev, hash FROM logs WHERE log = ? ORDER BY seq",
                        (log,)).fetchall()


def _first_write(conn: sqlite3.Connection, sealed: bool = True) -> tuple[int, dict[str, Any]]:
    for seq, body, _prev, _hash in _rows(conn):
        doc = orjson.loads(body)
        if doc.get("kind") == "write" and ("seal" in doc) == sealed:
            return seq, doc
    raise AssertionError("no write record")


def _rewrite(conn: sqlite3.Connection, seq: int, doc: dict[str, Any]) -> None:
    """Replace a leaf and re-link the log after it, as a careful tamperer would."""
    body = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
    new = leaf_hash(body).hex()
    conn.execute("UPDATE logs SET body = ?, hash = ? WHERE log = 'trust' AND seq = ?",
                 (body, new, seq))
    conn.execute("UPDATE logs SET prev = ? WHERE log = 'trust' AND seq = ?", (new, seq + 1))


def modified_record(conn: sqlite3.Connection) -> None:
    seq, doc = _first_write(conn, sealed=False)
    doc["org"] = "ShelterCo"
    conn.execute("UPDATE logs SET body = ? WHERE log = 'trust' AND seq = ?",
                 (orjson.dumps(doc, option=orjson.OPT_SORT_KEYS), seq))


def modified_seal(conn: sqlite3.Connection) -> None:
    seq, doc = _first_write(conn)
    doc["payload"] = doc["payload"].replace("101", "999")
    _rewrite(conn, seq, doc)


def revoked_certificate(conn: sqlite3.Connection) -> None:
    _seq, doc = _first_write(conn)
    [(raw,)] = conn.execute("SELECT value FROM kv WHERE space = 'trust.certs' AND key = ?",
                            (doc["certificate"],)).fetchall()
    record = orjson.loads(raw)
    record.update(status="revoked", revokedAt="2000-01-01T00:00:00Z", reason="keyCompromise")
    conn.execute("UPDATE kv SET value = ? WHERE space = 'trust.certs' AND key = ?",
                 (orjson.dumps(record), doc["certificate"]))


def expired_certificate(conn: sqlite3.Connection) -> None:
    seq, doc = _first_write(conn)
    doc["at"] = 4_102_444_800_000  # 2100: long after the certificate expired
    _rewrite(conn, seq, doc)


def reordered_leaves(conn: sqlite3.Connection) -> None:
    rows = _rows(conn)
    a, b = rows[3], rows[4]
    conn.execute("UPDATE logs SET seq = -1 WHERE log = 'trust' AND seq = ?", (a[0],))
    conn.execute("UPDATE logs SET seq = ? WHERE log = 'trust' AND seq = ?", (a[0], b[0]))
    conn.execute("UPDATE logs SET seq = ? WHERE log = 'trust' AND seq = -1", (b[0],))


def removed_leaf(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM logs WHERE log = 'trust' AND seq = 4")


def removed_leaf_renumbered(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM logs WHERE log = 'trust' AND seq = 4")
    for (seq,) in conn.execute("SELECT seq FROM logs WHERE log = 'trust' AND seq > 4 "
                               "ORDER BY seq").fetchall():
        conn.execute("UPDATE logs SET seq = ? WHERE log = 'trust' AND seq = ?", (seq - 1, seq))


def inserted_leaf(conn: sqlite3.Connection) -> None:
    rows = _rows(conn)
    for seq, *_ in reversed(rows[4:]):
        conn.execute("UPDATE logs SET seq = ? WHERE log = 'trust' AND seq = ?", (seq + 1, seq))
    body = b'{"kind":"write","note":"forged"}'
    conn.execute("INSERT INTO logs (log, seq, body, prev, hash) VALUES ('trust', ?, ?, ?, ?)",
                 (rows[4][0], body, rows[3][3], leaf_hash(body).hex()))


def _heads(conn: sqlite3.Connection) -> list[tuple[int, dict[str, Any]]]:
    return [(seq, orjson.loads(body)) for seq, body, _p, _h in _rows(conn, "trust-heads")]


def _key(conn: sqlite3.Connection) -> Ed25519PrivateKey:
    """The platform's log key, from the key store beside the database file."""
    from cityos.trust.service import log_key

    [(_, _, path)] = conn.execute("PRAGMA database_list").fetchall()
    return log_key(KeyStore.at(Path(path).parent))


def _append_head(conn: sqlite3.Connection, sth: SignedTreeHead) -> None:
    seq = _heads(conn)[-1][0] + 1
    conn.execute("INSERT INTO logs (log, seq, body, prev, hash) VALUES ('trust-heads', ?, ?, '', "
                 "'')", (seq, orjson.dumps(sth.to_json())))


def forked_tree_head(conn: sqlite3.Connection) -> None:
    """The platform's own key signs a head of another tree of the same size (equivocation)."""
    _seq, last = _heads(conn)[-1]
    head = TreeHead(last["origin"], last["treeSize"], leaf_hash(b"another tree"), 1)
    _append_head(conn, sign_head(head, _key(conn)))


def forged_tree_head(conn: sqlite3.Connection) -> None:
    _seq, last = _heads(conn)[-1]
    head = TreeHead(last["origin"], last["treeSize"], bytes.fromhex(last["rootHash"]), 1)
    _append_head(conn, sign_head(head, Ed25519PrivateKey.generate()))


def _set_token(conn: sqlite3.Connection, change: Callable[[bytes, bytes], bytes]) -> None:
    seq, head = _heads(conn)[0]
    sth = SignedTreeHead.from_json(head)
    token = change(base64.b64decode(head["timeStampToken"]), sth.head.body())
    head["timeStampToken"] = base64.b64encode(token).decode()
    conn.execute("UPDATE logs SET body = ? WHERE log = 'trust-heads' AND seq = ?",
                 (orjson.dumps(head), seq))


def altered_time_stamp(conn: sqlite3.Connection) -> None:
    def alter(token: bytes, data: bytes) -> bytes:
        # the last digit of the token's genTime (DER GeneralizedTime: tag 0x18, length,
        # YYYYMMDDhhmmss[.f…]Z); a bare b"Z" may occur earlier, in a hash or a signature
        found = re.search(rb"\x18[\x0f-\x17]\d{14}(?:\.\d+)?Z", token)
        assert found is not None, "no GeneralizedTime in the token"
        at = found.end() - 2
        return token[:at] + bytes([token[at] ^ 1]) + token[at + 1:]

    _set_token(conn, alter)


def wrong_tsa_certificate(conn: sqlite3.Connection) -> None:
    import hashlib

    other = CertificateAuthority.create("Elsewhere")
    tsa = BuiltInTsa(*make_tsa_certificate(other, "Elsewhere"))
    _set_token(conn, lambda token, data: tsa.token(hashlib.sha256(data).digest()))


def rewritten_audit_trail(conn: sqlite3.Connection) -> None:
    """An audit record edited and the audit chain recomputed after it (its own check passes)."""
    from cityos.audit.chain import link

    rows = _rows(conn, "audit")
    prev = rows[1][2]
    for i, (seq, body, _p, _h) in enumerate(rows[1:]):
        if i == 0:
            body = body.replace(b'"status":', b'"status":1')
        new = link(prev, body)
        conn.execute("UPDATE logs SET body = ?, prev = ?, hash = ? WHERE log = 'audit' AND "
                     "seq = ?", (body, prev, new, seq))
        prev = new
    conn.execute("UPDATE kv SET value = ? WHERE space = 'audit.head'",
                 (orjson.dumps({"seq": rows[-1][0], "hash": prev}),))


def truncated_log(conn: sqlite3.Connection) -> None:
    last = _heads(conn)[-1][1]["treeSize"]
    conn.execute("DELETE FROM logs WHERE log = 'trust' AND seq > ?", (last - 2,))


CASES = {
    modified_record: "LEAF_MODIFIED",
    modified_seal: "SEAL_SIGNATURE",
    revoked_certificate: "SEAL_CERTIFICATE_REVOKED",
    expired_certificate: "SEAL_CERTIFICATE_EXPIRED",
    reordered_leaves: "LEAF_REORDERED",
    removed_leaf: "LEAF_REMOVED",
    removed_leaf_renumbered: "LEAF_REMOVED",
    inserted_leaf: "LEAF_INSERTED",
    forked_tree_head: "TREE_HEAD_FORK",
    forged_tree_head: "TREE_HEAD_SIGNATURE",
    altered_time_stamp: "TST_SIGNATURE",
    wrong_tsa_certificate: "TST_UNTRUSTED_TSA",
    truncated_log: "LOG_TRUNCATED",
    rewritten_audit_trail: "AUDIT_REWRITTEN",
}


def test_an_intact_log_verifies(template: Path) -> None:
    problems, summary = _verify(template)
    assert problems == []
    assert summary.heads >= 2 and summary.stamped >= 2 and summary.seals == 3
    assert summary.audit > 3
    assert summary.leaves > 7


TAMPERS = sqlite_only("tampers with the SQLite file; `cityos verify` reads both engines alike")


@TAMPERS
@pytest.mark.parametrize("tamper", list(CASES), ids=[t.__name__ for t in CASES])
def test_each_tampering_is_named(template: Path, tmp_path: Path,
                                 tamper: Callable[[sqlite3.Connection], None]) -> None:
    data = tmp_path / "var"
    shutil.copytree(template, data)
    conn = _db(data)
    tamper(conn)
    conn.close()
    problems, _ = _verify(data)
    assert problems, "the tampering went unnoticed"
    assert problems[0].code == CASES[tamper], "\n".join(map(str, problems))


@TAMPERS
def test_the_command_names_the_failure(template: Path, tmp_path: Path) -> None:
    data = tmp_path / "var"
    shutil.copytree(template, data)
    ok = subprocess.run([CITYOS, "verify", "--data-dir", str(data)], capture_output=True,
                        text=True, timeout=120)
    assert ok.returncode == 0 and "transparency log of" in ok.stdout, ok.stdout + ok.stderr
    conn = _db(data)
    inserted_leaf(conn)
    conn.close()
    bad = subprocess.run([CITYOS, "verify", "--data-dir", str(data)], capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 1
    assert bad.stdout.splitlines()[1].startswith("LEAF_INSERTED at 4"), bad.stdout


@TAMPERS
def test_a_rewritten_audit_trail_passes_its_own_check_but_not_the_log(template: Path,
                                                                     tmp_path: Path) -> None:
    data = tmp_path / "var"
    shutil.copytree(template, data)
    conn = _db(data)
    rewritten_audit_trail(conn)
    conn.close()
    audit = subprocess.run([CITYOS, "audit", "export", "--data-dir", str(data), "--output",
                            str(tmp_path / "audit.jsonl")], capture_output=True, text=True,
                           timeout=120)
    assert audit.returncode == 0, audit.stderr
    own = subprocess.run([CITYOS, "verify", "--file", str(tmp_path / "audit.jsonl")],
                         capture_output=True, text=True, timeout=120)
    assert own.returncode == 0, own.stdout  # the audit chain alone sees nothing wrong
    both = subprocess.run([CITYOS, "verify", "--data-dir", str(data)], capture_output=True,
                          text=True, timeout=120)
    assert both.returncode == 1 and "AUDIT_REWRITTEN" in both.stdout, both.stdout
