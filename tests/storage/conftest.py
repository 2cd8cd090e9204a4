"""The storage test-suite runs against every engine from one parametrised fixture."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL for each engine: a new SQLite file, or a new PostgreSQL database
    (`postgres_url` in tests/conftest.py: CITYOS_TEST_DATABASE_URL or a throwaway cluster)."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'db.sqlite'}"
