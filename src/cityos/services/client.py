"""A service's handle on the platform: the HTTP API under the service's own organisation.

In `cityos serve` the client speaks to the very ASGI app it runs in (httpx's ASGI transport):
every request passes the gate, the type grants, the residents' consents, the data tracker,
the audit trail and the transparency log exactly as a company's request over the network
would. Pointed at a `base_url` it is the same client over the network.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

import httpx
import orjson

NGSI = "/ngsi-ld/v1"
PAGE = 1000  # entities per page (the platform's max_limit by default)


class PlatformError(RuntimeError):
    """The platform refused a request: its status and ProblemDetails."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        super().__init__(f"{status}: {problem.get('detail') or problem.get('title') or problem}")


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"detail": response.text[:300]}
    return body if isinstance(body, dict) else {"detail": body}


class PlatformClient:
    """Bearer token from client credentials, renewed before it expires and once on a 401."""

    def __init__(self, http: httpx.AsyncClient, client_id: str, secret: str,
                 tenant: str = "") -> None:
        self.http = http
        self.client_id = client_id
        self._secret = secret
        self.tenant = tenant
        self._token = ""
        self._expires = 0.0
        self._lock = asyncio.Lock()

    @classmethod
    def in_process(cls, app: Any, base_url: str, client_id: str, secret: str,
                   tenant: str = "") -> PlatformClient:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 0))
        return cls(httpx.AsyncClient(transport=transport, base_url=base_url, timeout=60.0),
                   client_id, secret, tenant)

    @classmethod
    def over_network(cls, base_url: str, client_id: str, secret: str,
                     tenant: str = "") -> PlatformClient:
        return cls(httpx.AsyncClient(base_url=base_url, timeout=30.0), client_id, secret, tenant)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def token(self, renew: bool = False) -> str:
        async with self._lock:
            if renew or not self._token or time.monotonic() > self._expires:
                response = await self.http.post("/auth/token", data={
                    "grant_type": "client_credentials", "client_id": self.client_id,
                    "client_secret": self._secret})
                if response.status_code != 200:
                    raise PlatformError(response.status_code, _problem(response))
                body = response.json()
                self._token = body["access_token"]
                self._expires = time.monotonic() + max(30.0, float(body["expires_in"]) - 60.0)
            return self._token

    async def request(self, method: str, path: str, *, json: Any = None,
                      params: dict[str, Any] | None = None,
                      headers: dict[str, str] | None = None, ok: Iterable[int] = ()
                      ) -> httpx.Response:
        """One request under the service's token; a status ≥ 400 not in `ok` raises
        PlatformError. A 429 is retried after the time the platform asks for."""
        sent = dict(headers or {})
        if self.tenant:
            sent.setdefault("NGSILD-Tenant", self.tenant)
        content = None
        if json is not None:
            content = orjson.dumps(json)
            sent.setdefault("Content-Type", "application/json")
        allowed = set(ok)
        for attempt in range(4):
            sent["Authorization"] = f"Bearer {await self.token()}"
            response = await self.http.request(method, path, content=content, params=params,
                                               headers=sent)
            if response.status_code == 401 and attempt == 0:
                await self.token(renew=True)
                continue
            if response.status_code == 429 and attempt < 3:
                await asyncio.sleep(min(5.0, float(response.headers.get("Retry-After", "1"))))
                continue
            break
        if response.status_code >= 400 and response.status_code not in allowed:
            raise PlatformError(response.status_code, _problem(response))
        return response

    # NGSI-LD, with the core @context (type and attribute names as the demo town uses them)

    async def query(self, type: str | None = None, q: str | None = None,
                    attrs: Iterable[str] | None = None, key_values: bool = True,
                    **params: Any) -> list[dict[str, Any]]:
        """Every entity matching (all pages), as far as the service may read them."""
        base: dict[str, Any] = {"limit": PAGE, **params}
        if type:
            base["type"] = type
        if q:
            base["q"] = q
        if attrs:
            base["attrs"] = ",".join(attrs)
        if key_values:
            base["options"] = "keyValues"
        found: list[dict[str, Any]] = []
        while True:
            response = await self.request("GET", f"{NGSI}/entities",
                                          params={**base, "offset": len(found)})
            page = response.json()
            found.extend(page)
            if len(page) < PAGE:
                return found

    async def get(self, entity_id: str, key_values: bool = True) -> dict[str, Any] | None:
        response = await self.request("GET", f"{NGSI}/entities/{entity_id}", ok=(404,),
                                      params={"options": "keyValues"} if key_values else None)
        return None if response.status_code == 404 else response.json()

    async def upsert(self, entities: list[dict[str, Any]]) -> None:
        """Create or replace the given attributes of each entity (batch upsert, update mode);
        a partial failure raises PlatformError(207) with the errors."""
        for start in range(0, len(entities), PAGE):
            chunk = entities[start:start + PAGE]
            response = await self.request("POST", f"{NGSI}/entityOperations/upsert",
                                          json=chunk, params={"options": "update"})
            if response.status_code == 207:
                raise PlatformError(207, _problem(response))

    async def patch(self, entity_id: str, attrs: dict[str, Any]) -> None:
        await self.request("PATCH", f"{NGSI}/entities/{entity_id}/attrs", json=attrs)

    async def delete(self, entity_id: str) -> None:
        await self.request("DELETE", f"{NGSI}/entities/{entity_id}", ok=(404,))

    async def ask_consent(self, resident_id: str, category: str, purpose: str, *,
                          service: str = "", notice: str = "", if_refused: str = ""
                          ) -> dict[str, Any]:
        """Ask a resident for consent (she decides in the app: the service's name, why, and
        what she loses by refusing are shown as written); the consent record."""
        response = await self.request("POST", "/personal/v1/consents", json={
            "resident": resident_id, "category": category, "purpose": purpose,
            "service": service, "notice": notice, "ifRefused": if_refused})
        return dict(response.json())

    async def consents(self) -> list[dict[str, Any]]:
        """The consents this service asked for, with their state."""
        return list((await self.request("GET", "/personal/v1/consents")).json())
