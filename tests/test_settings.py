"""Settings: defaults < cityos.toml < CITYOS_* environment < command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from cityos.settings import load_settings


def test_layers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "var"
    data.mkdir()
    (data / "cityos.toml").write_text('port = 8100\n[ngsi]\nmax_limit = 500\n'
                                      'allow_remote_contexts = ["https://a.example/"]\n')
    s = load_settings(data, environ={})
    assert s.port == 8100 and s.ngsi.max_limit == 500
    assert s.ngsi.allow_remote_contexts == ("https://a.example/",)
    s = load_settings(data, environ={"CITYOS_PORT": "8200", "CITYOS_OPEN_NGSI": "1",
                                     "CITYOS_NGSI_MAX_LIMIT": "50"})
    assert s.port == 8200 and s.ngsi.open_ngsi and s.ngsi.max_limit == 50
    s = load_settings(data, environ={"CITYOS_PORT": "8200"}, port=8300)
    assert s.port == 8300
    assert s.database_url == f"sqlite:///{(data / 'cityos.db').resolve()}"


def test_unknown_setting_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "cityos.toml").write_text("prot = 1\n")
    with pytest.raises(ValueError, match="unknown setting 'prot'"):
        load_settings(tmp_path, environ={})
