"""Shared fixtures: an in-process app over a real SQLite file, and real `cityos serve` processes."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "var"


@pytest.fixture
def client(data_dir: Path) -> Iterator[TestClient]:
    """The whole app in-process (real SQLite file), NGSI-LD open as in conformance runs."""
    settings = load_settings(data_dir, environ={}, open_ngsi=True, max_body_bytes=65536)
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
