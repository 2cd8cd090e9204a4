"""`cityos init` makes the platform CA; `cityos trust …` issues, lists and revokes seal
certificates from the data directory; the PKCS#12 opens with the real `openssl`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import orjson

from conftest import CITYOS, system_binary


def _cityos(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CITYOS, *args], capture_output=True, text=True, timeout=120)


def test_trust_commands(tmp_path: Path) -> None:
    data = str(tmp_path / "var")
    made = _cityos("init", "--data-dir", data)
    assert made.returncode == 0 and "Platform CA" in made.stdout + made.stderr
    assert _cityos("org", "add", "Toyono Mobility", "--corporate-number", "1180301018771",
                   "--data-dir", data).returncode == 0
    p12 = tmp_path / "org.p12"
    issued = _cityos("trust", "issue", "Toyono Mobility", "--out", str(p12), "--days", "30",
                     "--data-dir", data)
    assert issued.returncode == 0, issued.stderr
    password, pem = issued.stdout.split("\n", 1)
    assert pem.startswith("-----BEGIN CERTIFICATE-----")
    (tmp_path / "org.pem").write_text(pem)
    (tmp_path / "ca.pem").write_text(_cityos("trust", "ca", "--data-dir", data).stdout)
    openssl = system_binary("openssl")
    opened = subprocess.run([openssl, "pkcs12", "-in", str(p12), "-passin", f"pass:{password}",
                             "-nokeys"], capture_output=True, text=True, timeout=30)
    assert opened.returncode == 0 and "NTRJP-1180301018771" in opened.stdout, opened.stderr
    wrong = subprocess.run([openssl, "pkcs12", "-in", str(p12), "-passin", "pass:wrong",
                            "-nokeys"], capture_output=True, text=True, timeout=30)
    assert wrong.returncode != 0
    checked = subprocess.run([openssl, "verify", "-CAfile", str(tmp_path / "ca.pem"),
                              str(tmp_path / "org.pem")], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr

    [cert] = orjson.loads(_cityos("trust", "certs", "--data-dir", data).stdout)
    assert cert["status"] == "valid" and cert["corporateNumber"] == "1180301018771"
    assert _cityos("trust", "revoke", cert["serial"], "--reason", "keyCompromise",
                   "--data-dir", data).returncode == 0
    [cert] = orjson.loads(_cityos("trust", "certs", "--data-dir", data).stdout)
    assert cert["status"] == "revoked" and cert["reason"] == "keyCompromise"
    assert _cityos("trust", "issue", "Nobody", "--out", str(p12), "--data-dir", data
                   ).returncode == 2  # a user error: no such organisation

    head = orjson.loads(_cityos("trust", "tree-head", "--data-dir", data).stdout)
    assert "timeStampToken" in head and head["publicKey"].startswith(head["origin"] + "+")
    verified = _cityos("verify", "--data-dir", data, "--log-key", head["publicKey"],
                       "--ca", str(tmp_path / "ca.pem"))
    assert verified.returncode == 0 and "transparency log" in verified.stdout, verified.stdout


def test_init_with_the_municipalitys_own_ca(tmp_path: Path) -> None:
    openssl = system_binary("openssl")
    ca, key = tmp_path / "town-ca.pem", tmp_path / "town-ca.key"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out", str(ca),
                    "-subj", "/C=JP/O=Toyono Town/CN=Toyono Town CA", "-days", "3650",
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
                   check=True, capture_output=True, timeout=30)
    data = str(tmp_path / "var")
    assert _cityos("init", "--data-dir", data, "--ca-cert", str(ca)).returncode == 2
    made = _cityos("init", "--data-dir", data, "--ca-cert", str(ca), "--ca-key", str(key))
    assert made.returncode == 0 and "Toyono Town CA" in made.stdout + made.stderr
    assert _cityos("trust", "ca", "--data-dir", data).stdout == ca.read_text()
    assert _cityos("org", "add", "Toyono Mobility", "--corporate-number", "1180301018771",
                   "--data-dir", data).returncode == 0
    issued = _cityos("trust", "issue", "Toyono Mobility", "--out", str(tmp_path / "o.p12"),
                     "--data-dir", data)
    (tmp_path / "org.pem").write_text(issued.stdout.split("\n", 1)[1])
    checked = subprocess.run([openssl, "verify", "-CAfile", str(ca), str(tmp_path / "org.pem")],
                             capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
