"""Organisation seal certificates over the API, checked with the real `openssl verify`."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from access.secured import CORPORATE, Platform
from cityos.access.corporate import InvalidCorporateNumber
from cityos.trust.ca import CertificateAuthority, corporate_number_of, org_identifier
from conftest import system_binary

TOYOTA = "1180301018771"  # トヨタ自動車株式会社 (国税庁法人番号公表サイト)


def test_corporate_numbers_real_and_wrong() -> None:
    assert CORPORATE == "7000012050002"  # 国税庁
    assert org_identifier(CORPORATE) == "NTRJP-7000012050002"
    assert org_identifier(TOYOTA) == "NTRJP-1180301018771"
    for wrong in ("8000012010001", "7000012050003", "2180301018771", "700001205000", "x" * 13):
        with pytest.raises(InvalidCorporateNumber):
            org_identifier(wrong)


def _csr(key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey,
         name: str = "Evil Corp") -> str:
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
           .sign(key, algorithm))
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def _openssl_verify(tmp: Path, ca_pem: str, cert_pem: str, crl_der: bytes | None = None
                    ) -> subprocess.CompletedProcess[str]:
    (tmp / "ca.pem").write_text(ca_pem)
    (tmp / "org.pem").write_text(cert_pem)
    args = [system_binary("openssl"), "verify", "-CAfile", str(tmp / "ca.pem")]
    if crl_der is not None:
        crl = x509.load_der_x509_crl(crl_der)
        (tmp / "crl.pem").write_bytes(crl.public_bytes(serialization.Encoding.PEM))
        args += ["-crl_check", "-CRLfile", str(tmp / "crl.pem")]
    return subprocess.run([*args, str(tmp / "org.pem")], capture_output=True, text=True,
                          timeout=30)


def test_issue_verify_with_openssl_and_revoke(platform: Platform, tmp_path: Path) -> None:
    admin = platform.auth("admin")
    ca_pem = platform.client.get("/trust/v1/ca", headers=admin).json()["certificate"]

    # a key made by the platform, handed over once as PKCS#12
    made = platform.client.post("/trust/v1/certificates", headers=admin, json={"org": "ShelterCo"})
    assert made.status_code == 201, made.text
    assert made.headers["cache-control"] == "no-store"
    body = made.json()
    key, cert, extra = pkcs12.load_key_and_certificates(
        base64.b64decode(body["pkcs12"]), body["pkcs12Password"].encode())
    assert key is not None and cert is not None and len(extra) == 1
    assert corporate_number_of(cert) == CORPORATE
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "ShelterCo"
    got = platform.client.get(f"/trust/v1/certificates/{body['serial']}", headers=admin).json()
    assert "pkcs12" not in got and got["status"] == "valid"
    result = _openssl_verify(tmp_path, ca_pem, body["certificate"])
    assert result.returncode == 0 and "org.pem: OK" in result.stdout, result.stderr

    # the organisation asks for itself with a CSR: the subject is its registered identity
    writer = platform.auth("Writer")
    own = platform.client.post("/trust/v1/certificates", headers=writer,
                               json={"csr": _csr(ed25519.Ed25519PrivateKey.generate())})
    assert own.status_code == 201, own.text
    assert "pkcs12" not in own.json()
    own_cert = x509.load_pem_x509_certificate(own.json()["certificate"].encode())
    assert own_cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Writer"
    assert _openssl_verify(tmp_path, ca_pem, own.json()["certificate"]).returncode == 0
    other = platform.client.post("/trust/v1/certificates", headers=writer,
                                 json={"org": "ShelterCo", "csr": _csr(ec.generate_private_key(ec.SECP256R1()))})
    assert other.status_code == 403
    assert platform.client.post("/trust/v1/certificates", headers=platform.auth("Reader"),
                                json={}).status_code == 403
    listed = platform.client.get("/trust/v1/certificates", headers=writer).json()
    assert [c["org"] for c in listed] == ["Writer"]

    # revoked: in the CRL, and openssl with -crl_check refuses it; the other one still passes
    revoked = platform.client.post(f"/trust/v1/certificates/{body['serial']}/revoke",
                                   headers=admin, json={"reason": "keyCompromise"})
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    crl = platform.client.get("/trust/v1/ca/crl", headers=admin)
    assert crl.headers["content-type"] == "application/pkix-crl"
    entry = x509.load_der_x509_crl(crl.content).get_revoked_certificate_by_serial_number(
        int(body["serial"], 16))
    assert entry is not None
    refused = _openssl_verify(tmp_path, ca_pem, body["certificate"], crl.content)
    assert refused.returncode != 0 and "revoked" in (refused.stdout + refused.stderr)
    assert _openssl_verify(tmp_path, ca_pem, own.json()["certificate"], crl.content).returncode == 0

    # renewal: a new certificate that names the one it renews
    renewed = platform.client.post(f"/trust/v1/certificates/{own.json()['serial']}/renew",
                                   headers=writer, json={"days": 30})
    assert renewed.status_code == 201 and renewed.json()["renews"] == own.json()["serial"]


def test_bad_requests(platform: Platform) -> None:
    admin = platform.auth("admin")
    post = platform.client.post
    url = "/trust/v1/certificates"
    assert post(url, headers=admin, json={"org": "Nope"}).status_code == 404
    assert post(url, headers=admin, json={}).status_code == 400
    assert post(url, headers={**admin, "Content-Type": "application/json"},
                content=b"[1]").status_code == 400
    assert post(url, headers=admin, json={"org": "ShelterCo", "csr": "junk"}).status_code == 400
    rsa_csr = _csr(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    r = post(url, headers=admin, json={"org": "ShelterCo", "csr": rsa_csr})
    assert r.status_code == 400 and "ECDSA" in r.json()["detail"]
    good = _csr(ec.generate_private_key(ec.SECP256R1()))
    tampered = good.replace(good.splitlines()[3], good.splitlines()[3][:-4] + "AAAA")
    assert post(url, headers=admin, json={"org": "ShelterCo", "csr": tampered}).status_code == 400
    assert post(url, headers=admin, json={"org": "ShelterCo", "days": 9999}).status_code == 400
    assert post(url, headers=admin, json={"org": "ShelterCo", "days": "x"}).status_code == 400
    assert platform.client.get(f"{url}/abc", headers=admin).status_code == 404
    assert post(f"{url}/abc/revoke", headers=admin, json={}).status_code == 404


def test_external_certificates_need_a_trusted_chain(platform: Platform) -> None:
    admin = platform.auth("admin")
    accredited = CertificateAuthority.create("Accredited e-Seal CA")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = accredited.issue_seal(org_name="ShelterCo", corporate_number=CORPORATE,
                                 public_key=key.public_key(), days=30, crl_url="")
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    chain = [accredited.pem().decode()]
    url = "/trust/v1/certificates/external"
    r = platform.client.post(url, headers=admin, json={"org": "ShelterCo", "certificate": pem,
                                                       "chain": chain})
    assert r.status_code == 400 and "trusted CA" in r.json()["detail"]
    assert platform.client.post("/trust/v1/anchors", headers=admin,
                                json={"certificate": chain[0]}).status_code == 201
    # every fixture organisation has the 国税庁 number: a certificate for another is refused
    foreign = accredited.issue_seal(org_name="Toyota", corporate_number=TOYOTA,
                                    public_key=key.public_key(), days=30, crl_url="")
    r = platform.client.post(url, headers=admin, json={
        "org": "ShelterCo", "chain": chain,
        "certificate": foreign.public_bytes(serialization.Encoding.PEM).decode()})
    assert r.status_code == 400 and "corporate number" in r.json()["detail"]
    r = platform.client.post(url, headers=admin, json={"org": "ShelterCo", "certificate": pem,
                                                       "chain": chain})
    assert r.status_code == 201 and r.json()["external"] is True


def _openssl_ocsp(platform: Platform, tmp: Path, ca_pem: str, cert_pem: str) -> str:
    openssl = system_binary("openssl")
    (tmp / "ca.pem").write_text(ca_pem)
    (tmp / "org.pem").write_text(cert_pem)
    subprocess.run([openssl, "ocsp", "-issuer", str(tmp / "ca.pem"), "-cert", str(tmp / "org.pem"),
                    "-reqout", str(tmp / "req.der")], check=True, capture_output=True, timeout=30)
    answer = platform.client.post("/trust/v1/ocsp", content=(tmp / "req.der").read_bytes(),
                                  headers={**platform.auth("viewer"),
                                           "Content-Type": "application/ocsp-request"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/ocsp-response"
    (tmp / "resp.der").write_bytes(answer.content)
    # our nonce is echoed (openssl would compare it with a fresh request of its own)
    asked = ocsp.load_der_ocsp_request((tmp / "req.der").read_bytes())
    told = ocsp.load_der_ocsp_response(answer.content)
    assert [e.value for e in told.extensions] == [e.value for e in asked.extensions]
    checked = subprocess.run([openssl, "ocsp", "-respin", str(tmp / "resp.der"), "-no_nonce",
                              "-issuer", str(tmp / "ca.pem"), "-cert", str(tmp / "org.pem"),
                              "-CAfile", str(tmp / "ca.pem")],
                             capture_output=True, text=True, timeout=30)
    assert "Response verify OK" in checked.stderr + checked.stdout, checked.stderr
    return checked.stdout


def test_ocsp_answers_good_then_revoked(platform: Platform, tmp_path: Path) -> None:
    admin = platform.auth("admin")
    ca_pem = platform.client.get("/trust/v1/ca", headers=admin).json()["certificate"]
    made = platform.client.post("/trust/v1/certificates", headers=admin,
                                json={"org": "ShelterCo"}).json()
    assert "org.pem: good" in _openssl_ocsp(platform, tmp_path, ca_pem, made["certificate"])
    platform.client.post(f"/trust/v1/certificates/{made['serial']}/revoke", headers=admin,
                         json={"reason": "keyCompromise"})
    status = _openssl_ocsp(platform, tmp_path, ca_pem, made["certificate"])
    assert "org.pem: revoked" in status and "Reason: keyCompromise" in status, status
    garbage = platform.client.post("/trust/v1/ocsp", content=b"junk", headers={
        **admin, "Content-Type": "application/ocsp-request"})
    assert garbage.status_code == 200 and garbage.content == bytes.fromhex("30030a0101")
