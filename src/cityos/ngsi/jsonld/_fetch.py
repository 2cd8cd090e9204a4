"""Download remote JSON-LD @context documents with a total timeout and a size limit.

ETSI GS CIM 009 v1.8 §5.5.7: a context that cannot be retrieved is LdContextNotAvailable.
Every connection (redirects too) passes the egress policy (cityos.egress).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson

from cityos import egress
from cityos.jsonvalue import loads
from cityos.ngsi.errors import BadRequestData, LdContextNotAvailable

_ACCEPT = "application/ld+json, application/json;q=0.9, */*;q=0.1"


class RemoteFetcher:
    """One GET per call (fetches are rare: results are cached by the resolver or registry)."""

    def __init__(self, timeout: float = 5.0, max_bytes: int = 1 << 20) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes

    async def fetch(self, url: str) -> Any:
        try:
            async with asyncio.timeout(self.timeout):
                body = await self._get(url)
        except TimeoutError as exc:
            raise LdContextNotAvailable(
                f"@context {url} not retrieved within {self.timeout} s") from exc
        except (httpx.HTTPError, egress.EgressRefused) as exc:
            raise LdContextNotAvailable(f"@context {url} not retrieved: {exc}") from exc
        try:
            return loads(body)  # nested past MAX_DEPTH: TooDeep, a 400 naming the limit
        except orjson.JSONDecodeError as exc:
            raise BadRequestData(f"@context {url} is not valid JSON: {exc}") from exc

    async def _get(self, url: str) -> bytes:
        egress.policy().target(url, ("http", "https"))
        async with egress.client(timeout=self.timeout, follow_redirects=True,
                                 max_redirects=3) as client, \
                client.stream("GET", url, headers={"Accept": _ACCEPT}) as resp:
            if resp.status_code != 200:
                raise LdContextNotAvailable(
                    f"@context {url} not retrieved: HTTP {resp.status_code}")
            chunks: list[bytes] = []
            size = 0
            async for chunk in resp.aiter_bytes():
                size += len(chunk)
                if size > self.max_bytes:
                    raise LdContextNotAvailable(
                        f"@context {url} is larger than {self.max_bytes} bytes")
                chunks.append(chunk)
            return b"".join(chunks)

    async def aclose(self) -> None:
        """Nothing is pooled; kept so callers can close resolvers uniformly."""
