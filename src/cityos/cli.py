"""The `cityos` command: init, serve, demo and the admin verbs named in ARCHITECTURE.md.

Sub-commands of other parts (e.g. `cityos darp`) live in their own modules, named in PARTS and
imported only when used (cli_lazy), so that `cityos --help` answers at once. A new part's command
is one more PARTS entry. Errors reach the user as one line in Japanese and English (cli_errors).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from cityos import __version__
from cityos.cli_console import cli_console
from cityos.cli_errors import fail, guarded, usable_data_dir
from cityos.cli_lazy import Part, lazy_group
from cityos.settings import Settings, load_settings

if TYPE_CHECKING:  # asyncio, logging and socket load when a command runs, not for --help
    import socket

# The parts' commands, imported only when one of them runs (`cityos --help` imports none)
PARTS = {
    "org": Part("cityos.access.cli:org_app", "organisations and their client credentials"),
    "staff": Part("cityos.access.cli:staff_app", "staff accounts (admin, operator, viewer)"),
    "residents": Part("cityos.access.cli:residents_app",
                      "residents' accounts (the app's sign-in)"),
    "token": Part("cityos.access.cli:token",
                  "Print a bearer access token on the last line (for scripts)."),
    "accounts": Part("cityos.access.cli:accounts_app", "the account inventory (棚卸し)"),
    "audit": Part("cityos.audit.cli:audit_app", "the audit trail of every request"),
    "verify": Part("cityos.trust.cli:verify_cmd",  # the audit chain, then the transparency log
                   "Verify the audit trail's hash chain and the transparency log."),
    "trust": Part("cityos.trust.cli:trust_app",
                  "platform CA, seal certificates, transparency log"),
    "device": Part("cityos.iot.cli:device_app", "IoT devices: registry, tokens, inventory"),
    "catalog": Part("cityos.catalog.cli:catalog_app",
                    "the service catalog: import, export, seed"),
    "personal": Part("cityos.personal.cli:personal_app", "Personal-Link: residents' data keys"),
    "keys": Part("cityos.keys_cli:keys_app", "the key store: private keys and secrets (rotation)"),
    "energy": Part("cityos.services.energy.cli:energy_app",
                   "energy and net zero: solar forecasts, shelter power, CO2 report"),
    "backup": Part("cityos.backup.cli:backup_cmd",
                   "Back up the platform while it serves (encrypted, with a manifest)."),
    "restore": Part("cityos.backup.cli:restore_cmd",
                    "Restore a backup into a new data dir, then verify it."),
    "restore-drill": Part("cityos.backup.cli:drill_cmd",
                          "Restore drill: restore into a temporary dir, verify, record."),
    "compliance": Part("cityos.compliance.cli:compliance_app",
                       "the security guideline self-check (55 items, live evidence)"),
    "incident": Part("cityos.compliance.incident_cli:incident_app",
                     "the incident register: detect, report, contain, recover, lessons"),
    "darp": Part("cityos.services.ondemand.cli:darp_app",
                 "AI on-demand transport (dial-a-ride) solver"),
    "ondemand": Part("cityos.services.ondemand.service_cli:ondemand_app",
                     "AI on-demand transport service: day simulation, KPIs"),
    "wallet": Part("cityos.services.wallet.cli:wallet_app",
                   "town digital currency: the ledger's export, totals and daily close"),
    "evacuation": Part("cityos.services.evacuation.cli:evacuation_app",
                       "evacuation guidance: the shelter plan (避難誘導)"),
    "health": Part("cityos.services.health.cli:health_app",
                   "health (⑧): checkups and the onset-risk model"),
    "privacy": Part("cityos.privacy.cli:privacy_app",
                    "anonymised extracts (匿名加工情報) for research"),
}

app = typer.Typer(cls=lazy_group(PARTS), no_args_is_help=True, add_completion=False,
                  pretty_exceptions_show_locals=False,  # locals hold passwords and keys
                  help="cityos — 都市OS: a smart city platform anyone can start. "
                  "Add --debug to any command to see the traceback of an unexpected error.")
console = cli_console()

DataDir = Annotated[Path, typer.Option("--data-dir", help="where the platform keeps its data")]
Host = Annotated[str | None, typer.Option("--host", help="address to listen on (127.0.0.1)")]
Port = Annotated[int | None, typer.Option("--port", help="port to listen on (8000)")]
OpenNgsi = Annotated[bool, typer.Option(
    "--open-ngsi", help="serve the NGSI-LD API WITHOUT tokens (conformance runs only)")]
ContextDir = Annotated[Path | None, typer.Option(
    "--context-dir", help="preloaded @context files: a folder with contexts.json {url: file}")]
AllowContexts = Annotated[str | None, typer.Option(
    "--allow-remote-contexts", help="comma-separated URL prefixes whose @contexts may be fetched")]


DatabaseUrl = Annotated[str | None, typer.Option(
    "--database-url", help="postgresql://USER@HOST/DB to keep the data in PostgreSQL "
    "(default: the SQLite file DIR/cityos.db); also CITYOS_DATABASE_URL")]
TlsCert = Annotated[Path | None, typer.Option(
    "--tls-cert", help="PEM certificate: serve HTTPS only (plain HTTP refused), with HSTS")]
TlsKey = Annotated[Path | None, typer.Option("--tls-key", help="PEM private key of --tls-cert")]


def _settings(data_dir: Path, host: str | None, port: int | None, open_ngsi: bool,
              context_dir: Path | None, allow_remote: str | None,
              tls_cert: Path | None = None, tls_key: Path | None = None,
              database_url: str | None = None) -> Settings:
    try:
        return load_settings(
            data_dir, host=host, port=port, open_ngsi=True if open_ngsi else None,
            database_url=database_url,
            tls_cert=str(tls_cert) if tls_cert else None,
            tls_key=str(tls_key) if tls_key else None,
            context_dir=str(context_dir) if context_dir else None,
            allow_remote_contexts=tuple(p for p in allow_remote.split(",") if p) if allow_remote
            else None)
    except ValueError as err:  # a wrong setting: say which, no traceback
        fail("設定が正しくありません", str(err))


def _init(settings: Settings, ca: tuple[Path, Path] | None = None) -> str | None:
    """Create the database and the first admin token if this data dir is new; `ca` is the
    municipality's CA (certificate, key) to use instead of a new platform CA."""
    import asyncio

    from cityos.access.gate import TOKEN_FILE, create_admin_token
    from cityos.storage import open_store

    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not _platform_exists(settings):  # a new platform: its directory is private
        settings.data_dir.chmod(0o700)

    async def make_db() -> tuple[tuple[str, str] | None, str | None]:
        from cityos.access.cli import create_first_admin
        from cityos.access.service import Access
        from cityos.keystore import KeyStore
        from cityos.storage.base import shared

        store = open_store(settings.database_url)
        await store.open()
        several = shared(store)
        try:  # processes starting together on one PostgreSQL: one creates the platform
            while several is not None and not await several.lease("platform.init"):
                await asyncio.sleep(0.05)
            from cityos.trust.cli import init_trust

            if (made := await init_trust(store, settings, ca)) is not None:
                console.print(made)
            login = await create_first_admin(await Access.create(
                store, settings.access, KeyStore.at(settings.data_dir)))
            if (settings.data_dir / TOKEN_FILE).exists():
                return login, None
            return login, create_admin_token(settings.data_dir)
        finally:
            await store.close()

    login, token = asyncio.run(make_db())
    if login is not None:
        console.print("First admin login for POST /auth/login — shown once / 管理者ログイン:")
        print(f"username={login[0]}\npassword={login[1]}", flush=True)
    return token


CaCert = Annotated[Path | None, typer.Option(
    "--ca-cert", help="the municipality's CA certificate (PEM) to use as the platform CA")]
CaKey = Annotated[Path | None, typer.Option("--ca-key", help="its private key (PEM)")]


@app.command()
def init(data_dir: DataDir = Path("var"), ca_cert: CaCert = None, ca_key: CaKey = None,
         database_url: DatabaseUrl = None) -> None:
    """Create a platform: database, platform CA and the first admin's token (printed once)."""
    if (ca_cert is None) != (ca_key is None):
        fail("--ca-cert と --ca-key は一緒に指定してください", "--ca-cert and --ca-key go together")
    usable_data_dir(data_dir)
    settings = load_settings(data_dir, database_url=database_url)
    token = _init(settings, (ca_cert, ca_key) if ca_cert and ca_key else None)
    if token is None:
        shown = escape(str(data_dir))
        console.print(f"[yellow]{shown} にはプラットフォームがあります。変更していません / "
                      f"{shown} already holds a platform; nothing changed.[/]")
        return
    from cityos.storage import shown_url

    console.print(f"プラットフォームを作成しました / Platform created in "
                  f"[bold]{escape(str(data_dir))}[/] (database {shown_url(settings.database_url)}).",
                  highlight=False)
    console.print("Admin token — shown only now, keep it safe / 管理者トークン(再表示されません):")
    print(token)


@app.command()
def serve(data_dir: DataDir = Path("var"), host: Host = None, port: Port = None,
          open_ngsi: OpenNgsi = False, context_dir: ContextDir = None,
          allow_remote_contexts: AllowContexts = None, tls_cert: TlsCert = None,
          tls_key: TlsKey = None, database_url: DatabaseUrl = None) -> None:
    """Serve the platform over HTTP (HTTPS only with --tls-cert and --tls-key)."""
    settings = _settings(data_dir, host, port, open_ngsi, context_dir, allow_remote_contexts,
                         tls_cert, tls_key, database_url)
    _refuse_exposed(settings)
    tls, sock = _prepare(settings)
    if not _platform_exists(settings):
        token = _init(settings)  # a new platform (on PostgreSQL: a data dir without its token)
        if token:
            console.print("New platform. Admin token (shown once) / 管理者トークン:")
            print(token, flush=True)
    _run(settings, tls, sock)


@app.command("migrate-store")
def migrate_store(
        source: Annotated[str, typer.Option("--from", help="sqlite:///PATH: the database to copy")],
        target: Annotated[str, typer.Option(
            "--to", help="postgresql://USER@HOST/DB: an empty database to copy into")]) -> None:
    """Copy a SQLite database into PostgreSQL and verify the copy (row counts, checksums)."""
    from cityos.storage.postgres.cli import migrate_store as run_migration

    raise typer.Exit(run_migration(source, target))


@app.command()
def demo(data_dir: DataDir = Path("var"), host: Host = None, port: Port = None) -> None:
    """Start the demo town (init if needed) and serve it."""
    import asyncio

    settings = _settings(data_dir, host, port, False, None, None)
    _refuse_exposed(settings)
    tls, sock = _prepare(settings)
    token = _init(settings)
    from cityos.town.loader import load_town
    from cityos.town.simulator import Simulator
    from cityos.town.tour import print_tour

    with console.status("豊能町を読み込み中 / loading the Toyono demo town…"):
        town = asyncio.run(load_town(settings))
    console.print(f"[bold green]cityos {__version__}[/] — 都市OS · 豊能町 Toyono demo town")
    if token:
        console.print("  Admin token (shown once; use as 'Authorization: Bearer …') / 管理者トークン:")
        print(f"    {token}", flush=True)
    print_tour(console, settings, town)
    settings = _demo_services(_demo_egress(settings))
    Simulator(town, settings).start()
    _run(settings, tls, sock)


def _demo_egress(settings: Settings) -> Settings:
    """The demo is a sandbox on one machine: unless egress.allow is set, its subscriptions and
    context sources may point at receivers and brokers on loopback (a served town may not)."""
    if settings.egress.allow:
        return settings
    from dataclasses import replace

    from cityos.egress import LOOPBACK

    return replace(settings, egress=replace(settings.egress, allow=LOOPBACK))


def _demo_services(settings: Settings) -> Settings:
    """The demo runs every town service (unless services.enabled chooses) and each loads its
    demo data once it is up."""
    from dataclasses import replace

    enabled = settings.services.enabled or ("all",)
    return replace(settings, services=replace(settings.services, demo=True, enabled=enabled))


@app.command("version")
def version_cmd() -> None:
    """Print the version."""
    print(__version__)


def _tune_gc() -> None:
    """Fewer, later garbage collections while serving: what exists at start (modules, the
    app, the @context tables) is frozen out of every collection, and the youngest generation
    is collected after 20,000 allocations instead of 700. A request allocates thousands of
    short-lived objects; with the defaults a collection lands inside many of them and sets
    the tail latency (temporal aggregation p95 136 ms → 50–72 ms, docs/performance.md)."""
    import gc

    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def _prepare(settings: Settings) -> tuple[dict[str, Any], socket.socket]:
    """Everything that can refuse to serve, checked before a platform is created or changed,
    a secret printed or the simulator started: the TLS files, the port (bound here and handed
    to uvicorn, so nothing can take it in between), the data directory and the database."""
    from cityos.access.tls import TlsSettingsError, tls_options
    from cityos.cli_listen import bind

    try:
        tls = tls_options(settings)
    except TlsSettingsError as exc:
        fail("TLS の設定が正しくありません", str(exc))
    sock = bind(settings.host, settings.port)
    usable_data_dir(settings.data_dir)
    _reach_database(settings.storage.database_url)
    return tls, sock


def _run(settings: Settings, tls: dict[str, Any], sock: socket.socket) -> None:
    import logging

    import uvicorn

    from cityos.access.tls import StrictTransport
    from cityos.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asgi = create_app(settings)
    _tune_gc()
    config = uvicorn.Config(StrictTransport(asgi) if tls else asgi, host=settings.host,
                            port=settings.port, log_level="warning", access_log=False,
                            loop="auto", http="auto", limit_concurrency=None,
                            timeout_keep_alive=30, **tls)
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: uvicorn has shut down already
        server.run(sockets=[sock])
    if not server.started:
        raise typer.Exit(3)  # uvicorn logged why (e.g. the app's startup failed)


def _reach_database(url: str) -> None:
    """Exit with a clear message (no traceback) when the PostgreSQL database cannot be
    reached; SQLite (no URL) is a file and opens with the app."""
    if not url.startswith(("postgresql://", "postgres://")):
        return
    import asyncio
    from urllib.parse import urlsplit

    import asyncpg

    async def probe() -> None:
        conn = await asyncpg.connect(url, timeout=10)
        await conn.close()

    try:
        asyncio.run(probe())
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        parts = urlsplit(url)
        where = f"{parts.hostname or parts.query or 'localhost'}:{parts.port or 5432}{parts.path}"
        fail("データベースに接続できません。--database-url と PostgreSQL の状態を確認してください",
             f"cannot reach the database at {where} ({type(exc).__name__}: {exc}); check "
             "--database-url and that PostgreSQL is running")


def _platform_exists(settings: Settings) -> bool:
    """Whether the data directory holds a platform (on PostgreSQL: its admin token's hash)."""
    from cityos.access.gate import TOKEN_FILE

    url = settings.storage.database_url
    return (settings.data_dir / ("cityos.db" if not url else TOKEN_FILE)).exists()


def _refuse_exposed(settings: Settings) -> None:
    """Exit 2 with one bilingual line naming the path when the data directory of a platform or
    one of its key files may be read by other users (a new platform's is made private by
    `_init`)."""
    from cityos.keystore import exposed

    data_dir = settings.data_dir
    if not _platform_exists(settings):
        return
    found = exposed(data_dir)
    if found is not None:
        mode = found.stat().st_mode & 0o777
        fail(f"{found} は他のユーザーから読めます (mode {mode:o})。"
             f"`chmod -R go-rwx {data_dir}` を実行してください",
             f"{found} is readable by other users (mode {mode:o}): "
             f"run `chmod -R go-rwx {data_dir}`")


def main() -> None:
    os.umask(0o077)  # every file and directory cityos makes is its owner's alone (0600/0700)
    guarded(lambda args: app(args=args, prog_name="cityos"))
