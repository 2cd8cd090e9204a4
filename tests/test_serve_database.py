"""`cityos serve` with a PostgreSQL database it cannot reach says so plainly and exits 2:
no traceback, no password in the output."""

from __future__ import annotations

import subprocess
from pathlib import Path

from conftest import CITYOS, free_port


def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    dead = free_port()  # nothing listens there
    done = subprocess.run(
        [CITYOS, "serve", "--data-dir", str(tmp_path / "town"), "--port", str(free_port()),
         "--database-url", f"postgresql://cityos:s3cret-pw@127.0.0.1:{dead}/town"],
        capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin",
                                                         "COLUMNS": "200"})
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert "データベースに接続できません" in out and f"127.0.0.1:{dead}/town" in out
    assert "Traceback" not in out and "s3cret-pw" not in out
