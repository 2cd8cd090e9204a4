"""Evidence bundles: made by the API and the CLI, verified offline; each kind of tampering
with a bundle is named by its own code (golden negative cases)."""

from __future__ import annotations

import base64
import copy
import hashlib
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cityos.trust.ca import CertificateAuthority
from cityos.trust.evidence import verify_bundle
from cityos.trust.seal import HEADER, canonical_json, make_seal
from cityos.trust.treehead import public_key_text
from cityos.trust.tsa import BuiltInTsa, make_tsa_certificate
from conftest import CITYOS, database_environ

from .platforms import certificate_for, checkpoint, secured_with, trust_of

ID = "urn:ngsi-ld:Shelter:evidence"


@pytest.fixture(scope="module")
def made(prepared: tuple[Path, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
         ) -> dict[str, Any]:
    """Bundles of one entity written sealed, patched sealed and patched unsealed."""
    data = tmp_path_factory.mktemp("evidence") / "var"
    with secured_with(prepared, data) as platform:
        key = ec.generate_private_key(ec.SECP256R1())
        cert, serial = certificate_for(platform, "Writer", key)
        headers = {**platform.auth("Writer"), "Content-Type": "application/json"}
        entity = {"id": ID, "type": "Shelter", "capacity": {"type": "Property", "value": 100}}
        assert platform.client.post("/ngsi-ld/v1/entities", content=orjson.dumps(entity), headers={
            **headers, HEADER: make_seal(canonical_json(entity), key, cert)}).status_code == 201
        patch = {"capacity": {"type": "Property", "value": 80}}
        assert platform.client.patch(f"/ngsi-ld/v1/entities/{ID}/attrs", content=orjson.dumps(
            patch), headers={**headers, HEADER: make_seal(canonical_json(patch), key, cert)}
        ).status_code == 204
        assert platform.client.patch(f"/ngsi-ld/v1/entities/{ID}/attrs", headers=platform.auth(
            "admin"), json={"capacity": {"type": "Property", "value": 70}}).status_code == 204
        checkpoint(platform)
        admin = platform.client.get(f"/trust/v1/evidence/{ID}", headers=platform.auth("admin"))
        assert admin.status_code == 200, admin.text
        own = platform.client.get(f"/trust/v1/evidence/{ID}", headers=platform.auth("Writer"))
        other = platform.client.get(f"/trust/v1/evidence/{ID}", headers=platform.auth("ShelterCo"))
        missing = platform.client.get("/trust/v1/evidence/urn:x:none", headers=platform.auth("admin"))
        head = platform.client.get("/trust/v1/log/tree-head", headers=platform.auth("admin")).json()
        ca = platform.client.get("/trust/v1/ca", headers=platform.auth("admin")).json()

        async def revoked_bundle() -> dict[str, Any]:
            from cityos.trust.evidence import build_bundle

            trust = trust_of(platform)
            doc = await trust.certs.revoke(serial, "keyCompromise")
            doc["revokedAt"] = "2000-01-01T00:00:00Z"  # as if revoked long before the writes
            await trust.store.kv_put("trust.certs", serial, doc)
            return await build_bundle(trust, "", ID)

        assert platform.client.portal is not None
        revoked = platform.client.portal.call(revoked_bundle)
    return {"bundle": admin.json(), "own": own.json(), "other": other.status_code,
            "missing": missing.status_code, "key": head["publicKey"],
            "ca": ca["certificate"].encode(), "revoked": revoked, "data": data}


def test_bundles_verify_offline(made: dict[str, Any], tmp_path: Path) -> None:
    bundle = made["bundle"]
    assert len(bundle["records"]) == 3 and "timeStampToken" in bundle["treeHead"]
    assert verify_bundle(bundle, made["key"], made["ca"]) == []
    assert verify_bundle(bundle) == []  # self-consistent with its own keys
    assert [orjson.loads(r["leaf"])["org"] for r in made["own"]["records"]] == ["Writer"] * 2
    assert made["other"] == 404 and made["missing"] == 404

    path = tmp_path / "bundle.json"
    path.write_bytes(orjson.dumps(bundle))
    (tmp_path / "ca.pem").write_bytes(made["ca"])
    ok = subprocess.run([CITYOS, "verify", "--bundle", str(path), "--log-key", made["key"],
                         "--ca", str(tmp_path / "ca.pem")], capture_output=True, text=True,
                        timeout=60)
    assert ok.returncode == 0 and ok.stdout.startswith("OK: 3 records"), ok.stdout + ok.stderr
    bundle2 = copy.deepcopy(bundle)
    bundle2["records"][0]["leaf"] = bundle2["records"][0]["leaf"].replace('"status":', '"status":1')
    path.write_bytes(orjson.dumps(bundle2))
    bad = subprocess.run([CITYOS, "verify", "--bundle", str(path)], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 1 and bad.stdout.startswith("RECORD_MODIFIED"), bad.stdout


def test_the_cli_makes_bundles(made: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "e.json"
    made_ = subprocess.run([CITYOS, "trust", "evidence", ID, "--out", str(out), "--data-dir",
                            str(made["data"])], capture_output=True, text=True, timeout=60,
                           env={**os.environ, **database_environ(made["data"])})
    assert made_.returncode == 0, made_.stderr
    bundle = orjson.loads(out.read_bytes())
    assert len(bundle["records"]) == 3
    # the fixture revoked the certificate (backdated) after making the API bundles
    problems = verify_bundle(bundle, made["key"], made["ca"])
    assert {p.code for p in problems} == {"SEAL_CERTIFICATE_REVOKED"} and len(problems) == 2


def _sealed(bundle: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in bundle["records"] if '"seal":' in r["leaf"])


def _edit_leaf(item: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> None:
    doc = orjson.loads(item["leaf"])
    change(doc)
    item["leaf"] = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS).decode()


def modified_record(b: dict[str, Any]) -> None:
    _edit_leaf(_sealed(b), lambda d: d.update(who="staff:someone-else"))


def modified_seal(b: dict[str, Any]) -> None:
    def change(d: dict[str, Any]) -> None:
        head, _, sig = d["seal"].split(".")
        d["seal"] = f"{head}..{'A' if sig[0] != 'A' else 'B'}{sig[1:]}"
    _edit_leaf(_sealed(b), change)


def modified_payload(b: dict[str, Any]) -> None:
    _edit_leaf(_sealed(b), lambda d: d.update(payload=d["payload"].replace("80", "85")))


def expired_certificate(b: dict[str, Any]) -> None:
    _edit_leaf(_sealed(b), lambda d: d.update(at=4_102_444_800_000))


def altered_time_stamp(b: dict[str, Any]) -> None:
    token = base64.b64decode(b["treeHead"]["timeStampToken"])
    # the last digit of the genTime (GeneralizedTime, tag 0x18): not the first b"Z" of the
    # token, which may be a byte of the hash or the serial and make another error
    found = re.search(rb"\x18[\x0f-\x17]\d{14}(?:\.\d+)?Z", token)
    assert found is not None
    at = found.end() - 2
    b["treeHead"]["timeStampToken"] = base64.b64encode(
        token[:at] + bytes([token[at] ^ 1]) + token[at + 1:]).decode()


def wrong_tsa_certificate(b: dict[str, Any]) -> None:
    from cityos.trust.treehead import SignedTreeHead

    other = CertificateAuthority.create("Elsewhere")
    tsa = BuiltInTsa(*make_tsa_certificate(other, "Elsewhere"))
    body = SignedTreeHead.from_json(b["treeHead"]).head.body()
    b["treeHead"]["timeStampToken"] = base64.b64encode(
        tsa.token(hashlib.sha256(body).digest())).decode()


def forged_tree_head(b: dict[str, Any]) -> None:
    from cityos.trust.treehead import SignedTreeHead, sign_head

    sth = SignedTreeHead.from_json(b["treeHead"])
    b["treeHead"] = {**sign_head(sth.head, Ed25519PrivateKey.generate()).to_json(),
                     "timeStampToken": b["treeHead"]["timeStampToken"]}


def other_entity(b: dict[str, Any]) -> None:
    b["entity"] = "urn:ngsi-ld:Shelter:other"


def dropped_time_stamp(b: dict[str, Any]) -> None:
    del b["treeHead"]["timeStampToken"]


CASES = {
    modified_record: "RECORD_MODIFIED",
    modified_seal: "SEAL_SIGNATURE",
    modified_payload: "SEAL_SIGNATURE",
    expired_certificate: "SEAL_CERTIFICATE_EXPIRED",
    altered_time_stamp: "TST_SIGNATURE",
    wrong_tsa_certificate: "TST_UNTRUSTED_TSA",
    forged_tree_head: "TREE_HEAD_SIGNATURE",
    other_entity: "RECORD_OTHER_ENTITY",
    dropped_time_stamp: "TST_MISSING",
}


@pytest.mark.parametrize("tamper", list(CASES), ids=[t.__name__ for t in CASES])
def test_each_tampering_of_a_bundle_is_named(made: dict[str, Any],
                                             tamper: Callable[[dict[str, Any]], None]) -> None:
    bundle = copy.deepcopy(made["bundle"])
    tamper(bundle)
    problems = verify_bundle(bundle, made["key"], made["ca"])
    assert problems and problems[0].code == CASES[tamper], "\n".join(map(str, problems))


def test_revoked_certificates_and_pinned_keys(made: dict[str, Any]) -> None:
    problems = verify_bundle(made["revoked"], made["key"], made["ca"])
    assert problems and problems[0].code == "SEAL_CERTIFICATE_REVOKED", problems
    other_key = public_key_text("x/trust/v1/log", Ed25519PrivateKey.generate().public_key())
    assert verify_bundle(made["bundle"], other_key, made["ca"])[0].code == "TREE_HEAD_SIGNATURE"
    other_ca = CertificateAuthority.create("Elsewhere").pem()
    assert verify_bundle(made["bundle"], made["key"], other_ca)[0].code == "TST_UNTRUSTED_TSA"
    assert verify_bundle({"type": "x"})[0].code == "BUNDLE_MALFORMED"
    assert verify_bundle([])[0].code == "BUNDLE_MALFORMED"
