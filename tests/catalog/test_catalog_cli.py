"""`cityos catalog import|export|seed` on a real data directory."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from conftest import CITYOS


def _cityos(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CITYOS, *args], capture_output=True, text=True, timeout=120)


def test_seed_import_export(tmp_path: Path) -> None:
    data = str(tmp_path / "var")
    assert _cityos("init", "--data-dir", data).returncode == 0
    seeded = _cityos("catalog", "seed", "--data-dir", data)
    assert seeded.returncode == 0 and "59 services added" in seeded.stdout
    assert "0 services added" in _cityos("catalog", "seed", "--data-dir", data).stdout
    exported = _cityos("catalog", "export", "--data-dir", data)
    services = yaml.safe_load(exported.stdout)["services"]
    assert len(services) == 59
    shelters = next(s for s in services if s["id"] == "plan-45")
    assert shelters["field"] == "disaster" and shelters["name"]["ja"] == "避難所の混雑状況の可視化サービス"
    assert shelters["provider"] == "豊能防災サービス" and shelters["status"] == "active"
    mine = tmp_path / "mine.yaml"
    mine.write_text("- id: plan-45\n  name: {ja: 避難所混雑マップ}\n  field: ①防災\n"
                    "  provider: 豊能防災サービス\n  deepLink: toyono-bousai://crowd\n"
                    "- id: new-one\n  name: 新サービス\n  field: ⑫行政\n  provider: 豊能町役場\n"
                    "  webFallback: https://town.example.jp/\n", encoding="utf-8")
    done = _cityos("catalog", "import", str(mine), "--data-dir", data)
    assert done.returncode == 0 and "1 created, 1 updated" in done.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("- id: x\n  name: y\n  field: ④\n  provider: z\n  deepLink: a://b\n")
    refused = _cityos("catalog", "import", str(bad), "--data-dir", data)
    assert refused.returncode == 1 and "field" in refused.stdout
    after = yaml.safe_load(_cityos("catalog", "export", "--data-dir", data).stdout)["services"]
    assert len(after) == 60
    assert next(s for s in after if s["id"] == "plan-45")["name"]["ja"] == "避難所混雑マップ"
