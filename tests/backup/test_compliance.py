"""`cityos compliance`: the guideline's 55 items in its own wording, each item's status from
the live platform — flipping a setting, making a backup or registering evidence changes it."""

from __future__ import annotations

import csv
import os
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest

from cityos.compliance.items import assess
from cityos.compliance.state import collect
from cityos.settings import load_settings
from conftest import CITYOS, REPO, engine_environ, system_binary

CHECKLIST = REPO / "src/cityos/compliance/data/security_guideline_v2_checklist.tsv"


def _cityos(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CITYOS, *args], capture_output=True, text=True,
                          env={**os.environ, **engine_environ()})


@pytest.fixture
def town(tmp_path: Path) -> Path:
    data = tmp_path / "town"
    made = _cityos("init", "--data-dir", str(data))
    assert made.returncode == 0, made.stderr
    return data


def _items(data: Path, **environ: str) -> dict[str, dict[str, Any]]:
    settings = load_settings(data, environ={**engine_environ(), **environ})
    return {i["id"]: i for i in assess(collect(settings, verify=False))}


def _check(item: dict[str, Any], key: str) -> str:
    return str(next(c["status"] for c in item["checks"] if c["check"] == key))


def test_every_item_in_the_guidelines_words_with_a_status(town: Path, tmp_path: Path) -> None:
    done = _cityos("compliance", "--data-dir", str(town), "--json", "--html",
                   str(tmp_path / "report.html"), "--town", "豊能町")
    assert done.returncode == 1  # a new platform has items to act on (no backup yet, …)
    doc = orjson.loads(done.stdout[:done.stdout.rindex("}") + 1])
    with CHECKLIST.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert len(rows) == 55 and [i["id"] for i in doc["items"]] == [r["id"] for r in rows]
    assert [i["title"] for i in doc["items"]] == [r["title_ja"] for r in rows]
    assert all(i["status"] in ("ng", "warn", "task", "attested", "ok", "na")
               for i in doc["items"])
    by_id = {i["id"]: i for i in doc["items"]}
    assert _check(by_id["サービス④-3"], "verify") == "ok"  # `cityos verify` ran and passed
    assert by_id["ガバナンス①-1"]["status"] == "task" and by_id["ガバナンス①-1"]["task"]
    assert sum(doc["summary"].values()) == 55
    html = (tmp_path / "report.html").read_text("utf-8")
    assert '<html lang="ja">' in html and "自己点検報告書" in html and "豊能町" in html
    assert all(r["id"] in html for r in rows) and "UTC" not in html
    assert "証跡の添付が必要な項目" in html and "これまでの点検" in html


def test_settings_flip_statuses(town: Path) -> None:
    before = _items(town)
    assert before["都市OS①-3"]["status"] == "ng"  # no second factor for admins
    assert _check(before["インシデント対応②"], "alerts") == "ng"  # no alert channel
    assert _check(before["データ連携⑥"], "api-tokens") == "ok"
    assert _check(before["サービス④-1"], "tls") == "ng"
    assert before["ガバナンス①-3"]["status"] == "warn"  # history kept for ever
    after = _items(town, CITYOS_ACCESS_SECOND_FACTOR_ROLES="admin",
                   CITYOS_ACCESS_ALERT_WEBHOOK="https://alerts.example.jp/cityos",
                   CITYOS_OPEN_NGSI="1", CITYOS_BASE_URL="https://city.example.jp",
                   CITYOS_NGSI_HISTORY_RETENTION="*=365")
    # second factor required; the first admin has no passkey yet: attention, not action
    assert _check(after["都市OS①-3"], "second-factor") == "warn"
    assert after["都市OS①-3"]["status"] == "warn"
    assert _check(after["インシデント対応②"], "alerts") == "ok"
    assert after["インシデント対応②"]["status"] == "ng"  # … but nobody to call yet
    assert after["データ連携⑥"]["status"] == "ng"  # the API without tokens
    assert _check(after["サービス④-1"], "tls") == "warn"  # HTTPS at a proxy: attach its setup
    assert _check(after["ガバナンス①-3"], "retention") == "ok"
    assert _check(_items(town, CITYOS_ACCESS_LOCKOUT_AFTER="0")["都市OS①-3"],
                  "lockout") == "ng"


def test_backup_drill_permissions_and_evidence(town: Path) -> None:
    assert _items(town)["都市OS③-2"]["status"] == "ng"  # never backed up
    out = town.parent / "backups"
    assert _cityos("backup", "--data-dir", str(town), "--out-dir", str(out)).returncode == 0
    item = _items(town)["都市OS③-2"]
    assert _check(item, "backup") == "ok" and _check(item, "drill") == "ng"
    assert _cityos("restore-drill", "--data-dir", str(town)).returncode == 0
    item = _items(town)["都市OS③-2"]
    assert _check(item, "drill") == "ok" and item["status"] == "task"  # off-site record
    done = _cityos("compliance", "attest", "都市OS③-2", "--data-dir", str(town), "--evidence",
                   "遠隔地保管: 役場第二庁舎のNAS (運用手順書 v1.2)", "--by", "情報政策課")
    assert done.returncode == 0, done.stderr
    item = _items(town)["都市OS③-2"]
    assert item["status"] == "attested" and "第二庁舎" in item["evidence"]["evidence"]
    bad = _cityos("compliance", "attest", "都市OS⑨-9", "--data-dir", str(town),
                  "--evidence", "x")
    assert bad.returncode == 2 and "is not an item" in bad.stderr
    # a data dir others may read: action needed
    assert _check(_items(town)["都市OS②-3"], "permissions") == "ok"
    town.chmod(0o755)
    assert _check(_items(town)["都市OS②-3"], "permissions") == "ng"
    town.chmod(0o700)


def test_sbom_and_an_offline_advisory_database(town: Path, tmp_path: Path) -> None:
    from importlib.metadata import version

    have = version("httpx")
    vulns = tmp_path / "advisory-database" / "vulns"
    (vulns / "httpx").mkdir(parents=True)
    (vulns / "httpx" / "PYSEC-2099-1.yaml").write_text(  # affects the installed version
        f"id: PYSEC-2099-1\naliases: [CVE-2099-0001]\nsummary: made up for the test\n"
        f"affected:\n- package: {{ecosystem: PyPI, name: httpx}}\n  ranges:\n"
        f"  - type: ECOSYSTEM\n    events: [{{introduced: '0'}}, {{fixed: '{have}9'}}]\n")
    (vulns / "httpx" / "PYSEC-2000-1.yaml").write_text(  # fixed long ago
        "id: PYSEC-2000-1\naffected:\n- package: {ecosystem: PyPI, name: httpx}\n  ranges:\n"
        "  - type: ECOSYSTEM\n    events: [{introduced: '0'}, {fixed: '0.0.1'}]\n")
    sbom = tmp_path / "sbom.json"
    done = _cityos("compliance", "--data-dir", str(town), "--json", "--no-verify",
                   "--advisories", str(tmp_path / "advisory-database"), "--sbom", str(sbom))
    doc = orjson.loads(done.stdout[:done.stdout.rindex("}") + 1])
    item = {i["id"]: i for i in doc["items"]}["都市OS②-2"]
    found = next(c for c in item["checks"] if c["check"] == "software")
    assert found["status"] == "ng" and "httpx" in found["detail"]
    assert "PYSEC-2099-1" in found["detail"] and "PYSEC-2000-1" not in found["detail"]
    bom = orjson.loads(sbom.read_bytes())
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.5"
    assert {"name": "httpx", "version": have} .items() <= next(
        c for c in bom["components"] if c["name"] == "httpx").items()
    # without the vulnerable advisory: checked, nothing found
    (vulns / "httpx" / "PYSEC-2099-1.yaml").unlink()
    clean = _items(town)  # and without a database at all: a task for people
    assert _check(clean["都市OS②-2"], "software") == "task"
    settings = load_settings(town, environ=engine_environ())
    state = collect(settings, verify=False, advisories=tmp_path / "advisory-database")
    checked = {i["id"]: i for i in assess(state)}["都市OS②-2"]
    assert _check(checked, "software") == "ok" and "1件と照合" in checked["checks"][0]["detail"]


def test_the_report_as_pdf_reads_in_japanese(town: Path, tmp_path: Path) -> None:
    system_binary("chromium")
    pdftotext = system_binary("pdftotext")
    pdf = tmp_path / "report.pdf"
    done = _cityos("compliance", "--data-dir", str(town), "--no-verify", "--pdf", str(pdf),
                   "--town", "豊能町")
    assert done.returncode == 1 and "report PDF" in done.stdout, done.stderr
    text = subprocess.run([pdftotext, "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "自己点検報告書" in text and "豊能町" in text and "点検日時" in text
    assert "都市OS③-2" in text and "定期的にバックアップを取得する" in text
    assert "証跡の添付が必要な項目" in text and "UTC" not in text


def test_the_incident_register_evidences_the_incident_items(town: Path) -> None:
    before = _items(town)
    assert _check(before["インシデント対応①"], "contacts") == "ng"
    assert before["インシデント対応④"]["status"] == "ng"  # no drill in the past year
    done = _cityos("incident", "contact", "豊能町 情報政策課", "--role", "責任者", "--reach",
                   "072-000-0000 / joho@town.example.jp", "--data-dir", str(town))
    assert done.returncode == 0, done.stderr
    done = _cityos("incident", "open", "標的型メール訓練", "--drill", "--severity", "high",
                   "--by", "情報政策課", "--data-dir", str(town))
    assert done.returncode == 0 and "INC-" in done.stdout, done.stderr
    ident = done.stdout.split(":")[0]
    half = _items(town)["インシデント対応④"]
    assert half["status"] == "ng"  # a drill counts once its lessons are recorded
    for stage in ("report", "contain", "recover", "lessons"):
        step = _cityos("incident", "step", ident, "--stage", stage, "--note",
                       f"{stage} の手順を確認", "--data-dir", str(town))
        assert step.returncode == 0, step.stderr
    assert "closed" in step.stdout
    after = _items(town)
    assert after["インシデント対応④"]["status"] == "ok"
    assert _check(after["インシデント対応①"], "contacts") == "ok"
    listed = _cityos("incident", "list", "--json", "--data-dir", str(town))
    doc = orjson.loads(listed.stdout)
    assert doc["incidents"][0]["stage"] == "lessons" and doc["incidents"][0]["drill"]
    assert [c["name"] for c in doc["contacts"]] == ["豊能町 情報政策課"]
    bad = _cityos("incident", "step", ident, "--stage", "panic", "--note", "x",
                  "--data-dir", str(town))
    assert bad.returncode == 2 and "the stage is one of" in bad.stderr and "段階" in bad.stderr
    unknown = _cityos("incident", "step", "INC-0-0", "--stage", "report", "--note", "x",
                      "--data-dir", str(town))
    assert unknown.returncode == 2 and "no incident INC-0-0" in unknown.stderr
