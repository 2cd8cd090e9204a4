"""The vault: per-resident AES-256-GCM keys under a master key, erasure, master-key rotation."""

from __future__ import annotations

from pathlib import Path

import pytest

from cityos.personal.vault import ENV, MAGIC, Vault, VaultError, new_master_key, rotate_master_key


def test_seal_open_and_erase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    vault = Vault.at(tmp_path)
    sealed = vault.seal("", "res_a", b'{"bloodType": "AB-secret"}')
    assert sealed.startswith(MAGIC) and b"AB-secret" not in sealed
    assert vault.open("", "res_a", sealed) == b'{"bloodType": "AB-secret"}'
    assert vault.open("", "res_b", sealed) is None  # another subject's key never opens it
    assert vault.open("town-b", "res_a", sealed) is None  # nor the same id in another tenant
    assert vault.open("", "res_a", b'{"plain": 1}') == b'{"plain": 1}'  # stored before sealing
    assert (tmp_path / "personal" / "master.key").stat().st_mode & 0o777 == 0o600
    import sqlite3

    with sqlite3.connect(tmp_path / "personal" / "keys.db") as db:
        [(wrapped,)] = db.execute("SELECT wrapped FROM subject_keys WHERE subject = 'res_a'")
    assert wrapped in (tmp_path / "personal" / "keys.db").read_bytes()
    assert vault.erase("", "res_a") and not vault.has_key("", "res_a")
    assert vault.open("", "res_a", sealed) is None
    vault.close()
    again = Vault.at(tmp_path)  # a new process: the key is gone from the file too
    assert again.open("", "res_a", sealed) is None and again.erased("", "res_a")
    again.close()
    raw = (tmp_path / "personal" / "keys.db").read_bytes()
    assert b"res_a" in raw and wrapped not in raw  # a tombstone; the wrapped key is zeroed


def test_master_key_rotation_keeps_data_readable(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    vault = Vault.at(tmp_path)
    sealed = [vault.seal("", f"res_{n}", f"secret {n}".encode()) for n in range(5)]
    vault.close()
    old = (tmp_path / "personal" / "master.key").read_text()
    count, text = rotate_master_key(tmp_path)
    assert count == 5 and text is None
    assert (tmp_path / "personal" / "master.key").read_text() != old
    vault = Vault.at(tmp_path)
    assert [vault.open("", f"res_{n}", s) for n, s in enumerate(sealed)] == \
        [f"secret {n}".encode() for n in range(5)]
    vault.close()
    with pytest.raises(VaultError, match="does not match"):
        Vault.at(tmp_path, old)


def test_master_key_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = new_master_key()
    monkeypatch.setenv(ENV, key)
    vault = Vault.at(tmp_path)
    sealed = vault.seal("", "res_x", b"x")
    vault.close()
    assert not (tmp_path / "personal" / "master.key").exists()
    count, new = rotate_master_key(tmp_path)
    assert count == 1 and new is not None and new != key
    with pytest.raises(VaultError):
        Vault.at(tmp_path)  # the environment still holds the old key
    monkeypatch.setenv(ENV, new)
    assert Vault.at(tmp_path).open("", "res_x", sealed) == b"x"
    monkeypatch.setenv(ENV, "not base64!")
    with pytest.raises(VaultError, match="32 bytes"):
        Vault.at(tmp_path / "other")


def test_rotate_from_the_command_line(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    cityos = str(Path(sys.executable).with_name("cityos"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYOS_")}
    vault = Vault.at(tmp_path, "")
    sealed = vault.seal("", "res_cli", b"kept")
    vault.close()
    before = (tmp_path / "personal" / "master.key").read_text()
    done = subprocess.run([cityos, "personal", "rotate-master-key", "--data-dir", str(tmp_path)],
                          capture_output=True, text=True, env=env, check=True)
    assert "1" in done.stdout and before != (tmp_path / "personal" / "master.key").read_text()
    assert Vault.at(tmp_path, "").open("", "res_cli", sealed) == b"kept"


def test_two_processes_share_the_keys(tmp_path: Path) -> None:
    master = new_master_key()
    first, second = Vault.at(tmp_path, master), Vault.at(tmp_path, master)
    sealed = first.seal("", "res_both", b"one key")
    assert first.open("", "res_both", second.seal("", "res_both", b"x")) == b"x"
    assert second.open("", "res_both", sealed) == b"one key"
    first.close()
    second.close()


def test_a_key_erased_by_another_process_stops_working(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from cityos.personal import vault as vault_module

    master = new_master_key()
    reader, eraser = Vault.at(tmp_path, master), Vault.at(tmp_path, master)
    sealed = reader.seal("", "res_gone", b"secret")
    assert eraser.erase("", "res_gone")
    assert reader.open("", "res_gone", sealed) == b"secret"  # cached a little while
    monkeypatch.setattr(vault_module, "RECHECK_SECONDS", 0.0)
    assert reader.open("", "res_gone", sealed) is None  # re-read: gone
    reader.close()
    eraser.close()
