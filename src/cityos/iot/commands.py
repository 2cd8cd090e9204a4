"""Device commands (actuation): a command is an NGSI-LD attribute of the entity the device
feeds, set through the platform and delivered to the device over MQTT; the device's answer
comes back as `<command>Status`.

UltraLight 2.0 command syntax, as FIWARE's IoT Agent uses it: cityos publishes
`<device-id>@<command>|<value>` to `<prefix>/<tenant>/<device-id>/cmd`; the device answers
`<token> <device-id>@<command>|<result>` on `<prefix>/<tenant>/<device-id>/cmdexe`.
"""

from __future__ import annotations

from typing import Any

from cityos.iot.adapters import MAX_TEXT, PayloadError
from cityos.iot.device_types import DeviceType

PENDING = "PENDING"


def status_attr(command: str) -> str:
    return f"{command}Status"


def check_command(kind: DeviceType, command: str, value: Any) -> Any:
    """The command's value as it will be sent; PayloadError when the device type does not
    declare the command or the value does not fit it."""
    declared = kind.commands.get(command)
    if declared is None:
        known = ", ".join(kind.commands) or "none"
        raise PayloadError(f"a {kind.name} has no command {command[:40]!r} (commands: {known})")
    if declared.kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise PayloadError(f"{command}: a number is expected")
        return value
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT or \
            any(c in value for c in "|#@\n"):
        raise PayloadError(f"{command}: a text of 1 to {MAX_TEXT} characters without | # @")
    return value


def command_message(device_id: str, command: str, value: Any) -> str:
    return f"{device_id}@{command}|{value}"


def read_result(payload: bytes, kind: DeviceType, device_id: str, observed: str
                ) -> dict[str, dict[str, Any]]:
    """The `<command>Status` attribute a device's answer sets; PayloadError if malformed."""
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise PayloadError("a command result is UTF-8 text") from None
    target, _, rest = text.partition("@")
    command, sep, result = rest.partition("|")
    if target != device_id or not sep:
        raise PayloadError("a command result is <device-id>@<command>|<result>")
    if command not in kind.commands:
        raise PayloadError(f"a {kind.name} has no command {command[:40]!r}")
    if not result or len(result) > MAX_TEXT:
        raise PayloadError(f"a command result has 1 to {MAX_TEXT} characters")
    return {status_attr(command): {"type": "Property", "value": result, "observedAt": observed}}
