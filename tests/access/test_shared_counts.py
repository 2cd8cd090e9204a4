"""What several processes' counts do to one process's rate limiter and monitor (issue 10):
the exchange itself is tested on PostgreSQL in tests/storage/test_postgres_coordination.py
and end to end with two `cityos serve` in tests/storage/test_postgres_processes.py."""

from __future__ import annotations

import asyncio
from typing import Any

from cityos.access.monitor import Monitor, list_alerts
from cityos.access.ratelimit import RateLimiter
from cityos.storage import open_store


def test_what_others_spent_is_taken_from_the_bucket() -> None:
    limiter = RateLimiter(rate=1.0, burst=5)
    assert limiter.spent is None  # one process: nothing counted
    limiter.spent = {}
    assert limiter.take("org:a", now=0.0) == 0.0
    assert limiter.take_now("org:a", 0.0)
    assert limiter.spent == {"org:a": 2}
    limiter.debit("org:a", 3, now=0.0)  # the burst is gone: 5 - 2 - 3
    assert not limiter.take_now("org:a", 0.0)
    assert limiter.take("org:a", now=0.0) == 1.0  # one second to the next token
    limiter.debit("org:b", 100, now=0.0)  # a client far over: it waits two bursts at most
    assert limiter.take("org:b", now=0.0) == 6.0


def test_others_volume_and_events_count_in_this_process() -> None:
    monitor = Monitor(store=None)  # type: ignore[arg-type]
    monitor.counted = {}
    assert monitor.volume("org:a", 10.0, 0, now=60.0) is None
    monitor.absorb("v\x1forg:a", 99, now=61.0)  # the others' requests in the same minute
    assert monitor._volumes["org:a"][1] == 100
    assert monitor.counted == {"v\x1forg:a": 1}
    assert not monitor.count("id-scan", "org:a", limit=5)
    monitor.absorb("c\x1fid-scan\x1forg:a", 10)  # the others saw the limit passed
    assert monitor.count("id-scan", "org:a", limit=5)  # the next event here says so


def test_one_process_raises_an_alert_the_others_see_too(postgres_url: str) -> None:
    async def scenario() -> None:
        one: Any = open_store(postgres_url)
        two: Any = open_store(postgres_url)
        await one.open()
        await two.open()
        try:
            first, second = Monitor(one), Monitor(two)
            assert await first.alert("unusual-volume", "org:a", requests=900)
            assert not await second.alert("unusual-volume", "org:a", requests=910)
            assert await second.alert("unusual-volume", "org:b", requests=700)  # another subject
            kinds = [(a["kind"], a["subject"]) for a in await list_alerts(one)]
            assert sorted(kinds) == [("unusual-volume", "org:a"), ("unusual-volume", "org:b")]
        finally:
            await one.close()
            await two.close()

    asyncio.run(scenario())
