"""A new user checks an evidence bundle's time-stamp with the real `openssl ts -verify`, as
trust.md shows, from the files `cityos trust export-checkpoint` writes; `cityos verify` takes
`--log-key` as a file or the text, and a bad `--ca` file is named as the fault, not the bundle;
`GET /trust/v1/ca` serves the PEM file to `Accept: application/x-pem-file` (issue #29, item 4).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import orjson

from access.secured import Platform
from conftest import CITYOS, system_binary

FIXTURES = Path(__file__).parent / "fixtures"
GOOD = FIXTURES / "bundle.good.json"


def _cityos(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CITYOS, *args], capture_output=True, text=True, timeout=120)


def _openssl_ts(folder: Path, ca: Path | None = None) -> subprocess.CompletedProcess[str]:
    # exactly the command of docs/trust.md, run in the folder the files were written to
    return subprocess.run([system_binary("openssl"), "ts", "-verify", "-data", "checkpoint.txt",
                           "-in", "token.tst", "-token_in", "-CAfile", str(ca or "ca.pem")],
                          capture_output=True, text=True, timeout=30, cwd=folder)


def test_exported_checkpoint_verifies_with_openssl(tmp_path: Path) -> None:
    out = tmp_path / "check"
    made = _cityos("trust", "export-checkpoint", str(GOOD), "--out", str(out))
    assert made.returncode == 0, made.stderr
    assert sorted(p.name for p in out.iterdir()) == ["ca.pem", "checkpoint.txt", "token.tst"]
    checked = _openssl_ts(out)
    assert checked.returncode == 0 and "Verification: OK" in checked.stdout, checked.stderr
    # the data is the signed note up to the blank line, its last newline kept
    note = orjson.loads(GOOD.read_bytes())["treeHead"]["checkpoint"]
    assert (out / "checkpoint.txt").read_text() == note.split("\n\n")[0] + "\n"
    # without that newline openssl refuses: the recipe needs the file exactly as written
    (out / "checkpoint.txt").write_text(note.split("\n\n")[0])
    assert _openssl_ts(out).returncode != 0


def test_a_tampered_token_or_another_ca_fails_openssl(tmp_path: Path) -> None:
    altered = FIXTURES / "bundle.altered-time-stamp.TST_SIGNATURE.json"
    assert _cityos("trust", "export-checkpoint", str(altered), "--out", str(tmp_path / "a")
                   ).returncode == 0
    assert _openssl_ts(tmp_path / "a").returncode != 0
    wrong = FIXTURES / "bundle.wrong-tsa-certificate.TST_UNTRUSTED_TSA.json"
    assert _cityos("trust", "export-checkpoint", str(wrong), "--out", str(tmp_path / "w")
                   ).returncode == 0
    good = tmp_path / "g"
    assert _cityos("trust", "export-checkpoint", str(GOOD), "--out", str(good)).returncode == 0
    assert _openssl_ts(tmp_path / "w", ca=good / "ca.pem").returncode != 0


def test_export_refuses_what_is_not_a_stamped_bundle(tmp_path: Path) -> None:
    unstamped = _cityos("trust", "export-checkpoint",
                        str(FIXTURES / "bundle.unstamped-tree-head.TST_MISSING.json"),
                        "--out", str(tmp_path / "u"))
    assert unstamped.returncode == 1 and "タイムスタンプ" in unstamped.stderr
    assert "Traceback" not in unstamped.stderr
    (tmp_path / "x.json").write_text('{"hello": 1}')
    other = _cityos("trust", "export-checkpoint", str(tmp_path / "x.json"))
    assert other.returncode == 1 and "not an evidence bundle" in other.stderr
    missing = _cityos("trust", "export-checkpoint", str(tmp_path / "nowhere.json"))
    assert missing.returncode == 2 and "nowhere.json" in missing.stderr
    assert "Traceback" not in other.stderr + missing.stderr


def test_verify_pins_a_log_key_file_and_names_a_bad_ca_file(tmp_path: Path) -> None:
    bundle = orjson.loads(GOOD.read_bytes())
    key = tmp_path / "log.key"
    key.write_text(bundle["logKey"] + "\n")
    ca = tmp_path / "ca.pem"
    ca.write_text(bundle["ca"])
    ok = _cityos("verify", "--bundle", str(GOOD), "--log-key", str(key), "--ca", str(ca))
    assert ok.returncode == 0 and ok.stdout.startswith("OK"), ok.stdout + ok.stderr
    text = _cityos("verify", "--bundle", str(GOOD), "--log-key", bundle["logKey"],
                   "--ca", str(ca))
    assert text.returncode == 0, text.stdout + text.stderr
    # the JSON answer of GET /trust/v1/ca, saved as is, is read for its certificate
    answer = tmp_path / "ca.json"
    answer.write_text(orjson.dumps({"certificate": bundle["ca"], "subject": "CN=x"}).decode())
    assert _cityos("verify", "--bundle", str(GOOD), "--log-key", str(key),
                   "--ca", str(answer)).returncode == 0
    # a file that is no CA certificate: the CA file is at fault, not the bundle
    bad = tmp_path / "notes.json"
    bad.write_text('{"hello": "world"}')
    refused = _cityos("verify", "--bundle", str(GOOD), "--ca", str(bad))
    assert refused.returncode == 2
    assert f"--ca {bad}" in refused.stderr and "CA 証明書" in refused.stderr
    assert "BUNDLE_MALFORMED" not in refused.stdout + refused.stderr
    wrong_key = _cityos("verify", "--bundle", str(GOOD), "--log-key", str(bad))
    assert wrong_key.returncode == 2 and f"--log-key {bad}" in wrong_key.stderr
    assert "Traceback" not in refused.stderr + wrong_key.stderr


def test_the_ca_as_a_pem_file(platform: Platform, tmp_path: Path) -> None:
    default = platform.client.get("/trust/v1/ca")
    assert default.status_code == 200 and default.json()["certificate"].startswith("-----BEGIN")
    pem = platform.client.get("/trust/v1/ca", headers={"Accept": "application/x-pem-file"})
    assert pem.status_code == 200
    assert pem.headers["content-type"].startswith("application/x-pem-file")
    assert pem.text == default.json()["certificate"]
    (tmp_path / "ca.pem").write_bytes(pem.content)
    read = subprocess.run([system_binary("openssl"), "x509", "-in", str(tmp_path / "ca.pem"),
                           "-noout", "-subject"], capture_output=True, text=True, timeout=30)
    assert read.returncode == 0 and "cityos" in read.stdout.lower() + read.stderr.lower(), read
