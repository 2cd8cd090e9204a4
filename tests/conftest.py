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
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson
import pytest
from starlette.testclient import TestClient

from cityos import egress
from cityos.app import create_app
from cityos.settings import load_settings

# as `cityos` itself (cli.main): what tests make in-process (templates, data directories that
# `cityos serve` is then started on) is private, or serve would refuse it
os.umask(0o077)

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


def _admin(server: str, statement: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(server)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


def new_database(server: str, template: str | None = None) -> str:
    """A new database on the test server (a copy of `template`'s database when given): its URL."""
    name = f"cityos_test_{os.getpid()}_{next(_databases)}"
    copy = f' TEMPLATE "{urlsplit(template).path.lstrip("/")}"' if template else ""
    _admin(server, f'CREATE DATABASE "{name}"{copy}')
    return urlunsplit(urlsplit(server)._replace(path=f"/{name}"))


def drop_database(server: str, url: str) -> None:
    _admin(server, f'DROP DATABASE IF EXISTS "{urlsplit(url).path.lstrip("/")}" WITH (FORCE)')


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A new, empty database on the test server for one test; dropped after it."""
    url = new_database(postgres_server)
    yield url
    drop_database(postgres_server, url)


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


# CITYOS_TEST_ENGINES=postgresql alone: every store a test opens is PostgreSQL — each test that
# has a tmp_path gets a new database in CITYOS_DATABASE_URL, which `cityos` subprocesses inherit
# and in-process settings take through `engine_environ()`
STORE_ENGINE = "postgresql" if ENGINES == ("postgresql",) else "sqlite"


@pytest.fixture(autouse=True)
def _test_database(request: pytest.FixtureRequest) -> Iterator[None]:
    if STORE_ENGINE != "postgresql" or "tmp_path" not in request.fixturenames:
        yield
        return
    patch = pytest.MonkeyPatch()
    patch.setenv("CITYOS_DATABASE_URL", str(request.getfixturevalue("postgres_url")))
    yield
    patch.undo()


def engine_environ() -> dict[str, str]:
    """The environment of a test's in-process settings: empty on SQLite, the test's database
    under CITYOS_TEST_ENGINES=postgresql (use in place of `environ={}`)."""
    url = os.environ.get("CITYOS_DATABASE_URL") if STORE_ENGINE == "postgresql" else None
    return {"CITYOS_DATABASE_URL": url} if url else {}


def database_environ(data_dir: Path) -> dict[str, str]:
    """The environment that points a `cityos` command or in-process settings at the database of
    the platform in `data_dir`: a prepared platform's own (database.url), else the test's."""
    marker = data_dir / "database.url"
    if STORE_ENGINE == "postgresql" and marker.exists():
        return {"CITYOS_DATABASE_URL": marker.read_text().split()[1]}
    return engine_environ()


def database_url(data_dir: Path) -> str:
    """The database URL of the platform in `data_dir` (its SQLite file, or as above)."""
    return database_environ(data_dir).get("CITYOS_DATABASE_URL") or \
        f"sqlite:///{(data_dir / 'cityos.db').resolve()}"


def stored_log(url: str, log: str) -> list[dict[str, Any]]:
    """The JSON entries of the store's log `log` (the audit trail, the transparency log's
    leaves), read through the Store from either engine."""
    from cityos.storage import open_store

    async def read() -> list[dict[str, Any]]:
        store = open_store(url)
        await store.open()
        try:
            return [orjson.loads(e.body) for e in await store.read_log(log, limit=100_000)]
        finally:
            await store.close()

    return asyncio.run(read())


def sqlite_only(reason: str) -> pytest.MarkDecorator:
    """For a test that is about SQLite itself (it opens the file with sqlite3): skipped when
    the suite runs on PostgreSQL (CITYOS_TEST_ENGINES=postgresql), with the reason given."""
    return pytest.mark.skipif(STORE_ENGINE == "postgresql", reason=f"SQLite only: {reason}")


def copy_platform(template: Path, data_dir: Path) -> dict[str, str]:
    """Copy a prepared platform (its data directory, and on PostgreSQL its database, named in
    the directory's database.url): the environment of the copy's in-process settings."""
    shutil.copytree(template, data_dir)
    marker = data_dir / "database.url"
    if STORE_ENGINE != "postgresql" or not marker.exists():
        return engine_environ()
    server, source = marker.read_text().split()[:2]
    mine = os.environ.get("CITYOS_DATABASE_URL")
    if mine:  # the test's (empty) database becomes the copy: its subprocesses inherit it
        drop_database(server, mine)
        _admin(server, f'CREATE DATABASE "{urlsplit(mine).path.lstrip("/")}" '
                       f'TEMPLATE "{urlsplit(source).path.lstrip("/")}"')
    else:  # a template made from a template (module fixtures), kept for the session
        mine = new_database(server, template=source)
    marker.write_text(f"{server}\n{mine}\n")
    return {"CITYOS_DATABASE_URL": mine}


def template_environ(request: pytest.FixtureRequest, data_dir: Path) -> dict[str, str]:
    """For a session-scoped prepared platform in `data_dir`: on PostgreSQL a database of its own
    (kept for the session; `copy_platform` copies it), else nothing."""
    if STORE_ENGINE != "postgresql":
        return {}
    server = str(request.getfixturevalue("postgres_server"))
    url = new_database(server)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "database.url").write_text(f"{server}\n{url}\n")
    return {"CITYOS_DATABASE_URL": url}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "var"


@pytest.fixture(params=ENGINES if len(ENGINES) > 1 else None)
def client(request: pytest.FixtureRequest, data_dir: Path) -> Iterator[TestClient]:
    """The whole app in-process (real SQLite file, or PostgreSQL: see ENGINES), NGSI-LD open
    as in conformance runs."""
    engine = getattr(request, "param", ENGINES[0])
    environ: dict[str, str] = {}
    if engine == "postgresql":
        environ["CITYOS_DATABASE_URL"] = str(request.getfixturevalue("postgres_url"))
    environ["CITYOS_EGRESS_ALLOW"] = LOOPBACK  # the tests' receivers and sources are local
    settings = load_settings(data_dir, environ=environ, open_ngsi=True, max_body_bytes=65536)
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


# what the test suite's receivers, context sources and brokers listen on: the settings of the
# apps and servers tests start allow it explicitly (a fresh `cityos serve` refuses loopback)
LOOPBACK = "127.0.0.0/8,::1/128"


@pytest.fixture(autouse=True)
def egress_loopback() -> Iterator[None]:
    """Outbound calls made outside an app (a TSA client, a fetcher, a sender under test) go by
    the process's egress policy: loopback for every test, as the suite's peers are local. An
    app a test builds sets its own from its settings; the policy is restored after the test."""
    before = egress.policy()
    egress.configure(egress.EgressPolicy(tuple(LOOPBACK.split(","))))
    yield
    egress.configure(before)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A real `cityos serve` subprocess on a free port."""

    def __init__(self, data_dir: Path, *args: str, database_url: str | None = None,
                 egress_allow: str = LOOPBACK, env: dict[str, str] | None = None) -> None:
        """`egress_allow`: the server's egress.allow (loopback: the tests' receivers)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("CITYOS_")},
               **(env or {})}
        if egress_allow:
            env["CITYOS_EGRESS_ALLOW"] = egress_allow
        if database_url:
            env["CITYOS_DATABASE_URL"] = database_url
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
def serve(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[type[Server]]:
    """Start `cityos serve` processes; under CITYOS_TEST_ENGINES=postgresql each data directory
    is one platform with a database of its own (the test's first, new ones for the others)."""
    started: list[Server] = []
    databases: dict[Path, str] = {}
    made: list[str] = []
    pg = str(request.getfixturevalue("postgres_server")) if STORE_ENGINE == "postgresql" else ""

    def database_of(data_dir: Path, args: tuple[str, ...]) -> str | None:
        if STORE_ENGINE != "postgresql" or "--database-url" in args:
            return None
        key = data_dir.resolve()
        if key not in databases:
            if os.environ["CITYOS_DATABASE_URL"] not in databases.values():
                databases[key] = os.environ["CITYOS_DATABASE_URL"]
            else:
                made.append(new_database(pg))
                databases[key] = made[-1]
        return databases[key]

    class _Server(Server):
        def __init__(self, *args: str, data_dir: Path | None = None) -> None:
            data_dir = data_dir or tmp_path / f"srv{len(started)}"
            super().__init__(data_dir, *args, database_url=database_of(data_dir, args))
            started.append(self)

    yield _Server
    for s in started:
        s.stop()
    for url in made:
        drop_database(pg, url)
