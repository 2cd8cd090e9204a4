"""`cityos device add|list|disable|enable|inventory`: the device registry from the data directory.

Like `cityos org`, these need no login: whoever can read the data directory administers it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from cityos.access.accounts import AccountError
from cityos.access.cli import run
from cityos.access.service import Access
from cityos.cli_console import cli_console
from cityos.cli_errors import USER_ERROR
from cityos.iot.device_types import device_types
from cityos.iot.registry import DeviceError, DeviceRegistry, public

console = cli_console()
device_app = typer.Typer(no_args_is_help=True, help="IoT devices (registry, tokens, inventory)")
DataDir = Annotated[Path, typer.Option("--data-dir", help="where the platform keeps its data")]
Tenant = Annotated[str, typer.Option("--tenant", help="the tenant (municipality) of the device")]


def _registry(data_dir: Path, work: Any) -> Any:
    async def call(access: Access) -> Any:
        try:
            return await work(DeviceRegistry(access.store))
        except DeviceError as exc:  # bilingual: "ja / en"
            typer.echo(f"cityos: {exc}", err=True)
            raise typer.Exit(USER_ERROR) from None

    return run(data_dir, call)


async def _owner_must_exist(access: Access, name: str) -> None:
    """A device's owner is a registered organisation: a typo would make an owner nobody is."""
    try:
        await access.book.get_org(name)
    except AccountError:
        known = ", ".join(sorted(org["name"] for org in await access.book.list_orgs())) or "-"
        typer.echo(f"cityos: 組織 {name!r} は登録されていません（登録済み: {known}） / no "
                   f"organisation {name!r} is registered (known: {known}; `cityos org list`)",
                   err=True)
        raise typer.Exit(2) from None


@device_app.command("add")
def add(device_id: str, device_type: Annotated[str, typer.Option(
            "--type", help=f"device type: {', '.join(device_types())}")],
        data_dir: DataDir = Path("var"), tenant: Tenant = "",
        owner: Annotated[str, typer.Option("--owner", help="owner organisation")] = "",
        entity: Annotated[str | None, typer.Option("--entity", help="entity id it feeds")] = None,
        firmware: Annotated[str, typer.Option("--firmware", help="firmware version")] = "",
        interval: Annotated[float, typer.Option(
            "--interval", help="expected seconds between messages (offline after twice)")] = 60.0,
        lon: Annotated[float | None, typer.Option("--lon", help="longitude")] = None,
        lat: Annotated[float | None, typer.Option("--lat", help="latitude")] = None) -> None:
    """Register a device and print its token (shown once)."""
    location = (lon, lat) if lon is not None and lat is not None else None
    if owner:
        run(data_dir, lambda access: _owner_must_exist(access, owner))
    device, token = _registry(data_dir, lambda r: r.add(
        device_id, device_type, tenant=tenant, owner=owner, entity_id=entity, firmware=firmware,
        location=location, expected_interval=interval))
    console.print(f"Device [bold]{device['id']}[/] feeds {device['entity_id']}.")
    console.print("Device token — shown only now / 機器トークン(再表示されません):")
    print(token)


@device_app.command("list")
def list_devices(data_dir: DataDir = Path("var")) -> None:
    """List devices with their liveness and firmware."""
    devices = _registry(data_dir, lambda r: r.list())
    table = Table("id", "tenant", "type", "owner", "firmware", "last seen", "status", "last error")
    for d in sorted(devices, key=lambda d: d["id"]):
        seen = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(d["last_seen"])) \
            if d["last_seen"] else "-"
        status = "disabled" if d["disabled"] else "offline" if d["offline"] else "ok"
        table.add_row(d["id"], d["tenant"] or "-", d["device_type"], d["owner"] or "-",
                      d["firmware"] or "-", seen, status, (d["last_error"] or "")[:60])
    console.print(table)


@device_app.command("disable")
def disable(device_id: str, data_dir: DataDir = Path("var")) -> None:
    """Refuse the device's messages from now on (its token stops working)."""
    _registry(data_dir, lambda r: r.set_disabled(device_id, True))
    console.print(f"Device {device_id} disabled.")


@device_app.command("enable")
def enable(device_id: str, data_dir: DataDir = Path("var")) -> None:
    """Accept the device's messages again."""
    _registry(data_dir, lambda r: r.set_disabled(device_id, False))
    console.print(f"Device {device_id} enabled.")


@device_app.command("rotate-token")
def rotate_token(device_id: str, data_dir: DataDir = Path("var")) -> None:
    """Give the device a new token (printed once); the old one stops working."""
    token = _registry(data_dir, lambda r: r.rotate_token(device_id))
    console.print("New device token — shown only now / 新しい機器トークン(再表示されません):")
    print(token)


@device_app.command("inventory")
def inventory(data_dir: DataDir = Path("var"), tenant: Annotated[str | None, typer.Option(
        "--tenant", help="only this tenant's devices")] = None) -> None:
    """Print the device inventory as JSON (asset export)."""
    found = _registry(data_dir, lambda r: r.inventory(tenant))
    found["devices"] = [public(d) for d in found["devices"]]
    print(orjson.dumps(found, option=orjson.OPT_INDENT_2).decode())
