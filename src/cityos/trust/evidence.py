"""Evidence bundles: everything needed to check, offline, who wrote an entity and when — the
write records, their seals and certificate chain, the CRL, inclusion proofs, the signed tree
head and its RFC 3161 token — and their verification, naming the first failure.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cityos.trust.ca import issued_by
from cityos.trust.certs import load_pem
from cityos.trust.merkle import ProofError, leaf_hash, verify_inclusion
from cityos.trust.private import DIGEST, SEALED, digest
from cityos.trust.seal import SealError, parse_seal, verify_seal
from cityos.trust.service import Trust
from cityos.trust.treehead import SignedTreeHead, TreeHeadError, parse_public_key, verify_head
from cityos.trust.tsa import TimeStampError, verify_token
from cityos.trust.verify import Problem
from cityos.trust.writes import entity_key

KIND = "cityos-evidence"
MAX_RECORDS = 20


class EvidenceError(ValueError):
    """No evidence can be made (e.g. nothing was ever written to the entity)."""


Reveal = Callable[[dict[str, Any]], Awaitable[str | None]]


async def build_bundle(trust: Trust, tenant: str, entity_id: str, org: str | None = None,
                       limit: int = MAX_RECORDS, reveal: Reveal | None = None) -> dict[str, Any]:
    """The newest write records of an entity (only `org`'s when given) with proofs to a
    signed, time-stamped tree head that covers them. A record of a personal write keeps its
    seal's payload sealed (`trust.private`): `reveal` gives it (beside the leaf, as `payload`)
    when the caller may read it."""
    await trust.writes.flush()
    indexes = await trust.log.find(entity_key(tenant, entity_id), limit=limit * 4)
    records: list[tuple[int, bytes, dict[str, Any]]] = []
    for index in indexes:
        entry = await trust.log.leaf(index)
        if entry is None:
            continue
        doc = orjson.loads(entry.body)
        if org is None or doc.get("org") == org:
            records.append((index, entry.body, doc))
        if len(records) == limit:
            break
    if not records:
        raise EvidenceError(f"no write records of {entity_id[:200]} / 書き込み記録がありません")
    head = await trust.log.latest_head()
    if head is None or head.size <= records[0][0] or "timeStampToken" not in head.extra:
        head = await trust.checkpoint() or await trust.log.latest_head()
    assert head is not None
    ca = await trust.certs.ca()
    certificates: dict[str, Any] = {}
    out = []
    for index, body, doc in records:
        if index >= head.size:
            continue
        path = await trust.log.inclusion(index, head.size)
        item = {"leafIndex": index, "leaf": body.decode("utf-8"),
                "inclusionPath": [h.hex() for h in path]}
        payload = None if reveal is None or SEALED not in doc else await reveal(doc)
        if payload is not None:
            item["payload"] = payload
        out.append(item)
        serial = doc.get("certificate")
        if isinstance(serial, str) and serial not in certificates:
            cert = await trust.certs.get(serial)
            certificates[serial] = {"certificate": cert["certificate"], "chain": cert["chain"]}
    crl = await trust.certs.crl()
    return {"type": KIND, "version": 1, "tenant": tenant, "entity": entity_id,
            "records": out, "treeHead": head.to_json(), "logKey": trust.public_key,
            "ca": ca.pem().decode(), "certificates": certificates,
            "crl": base64.b64encode(crl.public_bytes(serialization.Encoding.DER)).decode(),
            "made": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")}


def verify_bundle(bundle: Any, log_key: str | None = None,
                  ca_pem: bytes | None = None) -> list[Problem]:
    """Every problem of a bundle, the first failure first. `log_key` and `ca_pem` pin what to
    trust; without them the bundle's own key and CA are used (it is then only self-consistent)."""
    try:
        return _verify(bundle, log_key, ca_pem)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return [Problem("BUNDLE_MALFORMED", 0, f"not an evidence bundle: {exc}")]


def _verify(bundle: dict[str, Any], log_key: str | None, ca_pem: bytes | None) -> list[Problem]:
    if bundle.get("type") != KIND:
        return [Problem("BUNDLE_MALFORMED", 0, "not a cityos evidence bundle")]
    problems: list[Problem] = []
    public: Ed25519PublicKey = parse_public_key(log_key or bundle["logKey"])[1]
    ca = load_pem(ca_pem or bundle["ca"].encode())
    head = SignedTreeHead.from_json(bundle["treeHead"])
    try:
        verify_head(head, public)
    except TreeHeadError as exc:
        problems.append(Problem("TREE_HEAD_SIGNATURE", head.size, str(exc)))
    token = head.extra.get("timeStampToken")
    if token is None:
        problems.append(Problem("TST_MISSING", head.size, "the tree head is not time-stamped"))
    else:
        try:
            verify_token(base64.b64decode(token), head.head.body(), [ca])
        except TimeStampError as exc:
            problems.append(Problem(exc.code, head.size, str(exc)))
    crl: x509.CertificateRevocationList | None = x509.load_der_x509_crl(
        base64.b64decode(bundle["crl"]))
    if crl is not None and not crl.is_signature_valid(ca.public_key()):  # type: ignore[arg-type]
        problems.append(Problem("CRL_SIGNATURE", 0, "the CRL is not signed by the platform CA"))
        crl = None
    for item in bundle["records"]:
        index = int(item["leafIndex"])
        body = str(item["leaf"]).encode("utf-8")
        record = orjson.loads(body)
        payload = record["payload"] if "seal" in record and DIGEST not in record else None
        if DIGEST in record and "payload" in item:  # a personal write's payload, revealed
            payload = str(item["payload"])
            if digest(payload.encode("utf-8")) != record[DIGEST]:
                problems.append(Problem("PAYLOAD_MODIFIED", index, "the payload beside the "
                                        "record is not the one its digest names"))
                payload = None
        if "seal" in record and payload is not None:  # first: a changed seal or payload
            code, detail = _check_seal(record, str(payload), bundle["certificates"], ca, crl)
            if code:
                problems.append(Problem(code, index, detail))
        try:
            verify_inclusion(index, head.size, leaf_hash(body),
                             [bytes.fromhex(h) for h in item["inclusionPath"]], head.root)
        except ProofError as exc:
            problems.append(Problem("RECORD_MODIFIED", index, f"the record is not in the signed "
                                    f"tree: {exc}"))
            continue
        if bundle["entity"] not in record.get("entities", ()) or \
                record.get("tenant") != bundle["tenant"]:
            problems.append(Problem("RECORD_OTHER_ENTITY", index, "the record is about another "
                                    "entity"))
    return problems


def _check_seal(record: dict[str, Any], payload: str, certificates: dict[str, Any],
                ca: x509.Certificate, crl: x509.CertificateRevocationList | None
                ) -> tuple[str, str]:
    found = certificates.get(str(record.get("certificate")))
    if found is None:
        return "SEAL_UNKNOWN_CERTIFICATE", "the bundle lacks the seal's certificate"
    cert = load_pem(found["certificate"])
    chain = [load_pem(p) for p in found.get("chain", [])]
    if not (issued_by(cert, ca) or any(issued_by(cert, c) for c in chain)):
        return "SEAL_CERTIFICATE_UNTRUSTED", "the seal's certificate is not from the CA"
    try:
        verify_seal(parse_seal(str(record["seal"])), payload.encode("utf-8"), cert)
    except SealError as exc:
        return exc.code, exc.detail
    at = dt.datetime.fromtimestamp(int(record["at"]) / 1000, dt.UTC)
    if crl is not None:
        revoked = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        if revoked is not None and revoked.revocation_date_utc <= at:
            return "SEAL_CERTIFICATE_REVOKED", "the certificate was revoked before the write"
    if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
        return "SEAL_CERTIFICATE_EXPIRED", "the certificate was not valid when the record was " \
            "written"
    return "", ""
