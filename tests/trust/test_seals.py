"""Organisation seals on NGSI-LD writes: detached JWS (RFC 7797) over RFC 8785 JSON, checked
against the organisation's valid certificate; the seal policy; write records in the log."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest
import rfc8785
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jws
from joserfc.jwk import OKPKey

from access.secured import CORPORATE, Platform
from cityos.trust.ca import CertificateAuthority
from cityos.trust.seal import HEADER, SealError, canonical_json, make_seal, parse_seal, verify_seal
from cityos.trust.writes import entity_key

from .platforms import certificate_for, trust_of

Key = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def _entity(n: int, kind: str = "Shelter") -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:{kind}:{n}", "type": kind,
            "name": {"type": "Property", "value": "豊能町公民館"},
            "capacity": {"type": "Property", "value": 120.0}}


def _post(platform: Platform, who: str, body: bytes, seal: str | None = None) -> Any:
    headers = {**platform.auth(who), "Content-Type": "application/json"}
    if seal is not None:
        headers[HEADER] = seal
    return platform.client.post("/ngsi-ld/v1/entities", headers=headers, content=body)


def test_the_seal_is_a_standard_detached_jws() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    ca = CertificateAuthority.create("t")
    cert = ca.issue_seal(org_name="o", corporate_number=CORPORATE, public_key=key.public_key(),
                         days=3, crl_url="")
    payload = canonical_json(_entity(1))
    assert payload.startswith(b'{"capacity":{"type":"Property","value":120},"id":')  # RFC 8785
    seal = make_seal(payload, key, cert)
    verify_seal(parse_seal(seal), payload, cert)
    header, _, signature = seal.split(".")
    public = OKPKey.import_key(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    checked = jws.deserialize_compact(f"{header}.{payload.decode()}.{signature}", public,
                                      algorithms=["Ed25519"])
    assert checked.headers()["b64"] is False


def test_sealed_writes(platform: Platform) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert, serial = certificate_for(platform, "Writer", key)
    entity = _entity(1)
    seal = make_seal(canonical_json(entity), key, cert)
    assert _post(platform, "Writer", orjson.dumps(entity), seal).status_code == 201

    # the same JSON with other key order and spacing: the canonical form is what is sealed
    second = _entity(2)
    seal2 = make_seal(canonical_json(second), key, cert)
    spaced = b"{ " + b", ".join(orjson.dumps({k: v})[1:-1] for k, v in reversed(second.items())) + b" }"
    assert _post(platform, "Writer", spaced, seal2).status_code == 201

    # a changed body, someone else's certificate, an unknown one, garbage: refused, not written
    changed = {**_entity(3), "capacity": {"type": "Property", "value": 999}}
    refusals = {
        "SEAL_SIGNATURE": (orjson.dumps(changed), make_seal(canonical_json(_entity(3)), key, cert)),
        "SEAL_MALFORMED": (orjson.dumps(_entity(4)), "not.a.seal"),
    }
    other_key = ec.generate_private_key(ec.SECP256R1())
    other_cert, _ = certificate_for(platform, "ShelterCo", other_key)
    refusals["SEAL_OTHER_ORGANISATION"] = (orjson.dumps(_entity(5)), make_seal(
        canonical_json(_entity(5)), other_key, other_cert))
    stranger = CertificateAuthority.create("Elsewhere")
    stranger_cert = stranger.issue_seal(org_name="Writer", corporate_number=CORPORATE,
                                        public_key=key.public_key(), days=3, crl_url="")
    refusals["SEAL_UNKNOWN_CERTIFICATE"] = (orjson.dumps(_entity(6)), make_seal(
        canonical_json(_entity(6)), key, stranger_cert))
    for code, (body, bad) in refusals.items():
        r = _post(platform, "Writer", body, bad)
        assert r.status_code == 400 and r.json()["sealError"] == code, (code, r.text)
        entity_id = orjson.loads(body)["id"]
        assert platform.client.get(f"/ngsi-ld/v1/entities/{entity_id}",
                                   headers=platform.auth("admin")).status_code == 404

    # write records: in the log, found by entity, with the seal and its payload
    trust = trust_of(platform)
    assert platform.client.portal is not None
    platform.client.portal.call(trust.writes.flush)
    [index] = platform.client.portal.call(trust.log.find, entity_key("", entity["id"]))
    leaf = platform.client.get(f"/trust/v1/log/leaves/{index}",
                               headers=platform.auth("admin")).json()["leaf"]
    assert leaf["kind"] == "write" and leaf["org"] == "Writer" and leaf["status"] == 201
    assert leaf["certificate"] == serial and leaf["entities"] == [entity["id"]]
    verify_seal(parse_seal(leaf["seal"]), leaf["payload"].encode(), cert)

    # revoked: refused at once
    assert platform.client.post(f"/trust/v1/certificates/{serial}/revoke",
                                headers=platform.auth("Writer"), json={}).status_code == 200
    r = _post(platform, "Writer", orjson.dumps(_entity(7)),
              make_seal(canonical_json(_entity(7)), key, cert))
    assert r.status_code == 400 and r.json()["sealError"] == "SEAL_CERTIFICATE_REVOKED"


def test_expired_certificates_do_not_seal(platform: Platform) -> None:
    trust = trust_of(platform)
    key = ed25519.Ed25519PrivateKey.generate()
    assert platform.client.portal is not None

    async def old_certificate() -> x509.Certificate:
        ca = await trust.certs.ca()
        past = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
        cert = ca.issue_seal(org_name="Writer", corporate_number=CORPORATE,
                             public_key=key.public_key(), days=2, now=past, crl_url="")
        await trust.certs._record(cert, "Writer", external=False)
        return cert

    cert = platform.client.portal.call(old_certificate)
    r = _post(platform, "Writer", orjson.dumps(_entity(1)),
              make_seal(canonical_json(_entity(1)), key, cert))
    assert r.status_code == 400 and r.json()["sealError"] == "SEAL_CERTIFICATE_EXPIRED"


def test_the_seal_policy(platform: Platform) -> None:
    admin = platform.auth("admin")
    url = "/trust/v1/seal-policy"
    assert platform.client.get(url, headers=admin).json() == {"orgs": [], "types": []}
    for bad in ([], {"types": "Shelter"}, {"types": [1]}, {"other": []}):
        assert platform.client.put(url, headers=admin, json=bad).status_code == 400
    assert platform.client.put(url, headers=platform.auth("Writer"),
                               json={"types": []}).status_code == 403
    assert platform.client.put(url, headers=admin, json={"types": ["Shelter"]}).status_code == 200
    r = _post(platform, "Writer", orjson.dumps(_entity(1)))
    assert r.status_code == 400 and r.json()["sealError"] == "SEAL_REQUIRED"
    assert _post(platform, "Writer", orjson.dumps(_entity(1, "Bus"))).status_code == 201
    assert _post(platform, "admin", orjson.dumps(_entity(1))).status_code == 201  # staff
    platform.client.put(url, headers=admin, json={"orgs": ["Writer"]})
    r = _post(platform, "Writer", orjson.dumps(_entity(2, "Bus")))
    assert r.status_code == 400 and r.json()["sealError"] == "SEAL_REQUIRED"


@pytest.mark.parametrize("kind", ["ES256", "Ed25519"])
def test_both_algorithms(kind: str) -> None:
    key: Key = ec.generate_private_key(ec.SECP256R1()) if kind == "ES256" \
        else ed25519.Ed25519PrivateKey.generate()
    ca = CertificateAuthority.create("t")
    cert = ca.issue_seal(org_name="o", corporate_number=CORPORATE, public_key=key.public_key(),
                         days=3, crl_url="")
    seal = make_seal(b"{}", key, cert)
    assert parse_seal(seal).header["alg"] == kind
    verify_seal(parse_seal(seal), b"{}", cert)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=4),
    max_leaves=20)


@given(_JSON)
@settings(max_examples=500)
def test_canonical_json_is_rfc8785(data: Any) -> None:
    try:
        expected = rfc8785.dumps(data)
    except rfc8785.CanonicalizationError:
        with pytest.raises(SealError):
            canonical_json(data)
        return
    assert canonical_json(data) == expected


@pytest.mark.parametrize("data", [
    {"b": 1.0, "a": 0.0}, [1e21, 1e-7, -0.0, 5e-324, 1.5e300], {"\U0001f600": 1, "\ue000": 2},
    "\u0000\u001f\u007f\u2028\"\\", 2**53 - 1, [120.5, 135.4001, 34.8]])
def test_canonical_json_edge_cases(data: Any) -> None:
    assert canonical_json(data) == rfc8785.dumps(data)
