"""`cityos catalog import|export|seed`: the service catalog from the data directory.

Like `cityos org`, these need no login: whoever can read the data directory administers it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cityos.access.cli import run
from cityos.access.service import Access
from cityos.catalog.exchange import read_services, write_services
from cityos.catalog.model import CatalogError
from cityos.catalog.seed import seed_catalog
from cityos.catalog.services import ServiceCatalog
from cityos.cli_console import cli_console

console = cli_console()
catalog_app = typer.Typer(no_args_is_help=True, help="the service catalog (UAX-Link)")
DataDir = Annotated[Path, typer.Option("--data-dir", help="where the platform keeps its data")]
Tenant = Annotated[str, typer.Option("--tenant", help="the tenant (municipality)")]


def _catalog(data_dir: Path, tenant: str, work: Any) -> Any:
    async def call(access: Access) -> Any:
        try:
            return await work(ServiceCatalog(access.store, tenant))
        except CatalogError as exc:
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(1) from None

    return run(data_dir, call)


@catalog_app.command("import")
def import_cmd(file: Annotated[Path, typer.Argument(help="YAML: a list of services or services:")],
               data_dir: DataDir = Path("var"), tenant: Tenant = "") -> None:
    """Create or replace the services of a YAML file (one bad item: nothing is stored)."""
    try:
        text = file.read_bytes()
    except OSError as exc:
        console.print(f"[red]{file}: {exc.strerror}[/]")
        raise typer.Exit(1) from None

    async def work(catalog: ServiceCatalog) -> dict[str, int]:
        return await catalog.put_many(read_services(text))

    counts = _catalog(data_dir, tenant, work)
    console.print(f"追加 {counts['created']} 件・更新 {counts['updated']} 件 / "
                  f"{counts['created']} created, {counts['updated']} updated")


@catalog_app.command("export")
def export_cmd(data_dir: DataDir = Path("var"), tenant: Tenant = "") -> None:
    """Print the catalog as YAML (what `cityos catalog import` reads)."""
    async def work(catalog: ServiceCatalog) -> str:
        return write_services(await catalog.list())

    print(_catalog(data_dir, tenant, work), end="")


@catalog_app.command("seed")
def seed_cmd(data_dir: DataDir = Path("var"), tenant: Tenant = "") -> None:
    """Add the Toyono plan's 59 services (fictional providers) that are missing."""
    async def work(catalog: ServiceCatalog) -> int:
        return await seed_catalog(catalog.store, tenant)

    console.print(f"{_catalog(data_dir, tenant, work)} services added")
