"""The device registry: devices, their owners, credentials, firmware and liveness, in the store's kv.

MIC guideline アセット①-1 (liveness, 死活監視), ①-2 (firmware inventory), ②-2 (device
authentication: one random token per device, only its SHA-256 kept, no shared defaults).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from typing import Any

from cityos.iot.device_types import FORMATS, device_types
from cityos.ngsi.model.terms import is_uri
from cityos.storage.base import Store

DEVICES = "iot.devices"  # device id -> device
TOKENS = "iot.device_tokens"  # sha256(token) -> device id
TOKEN_PREFIX = "dk_"
_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,63}$")
_TENANT = re.compile(r"^[\w.-]{0,64}$")
_CACHE_SECONDS = 2.0  # a disabled device or a new token is seen by every process within this
PUBLIC_FIELDS = ("id", "tenant", "owner", "device_type", "format", "entity_id", "entity_type",
                 "firmware", "location", "expected_interval", "created", "last_seen",
                 "last_error", "last_error_at", "disabled", "offline", "messages", "rejected")


class DeviceError(ValueError):
    """A request about devices that cannot be done (unknown, duplicate, invalid)."""


def device_uri(device_id: str) -> str:
    """The device as an NGSI-LD URI (the object of the `refDevice` relationships it writes)."""
    return f"urn:ngsi-ld:Device:{device_id}"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def public(device: dict[str, Any]) -> dict[str, Any]:
    """The device without its credential hash (for the API, the CLI and the inventory)."""
    return {k: device.get(k) for k in PUBLIC_FIELDS}


class DeviceRegistry:
    """Creates, finds and updates devices. One per store (and process)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._by_token: dict[str, tuple[float, str | None]] = {}
        self._devices: dict[str, tuple[float, dict[str, Any] | None]] = {}

    async def add(self, device_id: str, device_type: str, *, tenant: str = "", owner: str = "",
                  entity_id: str | None = None, firmware: str = "",
                  location: tuple[float, float] | None = None, expected_interval: float = 60.0,
                  fmt: str | None = None) -> tuple[dict[str, Any], str]:
        """Register a device; returns it and its token (shown once)."""
        if not _ID.match(device_id):
            raise DeviceError(f"機器IDは1〜64文字の英数字と . - _ です / device id "
                              f"{device_id[:80]!r}: 1-64 letters, digits . - _")
        kind = device_types().get(device_type)
        if kind is None:
            raise DeviceError(f"機器の種類 {device_type[:40]!r} はありません / unknown device "
                              f"type {device_type[:40]!r}; known: {', '.join(device_types())}")
        if not _TENANT.match(tenant):
            raise DeviceError(f"{tenant[:80]!r} はテナント名ではありません / tenant "
                              f"{tenant[:80]!r} is not a tenant name")
        fmt = fmt or kind.format
        if fmt not in FORMATS:
            raise DeviceError(f"データ形式は {', '.join(FORMATS)} のいずれかです / payload format "
                              f"is one of {', '.join(FORMATS)}")
        entity_id = entity_id or f"urn:ngsi-ld:{kind.entity_type}:{device_id}"
        if not is_uri(entity_id):
            raise DeviceError(f"エンティティID {entity_id[:80]!r} が URI ではありません / entity id "
                              f"{entity_id[:80]!r} is not a URI")
        if not (isinstance(expected_interval, int | float) and 0 < expected_interval <= 604_800):
            raise DeviceError("報告間隔は0秒より長く604800秒以下です / expected interval: more "
                              "than 0 and at most 604800 seconds")
        if location is not None:
            lon, lat = location
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise DeviceError("位置は [経度, 緯度] の度数です / location is [longitude, "
                                  "latitude] in degrees")
        if len(firmware) > 64 or len(owner) > 100:
            raise DeviceError("ファームウェアは64文字以内、所有者は100文字以内です / firmware has at "
                              "most 64 characters, owner at most 100")
        if await self.store.kv_get(DEVICES, device_id) is not None:
            raise DeviceError(f"機器 {device_id!r} はすでに登録されています / device "
                              f"{device_id!r} already exists")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        device: dict[str, Any] = {
                  "id": device_id, "tenant": tenant, "owner": owner, "device_type": device_type,
                  "format": fmt, "entity_id": entity_id, "entity_type": kind.entity_type,
                  "firmware": firmware, "location": list(location) if location else None,
                  "expected_interval": float(expected_interval), "created": time.time(),
                  "last_seen": None, "last_error": None, "last_error_at": None,
                  "disabled": False, "offline": False, "messages": 0, "rejected": 0,
                  "token": token_digest(token)}
        await self.store.kv_put(TOKENS, device["token"], device_id)
        await self.store.kv_put(DEVICES, device_id, device)
        return device, token

    async def get(self, device_id: str) -> dict[str, Any]:
        device = await self.store.kv_get(DEVICES, device_id)
        if device is None:
            raise DeviceError(f"機器 {device_id[:80]!r} は登録されていません / no device "
                              f"{device_id[:80]!r}")
        return dict(device)

    async def cached(self, device_id: str) -> dict[str, Any] | None:
        """The device as read at most two seconds ago (the ingestion hot path)."""
        now = time.monotonic()
        hit = self._devices.get(device_id)
        if hit is not None and now - hit[0] < _CACHE_SECONDS:
            return hit[1]
        device = await self.store.kv_get(DEVICES, device_id)
        if len(self._devices) > 100_000:
            self._devices.clear()
        self._devices[device_id] = (now, device)
        return device

    async def by_token(self, token: str) -> dict[str, Any] | None:
        """The live (not disabled) device whose token this is, or None."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
            return None
        digest = token_digest(token)
        now = time.monotonic()
        hit = self._by_token.get(digest)
        if hit is None or now - hit[0] >= _CACHE_SECONDS:
            hit = (now, await self.store.kv_get(TOKENS, digest))
            if len(self._by_token) > 100_000:
                self._by_token.clear()
            self._by_token[digest] = hit
        device = None if hit[1] is None else await self.cached(hit[1])
        if device is None or device.get("disabled") or device.get("token") != digest:
            return None
        return device

    async def list(self, tenant: str | None = None, owner: str | None = None
                   ) -> list[dict[str, Any]]:
        return [d for _, d in await self.store.kv_list(DEVICES)
                if (tenant is None or d["tenant"] == tenant)
                and (owner is None or d["owner"] == owner)]

    async def update(self, device_id: str, **changes: Any) -> dict[str, Any]:
        device = await self.get(device_id)
        device.update(changes)
        await self.store.kv_put(DEVICES, device_id, device)
        self._devices.pop(device_id, None)
        return device

    async def set_disabled(self, device_id: str, disabled: bool) -> dict[str, Any]:
        return await self.update(device_id, disabled=disabled)

    async def rotate_token(self, device_id: str) -> str:
        """A new token; the old one stops working at once."""
        device = await self.get(device_id)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        await self.store.kv_delete(TOKENS, device["token"])
        device["token"] = token_digest(token)
        await self.store.kv_put(TOKENS, device["token"], device_id)
        await self.store.kv_put(DEVICES, device_id, device)
        self._devices.pop(device_id, None)
        return token

    async def inventory(self, tenant: str | None = None) -> dict[str, Any]:
        """The asset inventory (アセット①-2): every device with type, firmware, owner, status."""
        devices = [public(d) for d in await self.list(tenant)]
        devices.sort(key=lambda d: d["id"])
        return {"generatedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "count": len(devices), "devices": devices}
