"""Shared fixtures: an in-process app over a real SQLite file, and real `cityos serve` processes."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from starlette.testclient import TestClient

from cityos.app import create_app
from cityos.settings import load_settings

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
CITYOS = str(Path(sys.executable).with_name("cityos"))


def system_binary(name: str) -> str:
    """The path of a system program a test talks to (mosquitto, chromium, openssl ...).

    `.ci/run` installs every one of them, so under CI a missing program fails the test.
    On a developer's machine without it the test is skipped and says what to install.
    """
    for candidate in (name, f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        found = shutil.which(candidate)
        if found:
            return found
    message = f"{name} is not installed (apt-get install {name}; .ci/run installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _postgres_bin() -> Path:
    """The directory of PostgreSQL's server programs (Debian: /usr/lib/postgresql/N/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    message = "PostgreSQL is not installed (apt-get install postgresql; .ci/run installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a PostgreSQL server's maintenance database: CITYOS_TEST_DATABASE_URL when
    set (its user may create databases), else a throwaway cluster on a Unix socket, started
    here (fsync off: it is thrown away) and stopped after the session."""
    given = os.environ.get("CITYOS_TEST_DATABASE_URL")
    if given:
        yield given
        return
    bin_dir = _postgres_bin()
    # not under pytest's root-only temporary directory: the postgres account must reach it
    root = Path(tempfile.mkdtemp(prefix="cityos-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the cluster as the postgres account
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", free_port()
    subprocess.run([*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres",
                    "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
                   check=True, capture_output=True)
    options = (f"-p {port} -k {root} -c listen_addresses='' -c fsync=off "
               "-c full_page_writes=off -c max_connections=200")
    subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options,
                    "-l", str(root / "log"), "-w", "start"], check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@/postgres?host={root}&port={port}"
    finally:
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


_databases = itertools.count()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A new, empty database on the test server for one test; dropped after it."""
    import asyncpg

    name = f"cityos_test_{os.getpid()}_{next(_databases)}"
    parts = urlsplit(postgres_server)

    async def admin(statement: str) -> None:
        conn = await asyncpg.connect(postgres_server)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    yield urlunsplit(parts._replace(path=f"/{name}"))
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL for each engine, for the storage test-suite: a new SQLite file, or a new
    PostgreSQL database (`postgres_url`: CITYOS_TEST_DATABASE_URL or a throwaway cluster)."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'db.sqlite'}"


# engines the in-process `client` runs on: CITYOS_TEST_ENGINES=sqlite,postgresql runs every
# API test on both (test ids gain [sqlite]/[postgresql]); default SQLite alone, ids unchanged
ENGINES = tuple(e.strip() for e in os.environ.get("CITYOS_TEST_ENGINES", "sqlite").split(",")
                if e.strip())


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "var"


@pytest.fixture(params=ENGINES if len(ENGINES) > 1 else None)
def client(request: pytest.FixtureRequest, data_dir: Path) -> Iterator[TestClient]:
    """The whole app in-process (real SQLite file, or PostgreSQL: see ENGINES), NGSI-LD open
    as in conformance runs."""
    engine = getattr(request, "param", ENGINES[0])
    environ = {}
    if engine == "postgresql":
        environ["CITYOS_DATABASE_URL"] = str(request.getfixturevalue("postgres_url"))
    settings = load_settings(data_dir, environ=environ, open_ngsi=True, max_body_bytes=65536)
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A real `cityos serve` subprocess on a free port."""

    def __init__(self, data_dir: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CITYOS_")}
        self.proc = subprocess.Popen(
            [CITYOS, "serve", "--data-dir", str(data_dir), "--port", str(self.port), *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        deadline = time.monotonic() + 90  # a loaded CI machine starts slowly
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"cityos serve exited: {self.stop()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("cityos serve did not become healthy in 90 s")

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is None or self.proc.stdout.closed:
            return ""
        output = self.proc.stdout.read()
        self.proc.stdout.close()
        return output


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[type[Server]]:
    started: list[Server] = []

    class _Server(Server):
        def __init__(self, *args: str, data_dir: Path | None = None) -> None:
            super().__init__(data_dir or tmp_path / f"srv{len(started)}", *args)
            started.append(self)

    yield _Server
    for s in started:
        s.stop()
