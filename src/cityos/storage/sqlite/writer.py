"""The single writer thread of a SQLite database, with group commit.

Many requests' jobs share one durable transaction (Datasette's one-writer-per-database queue);
each job runs in its own savepoint so that one job's failure never undoes another's.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

Job = Callable[[sqlite3.Connection], Any]


class Alone:
    """A job run by itself outside any transaction (VACUUM, a WAL checkpoint)."""

    def __init__(self, job: Job) -> None:
        self.job = job

    def __call__(self, conn: sqlite3.Connection) -> Any:
        return self.job(conn)


class Writer:
    """Owns the only read-write connection; `submit` returns when the job's commit is durable."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], max_batch: int = 512) -> None:
        self._connect = connect
        self._queue: queue.SimpleQueue[tuple[Job, asyncio.Future[Any], asyncio.AbstractEventLoop] | None]
        self._queue = queue.SimpleQueue()
        self._max_batch = max_batch
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self.commits = 0
        self.jobs = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="cityos-sqlite-writer", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            raise self._startup_error

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    async def submit(self, job: Job) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put((job, future, loop))
        return await future

    def _run(self) -> None:
        try:
            conn = self._connect()
        except BaseException as exc:
            self._startup_error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                if isinstance(item[0], Alone):
                    self._run_alone(conn, item)
                    continue
                batch = [item]
                stop = False
                alone = None
                while len(batch) < self._max_batch:
                    try:
                        nxt = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None:
                        stop = True
                        break
                    if isinstance(nxt[0], Alone):
                        alone = nxt
                        break
                    batch.append(nxt)
                self._run_batch(conn, batch)
                if alone is not None:
                    self._run_alone(conn, alone)
                if stop:
                    return
        finally:
            conn.close()

    def _run_alone(self, conn: sqlite3.Connection,
                   item: tuple[Job, asyncio.Future[Any], asyncio.AbstractEventLoop]) -> None:
        job, future, loop = item
        try:
            outcome: tuple[bool, Any] = (True, job(conn))
        except BaseException as exc:
            outcome = (False, exc)
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_deliver, [(future, *outcome)])

    def _run_batch(self, conn: sqlite3.Connection,
                   batch: list[tuple[Job, asyncio.Future[Any], asyncio.AbstractEventLoop]]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job, _, _ in batch:
                conn.execute("SAVEPOINT job")
                try:
                    value = job(conn)
                except BaseException as exc:  # the job's own failure: undo just this job
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    outcomes.append((False, exc))
                else:
                    conn.execute("RELEASE job")
                    outcomes.append((True, value))
            conn.execute("COMMIT")
            self.commits += 1
            self.jobs += len(batch)
        except BaseException as exc:  # the transaction itself failed: nothing was written
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            outcomes = [(False, exc)] * len(batch)
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
        for (_, future, loop), (ok, value) in zip(batch, outcomes, strict=True):
            by_loop.setdefault(loop, []).append((future, ok, value))
        for loop, items in by_loop.items():
            with contextlib.suppress(RuntimeError):  # loop closed: nobody is waiting any more
                loop.call_soon_threadsafe(_deliver, items)


def _deliver(items: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in items:
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
