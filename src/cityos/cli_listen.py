"""The listening socket of `cityos serve` and `cityos demo`, bound before anything else happens:
a busy port stops the command before it creates a platform, prints secrets or starts the
simulator, and the very socket is handed to uvicorn, so no other program can take the port
in between."""

from __future__ import annotations

import errno
import socket

from cityos.cli_errors import fail


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port) and listening; exits with one bilingual line when the
    port is taken, not allowed or the address is not this machine's."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # as uvicorn does: a port left in TIME_WAIT by the last run may be reused, a listening one not
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)  # connections made before the app is ready wait in the queue
    except OSError as exc:
        sock.close()
        _refuse(host, port, exc)
    sock.set_inheritable(True)
    return sock


def _refuse(host: str, port: int, exc: OSError) -> None:
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        fail(f"ポート {port} ({host}) は他のプログラムが使用中です。--port で別のポートを"
             "指定してください(make run PORT=8001)",
             f"port {port} on {host} is already in use by another program; choose another with "
             "--port (make run PORT=8001)")
    if exc.errno in (errno.EACCES, errno.EPERM):
        fail(f"ポート {port} を開く権限がありません。1024 以上のポートを指定してください",
             f"not allowed to listen on {where}; choose a port from 1024 up")
    if exc.errno == errno.EADDRNOTAVAIL or isinstance(exc, socket.gaierror):
        fail(f"--host {host} はこのマシンのアドレスではありません",
             f"--host {host} is not an address of this machine")
    fail(f"{where} で待ち受けできません", f"cannot listen on {where} ({exc.strerror or exc})")
