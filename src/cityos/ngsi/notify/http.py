"""Sending a notification over HTTP(S): one POST, accepted on any 2xx.

ETSI GS CIM 009 v1.8 §7.2 (HTTP binding of notifications). Every POST passes the egress
policy (cityos.egress) at connect time: a refused endpoint is a failed delivery whose reason
names the rule.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from cityos import egress
from cityos.ngsi.notify.render import http_headers


class DeliveryFailed(Exception):
    """The receiver did not accept the notification (unreachable, timeout, non-2xx)."""


class HttpSender:
    """One connection pool for every subscription; each worker has at most one request in flight."""

    def __init__(self, timeout: float = 5.0, max_connections: int = 256) -> None:
        self._client = egress.client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=64))

    async def send(self, sub: dict[str, Any], body: dict[str, Any]) -> None:
        uri = sub["notification"]["endpoint"]["uri"]
        try:
            egress.policy().target(uri, ("http", "https"))
            response = await self._client.post(
                uri, content=orjson.dumps(body),
                headers=egress.without_forbidden(http_headers(sub)))
        except egress.EgressRefused as exc:
            raise DeliveryFailed(str(exc)[:300]) from None
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}"[:300]) from None
        if not 200 <= response.status_code < 300:
            raise DeliveryFailed(f"HTTP {response.status_code}")

    async def aclose(self) -> None:
        await self._client.aclose()
