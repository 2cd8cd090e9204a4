"""Start and stop the processes a bench run needs, each pinned to its CPU core.

The server under test gets core 0; the load generator (and this process) core 1.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

SERVER_CORE = 0
CLIENT_CORE = 1


def cores() -> int:
    return len(os.sched_getaffinity(0))


def pin_self(core: int = CLIENT_CORE) -> None:
    """Keep the orchestrator (and the clients it forks) off the server's core."""
    if cores() > core:
        os.sched_setaffinity(0, {core})


def pinned(argv: list[str], core: int) -> list[str]:
    taskset = shutil.which("taskset")
    if taskset is None or os.cpu_count() is None or os.cpu_count() <= core:  # type: ignore[operator]
        return argv
    return [taskset, "-c", str(core), *argv]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Process:
    """A child process, stopped (SIGINT, then SIGKILL) when the bench ends."""

    def __init__(self, argv: list[str], *, core: int, log: Path, env: dict[str, str] | None = None,
                 ready_url: str | None = None, timeout: float = 30.0) -> None:
        self.argv = pinned(argv, core)
        self.log_path = log
        self._log = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(self.argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})}, start_new_session=True)
        if ready_url:
            self._wait(ready_url, timeout)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _wait(self, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._log.close()
                tail = self.log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{self.argv} exited with {self.proc.returncode}:\n{tail}")
            try:
                with urllib.request.urlopen(url, timeout=1) as resp:
                    if resp.status < 500:
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.argv} not ready at {url} after {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self._log.closed:
            self._log.close()

    def __enter__(self) -> Process:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def cityos_argv() -> list[str]:
    exe = Path(sys.executable).with_name("cityos")
    return [str(exe)] if exe.exists() else [sys.executable, "-c",
                                            "from cityos.cli import main; main()"]


def cityos_server(data_dir: Path, port: int, log: Path, *, open_ngsi: bool = True,
                  env: dict[str, str] | None = None) -> Process:
    """One `cityos serve --open-ngsi` worker on a fresh data dir, pinned to the server core
    (without `open_ngsi`: the NGSI-LD API behind the gate, bearer tokens needed)."""
    argv = [*cityos_argv(), "serve", "--data-dir", str(data_dir), "--host", "127.0.0.1",
            "--port", str(port)] + (["--open-ngsi"] if open_ngsi else [])
    return Process(argv, core=SERVER_CORE, log=log, env=env,
                   ready_url=f"http://127.0.0.1:{port}/healthz", timeout=60)


def admin_token(data_dir: Path) -> str:
    """A bearer token of the first admin: the last line of `cityos token --data-dir DIR`."""
    out = subprocess.run([*cityos_argv(), "token", "--data-dir", str(data_dir)],
                         capture_output=True, text=True, timeout=120)
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"cityos token failed ({out.returncode}): {out.stderr[-1000:]}")
    return lines[-1].strip()


def bare_server(doc: Path, port: int, log: Path) -> Process:
    """The bare Starlette+orjson endpoint (bench/bare.py) under the same uvicorn settings."""
    argv = [sys.executable, "-m", "bench.bare", "--doc", str(doc), "--port", str(port)]
    root = Path(__file__).resolve().parents[1]
    env = {"PYTHONPATH": os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH"))
                                         if p)}
    return Process(argv, core=SERVER_CORE, log=log, env=env,
                   ready_url=f"http://127.0.0.1:{port}/healthz")
