"""The IoT HTTP operations: the device registry under /iot/v1/devices and HTTP ingestion.

Staff (admin, operator) manage every device of their tenant, viewers read; an organisation
manages the devices it owns. `POST /iot/v1/ingest` takes no access token: the device's own
token (header `Device-Token`) authenticates it.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from cityos.access import grants
from cityos.access.gate import Forbidden
from cityos.access.service import access_of
from cityos.access.tokens import Principal
from cityos.audit.trail import PRINCIPAL
from cityos.iot.device_types import device_types
from cityos.iot.ingest import Message, WritesRefused
from cityos.iot.registry import DeviceError, public
from cityos.iot.service import CommandError, iot_of
from cityos.jsonvalue import loads
from cityos.ngsi.api.request import tenant_of
from cityos.ngsi.api.respond import no_content, plain_json, problem_response
from cityos.ngsi.errors import (
    AlreadyExists,
    BadRequestData,
    NgsiError,
    PayloadTooLarge,
    ResourceNotFound,
)
from cityos.operations import PUBLIC, Operation, Param, Policy

TAG = "iot"
V1 = "/iot/v1"
# organisations with write access manage their own devices (the ngsi:write scope), staff
# operators every device; viewers and reading organisations see them
IOT_MANAGE = Policy(roles=("operator",), scopes=("ngsi:write", "iot:manage"))
IOT_READ = Policy(roles=("operator", "viewer"), scopes=("ngsi:write", "iot:read"))
MAX_BODY = 16_384


class Unauthorized(NgsiError):
    title = "Unauthorized"
    status = 401


class ServiceUnavailable(NgsiError):
    title = "ServiceUnavailable"
    status = 503


def _caller(request: Request) -> Principal | None:
    principal: Principal | None = request.scope.get(PRINCIPAL)
    return principal


def _owner_filter(request: Request) -> str | None:
    """The organisation whose devices alone this caller sees (None: staff see all)."""
    principal = _caller(request)
    return principal.org if principal is not None and principal.kind == "org" else None


async def _json(request: Request) -> dict[str, Any]:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise PayloadTooLarge(f"the body is over {MAX_BODY} bytes")
    try:
        data = loads(body or b"{}")
    except orjson.JSONDecodeError as exc:
        raise BadRequestData(f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequestData("the body must be a JSON object")
    return data


async def _device(request: Request) -> dict[str, Any]:
    """The device in the path, if this caller may see it (else 404, not 403: no probing)."""
    iot = iot_of(request.app)
    device_id = request.path_params["deviceId"]
    try:
        device = await iot.registry.get(device_id)
    except DeviceError:
        raise ResourceNotFound(f"no device {device_id[:80]!r}") from None
    owner = _owner_filter(request)
    if device["tenant"] != tenant_of(request) or (owner is not None and device["owner"] != owner):
        raise ResourceNotFound(f"no device {device_id[:80]!r}")
    return device


async def list_devices(request: Request) -> Response:
    """Devices of this tenant (an organisation's own devices only)."""
    iot = iot_of(request.app)
    devices = await iot.registry.list(tenant_of(request), _owner_filter(request))
    return plain_json([public(d) for d in sorted(devices, key=lambda d: d["id"])])


async def device_inventory(request: Request) -> Response:
    """The asset inventory (type, firmware, owner, liveness) as one JSON document."""
    iot = iot_of(request.app)
    inventory = await iot.registry.inventory(tenant_of(request))
    owner = _owner_filter(request)
    if owner is not None:
        inventory["devices"] = [d for d in inventory["devices"] if d["owner"] == owner]
        inventory["count"] = len(inventory["devices"])
    return plain_json(inventory)


async def add_device(request: Request) -> Response:
    """Register a device; the answer holds its token, shown only this once."""
    iot = iot_of(request.app)
    data = await _json(request)
    principal = _caller(request)
    owner = data.get("owner", "")
    if principal is not None and principal.kind == "org":
        owner = principal.org  # an organisation registers devices for itself only
        account = await (await access_of(request.app)).account_of(principal) or {}
        writable = account.get("grants", {}).get("write", [])
        kind = device_types().get(str(data.get("type", "")))
        if kind is not None and not grants.granted(writable, kind.entity_type):
            raise Forbidden(f"this organisation may not write {kind.entity_type} entities, "
                            "so it cannot register a device feeding them")
    location = data.get("location")
    if location is not None and not (isinstance(location, list) and len(location) == 2 and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in location)):
        raise BadRequestData("location is [longitude, latitude]")
    try:
        device, token = await iot.registry.add(
            str(data.get("id", "")), str(data.get("type", "")), tenant=tenant_of(request),
            owner=str(owner), entity_id=data.get("entityId"),
            firmware=str(data.get("firmware", "")),
            location=tuple(location) if location else None,  # type: ignore[arg-type]
            expected_interval=data.get("expectedInterval", 60.0), fmt=data.get("format"))
    except DeviceError as exc:
        if "already exists" in str(exc):
            raise AlreadyExists(str(exc)) from None
        raise BadRequestData(str(exc)) from None
    return plain_json({**public(device), "token": token}, status=201,
                      headers={"Location": f"{V1}/devices/{device['id']}"})


async def get_device(request: Request) -> Response:
    return plain_json(public(await _device(request)))


async def change_device(request: Request) -> Response:
    """Enable or disable a device, record a firmware update, change its expected interval."""
    iot = iot_of(request.app)
    device = await _device(request)
    data = await _json(request)
    changes: dict[str, Any] = {}
    for key in data:
        if key not in ("disabled", "firmware", "expectedInterval"):
            raise BadRequestData(f"{key[:40]!r} cannot be changed (disabled, firmware, "
                                 "expectedInterval)")
    if "disabled" in data:
        if not isinstance(data["disabled"], bool):
            raise BadRequestData("disabled is true or false")
        changes["disabled"] = data["disabled"]
    if "firmware" in data:
        if not isinstance(data["firmware"], str) or len(data["firmware"]) > 64:
            raise BadRequestData("firmware is a text of at most 64 characters")
        changes["firmware"] = data["firmware"]
    if "expectedInterval" in data:
        value = data["expectedInterval"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 604_800:
            raise BadRequestData("expectedInterval: more than 0 and at most 604800 seconds")
        changes["expected_interval"] = float(value)
    return plain_json(public(await iot.registry.update(device["id"], **changes)))


async def rotate_device_token(request: Request) -> Response:
    """A new token for the device (shown once); the old one stops working."""
    iot = iot_of(request.app)
    device = await _device(request)
    return plain_json({"id": device["id"], "token": await iot.registry.rotate_token(device["id"])})


async def send_command(request: Request) -> Response:
    """Send a command to a device: the command attribute is set on its entity (status
    PENDING) and delivered over MQTT; the device's answer sets `<command>Status`."""
    iot = iot_of(request.app)
    device = await _device(request)
    data = await _json(request)
    command = data.get("command")
    if not isinstance(command, str) or "value" not in data:
        raise BadRequestData('the body is {"command": name, "value": value}')
    principal = _caller(request)
    try:
        sent = await iot.send_command(device, command, data["value"],
                                      sender=principal.sub if principal is not None else "")
    except CommandError as exc:
        if exc.status == 503:
            raise ServiceUnavailable(exc.detail) from None
        raise BadRequestData(exc.detail) from None
    return plain_json(sent, status=202)


async def ingest(request: Request) -> Response:
    """A device's measurements (JSON or UltraLight 2.0), authenticated by its own token."""
    iot = iot_of(request.app)
    token = request.headers.get("device-token", "").strip()
    if not token:
        return problem_response(Unauthorized("send the device's token in the Device-Token "
                                             "header / Device-Token ヘッダーが必要です"),
                                {"WWW-Authenticate": 'Device-Token realm="cityos"'})
    body = await request.body()
    if len(body) > MAX_BODY:
        raise PayloadTooLarge(f"the body is over {MAX_BODY} bytes")
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fmt = "json" if media in ("application/json", "application/ld+json") else \
        "ul" if media == "text/plain" else None
    try:
        [outcome] = await iot.ingestor.ingest([Message(token, body, "http", fmt=fmt)])
    except WritesRefused as exc:
        raise ServiceUnavailable(f"{exc} / タイムスタンプを取得できないため書き込みを停止中です",
                                 extra={"retryAfter": 60}) from None
    if outcome.device_id is not None and outcome.error != "unknown device or wrong credential":
        request.scope[PRINCIPAL] = Principal(sub=f"device:{outcome.device_id}",
                                             tenant=outcome.tenant)
    if outcome.device_id is None:
        return problem_response(Unauthorized("unknown device or wrong token / 機器の認証に失敗しました"),
                                {"WWW-Authenticate": 'Device-Token realm="cityos"'})
    if not outcome.ok:
        raise BadRequestData(f"payload refused: {outcome.error} / データを受け付けませんでした")
    return no_content()


DEVICE = {"type": "object", "properties": {
    "id": {"type": "string"}, "type": {"type": "string"}, "entityId": {"type": "string"},
    "owner": {"type": "string"}, "firmware": {"type": "string"},
    "format": {"type": "string", "enum": ["json", "ul"]},
    "location": {"type": "array", "items": {"type": "number"}},
    "expectedInterval": {"type": "number"}}}
CHANGE = {"type": "object", "properties": {"disabled": {"type": "boolean"},
                                           "firmware": {"type": "string"},
                                           "expectedInterval": {"type": "number"}}}
COMMAND = {"type": "object", "properties": {"command": {"type": "string"}, "value": {}},
           "required": ["command", "value"]}
DEVICE_ID = Param("deviceId", "path", required=True)
OPERATIONS: list[Operation] = [
    Operation("GET", f"{V1}/devices", list_devices, "List devices", TAG,
              responses={200: "Devices"}, policy=IOT_READ),
    Operation("POST", f"{V1}/devices", add_device, "Register a device (token shown once)", TAG,
              body=DEVICE, body_types=("application/json",),
              responses={201: "Device with its token", 400: "invalid", 409: "exists"},
              policy=IOT_MANAGE),
    Operation("GET", f"{V1}/inventory", device_inventory, "Device inventory (asset export)", TAG,
              responses={200: "Inventory"}, policy=IOT_READ),
    Operation("GET", f"{V1}/devices/{{deviceId}}", get_device, "One device", TAG, (DEVICE_ID,),
              responses={200: "Device", 404: "unknown"}, policy=IOT_READ),
    Operation("PATCH", f"{V1}/devices/{{deviceId}}", change_device,
              "Disable, enable, firmware, expected interval", TAG, (DEVICE_ID,), body=CHANGE,
              body_types=("application/json",),
              responses={200: "Device", 400: "invalid", 404: "unknown"}, policy=IOT_MANAGE),
    Operation("POST", f"{V1}/devices/{{deviceId}}/token", rotate_device_token,
              "New device token (shown once)", TAG, (DEVICE_ID,),
              responses={200: "Token", 404: "unknown"}, policy=IOT_MANAGE),
    Operation("POST", f"{V1}/devices/{{deviceId}}/commands", send_command,
              "Send a command to a device (over MQTT)", TAG, (DEVICE_ID,), body=COMMAND,
              body_types=("application/json",),
              responses={202: "Sent, status PENDING", 400: "unknown command or bad value",
                         404: "unknown", 503: "no MQTT broker"}, policy=IOT_MANAGE),
    Operation("POST", f"{V1}/ingest", ingest, "Device measurements (Device-Token header)", TAG,
              body={"type": "object"}, body_types=("application/json", "text/plain"),
              responses={204: "written", 400: "payload refused", 401: "unknown device",
                         503: "writes suspended"}, policy=PUBLIC),
]
