"""`cityos wallet`: the town currency's books from the command line — export to beancount,
totals, the daily close and the circulation figure. Reads the service's own ledger file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import orjson
import typer

from cityos.services.wallet.errors import WalletError
from cityos.services.wallet.export import export_beancount
from cityos.services.wallet.ledger import JST, Ledger, ledger_path
from cityos.services.wallet.reports import circulation

wallet_app = typer.Typer(no_args_is_help=True, add_completion=False, help="Town currency")

DataDir = Annotated[Path, typer.Option("--data-dir", help="where the platform keeps its data")]


@wallet_app.callback()
def _root() -> None:
    """Town digital currency (地域通貨): the service's ledger."""


def _ledger(data_dir: Path) -> Ledger:
    path = ledger_path(data_dir)
    if not path.exists():
        typer.echo(f"台帳がありません / no ledger at {path}", err=True)
        raise typer.Exit(2)
    return Ledger(path)


@wallet_app.command("export")
def export_command(
    data_dir: DataDir,
    fmt: Annotated[str, typer.Option("--format", help="beancount")] = "beancount",
    output: Annotated[Path | None, typer.Option("--output", help="file (default: stdout)")]
    = None,
) -> None:
    """Print the whole ledger as a beancount file (checked by bean-check)."""
    if fmt != "beancount":
        typer.echo("形式は beancount のみです / the only format is beancount", err=True)
        raise typer.Exit(2)
    ledger = _ledger(data_dir)
    try:
        text = export_beancount(ledger)
    finally:
        ledger.close()
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@wallet_app.command("totals")
def totals_command(data_dir: DataDir) -> None:
    """Print issued, expired, settled, held and the holders' totals as JSON."""
    ledger = _ledger(data_dir)
    try:
        typer.echo(orjson.dumps(ledger.totals()).decode())
    finally:
        ledger.close()


@wallet_app.command("close")
def close_command(
    data_dir: DataDir,
    day: Annotated[str | None, typer.Option("--day", help="YYYY-MM-DD (default: yesterday, JST)")]
    = None,
) -> None:
    """Close a past business day: freeze and print its totals."""
    when = (dt.date.fromisoformat(day) if day
            else dt.datetime.now(JST).date() - dt.timedelta(days=1))
    ledger = _ledger(data_dir)
    try:
        typer.echo(orjson.dumps(ledger.close_day(when)).decode())
    except WalletError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    finally:
        ledger.close()


@wallet_app.command("circulation")
def circulation_command(
    data_dir: DataDir,
    month: Annotated[str, typer.Option("--month", help="YYYY-MM (JST)")],
) -> None:
    """The share of the month's spending that went to shops run in town."""
    ledger = _ledger(data_dir)
    try:
        with ledger.reading() as conn:
            typer.echo(orjson.dumps(circulation(conn, month)).decode())
    finally:
        ledger.close()


@wallet_app.command("pseudonymise")
def pseudonymise_command(
    data_dir: DataDir,
    resident: Annotated[str, typer.Option("--resident", help="the resident's account id")],
) -> None:
    """Erasure: keep the resident's ledger entries (statutory records) under a pseudonym."""
    ledger = _ledger(data_dir)
    try:
        typer.echo(ledger.pseudonymise(resident))
    except WalletError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    finally:
        ledger.close()
