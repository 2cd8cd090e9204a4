"""The log's name (its checkpoints' origin line) is fixed at the platform's first start: a
command run without --port, or a server on another port, signs the same log under the same
name (a new user's `cityos trust tree-head` signed as port 8000 while the demo served 8765)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cityos.keystore import KeyStore
from cityos.settings import load_settings
from cityos.storage import open_store
from cityos.trust.service import Trust


def _origin(data_dir: Path, public_url: str, origin: str = "") -> str:
    settings = load_settings(data_dir, environ={"CITYOS_TRUST_ORIGIN": origin} if origin else {})

    async def main() -> str:
        store = open_store(settings.database_url)
        await store.open()
        try:
            trust = await Trust.open(store, settings.trust, public_url,
                                     KeyStore.at(settings.data_dir))
            return trust.log.origin
        finally:
            await store.close()

    return asyncio.run(main())


def test_the_first_start_names_the_log_for_good(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    data_dir.mkdir(mode=0o700)
    first = _origin(data_dir, "http://127.0.0.1:8765")
    assert first == "127.0.0.1:8765/trust/v1/log"
    assert _origin(data_dir, "http://127.0.0.1:8000") == first  # the CLI's default port
    assert _origin(data_dir, "http://town.example.jp") == first
    # a site that names its log keeps the name it sets
    assert _origin(data_dir, "http://127.0.0.1:8000", origin="toyono.example/log") == \
        "toyono.example/log"
