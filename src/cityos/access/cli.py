"""`cityos org …`, `cityos staff …`, `cityos residents …` and `cityos token`: accounts managed
from the data directory.

Whoever can read the data directory is the platform's administrator, so these need no login.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
import typer
from rich.table import Table

from cityos.access.accounts import STAFF, AccountError
from cityos.access.corporate import InvalidCorporateNumber
from cityos.access.revocation import revoke_all
from cityos.access.service import Access, org_principal, staff_principal
from cityos.cli_console import cli_console
from cityos.cli_errors import USER_ERROR, existing_platform
from cityos.keystore import KeyStore
from cityos.settings import load_settings
from cityos.storage import open_store

T = TypeVar("T")
console = cli_console()
org_app = typer.Typer(no_args_is_help=True, help="organisations (service companies) and their "
                      "OAuth 2.0 client credentials")
accounts_app = typer.Typer(no_args_is_help=True, help="the account inventory (棚卸し)")
staff_app = typer.Typer(no_args_is_help=True, help="staff accounts (admin, operator, viewer)")
residents_app = typer.Typer(no_args_is_help=True, help="residents' accounts (the app's sign-in)")

DataDir = Annotated[Path, typer.Option("--data-dir", help="where the platform keeps its data")]
Types = Annotated[str, typer.Option(help="comma-separated entity types ('*' = every type)")]


def run(data_dir: Path, work: Callable[[Access], Awaitable[T]]) -> T:
    """Open the platform's store, run `work` with its access state, close the store."""
    settings = load_settings(data_dir)
    existing_platform(data_dir, bool(settings.storage.database_url)
                      or (data_dir / "cityos.db").exists())

    async def main() -> T:
        store = open_store(settings.database_url)
        await store.open()
        try:
            return await work(await Access.create(store, settings.access,
                                                KeyStore.at(settings.data_dir)))
        finally:
            await store.close()

    try:
        return asyncio.run(main())
    except (AccountError, InvalidCorporateNumber) as exc:  # bilingual: "ja / en"
        typer.echo(f"cityos: {exc}", err=True)
        raise typer.Exit(USER_ERROR) from None


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _when(ts: float | None) -> str:
    return "-" if not ts else time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


@org_app.command("add")
def org_add(name: str, corporate_number: Annotated[str, typer.Option(
                "--corporate-number", help="法人番号: 13 digits, check digit first")],
            data_dir: DataDir = Path("var"),
            tenant: Annotated[str, typer.Option("--tenant", help="the tenant (municipality) "
                                                "it may use; default: the default tenant")] = "",
            read: Types = "", write: Types = "") -> None:
    """Register an organisation; prints its client id and secret once."""
    org, secret = run(data_dir, lambda a: a.book.add_org(
        name, corporate_number, tenant=tenant, read=_split(read), write=_split(write)))
    console.print(f"Organisation [bold]{name}[/] registered (法人番号 {org['corporate_number']}).")
    console.print("Client credentials — the secret is shown only now / 再表示されません:")
    print(f"client_id={org['client_id']}")
    print(f"client_secret={secret}")


@org_app.command("list")
def org_list(data_dir: DataDir = Path("var")) -> None:
    """List organisations with their grants and state."""
    orgs = run(data_dir, lambda a: a.book.list_orgs())
    table = Table("name", "corporate number", "client id", "tenant", "read", "write",
                  "secrets", "last used", "state")
    for org in orgs:
        table.add_row(org["name"], org["corporate_number"], org["client_id"],
                      org["tenant"] or "(default)", ",".join(org["grants"]["read"]),
                      ",".join(org["grants"]["write"]), str(len(org["secrets"])),
                      _when(org.get("last_used")), "disabled" if org["disabled"] else "active")
    console.print(table)


@org_app.command("disable")
def org_disable(name: str, data_dir: DataDir = Path("var")) -> None:
    """Disable an organisation: its secrets and tokens stop working."""
    run(data_dir, lambda a: a.book.set_org_disabled(name, True))
    console.print(f"Organisation {name} disabled.")


@org_app.command("revoke-tokens")
def org_revoke_tokens(name: str, data_dir: DataDir = Path("var")) -> None:
    """Refuse every token the organisation holds now (it gets new ones with its secret)."""
    async def work(a: Access) -> bool:
        return await revoke_all(a, "org:" + (await a.book.get_org(name))["client_id"])

    run(data_dir, work)
    console.print(f"Every token of {name} is revoked (running servers refuse them within "
                  "2 seconds).")


@org_app.command("enable")
def org_enable(name: str, data_dir: DataDir = Path("var")) -> None:
    """Enable a disabled organisation again."""
    run(data_dir, lambda a: a.book.set_org_disabled(name, False))
    console.print(f"Organisation {name} enabled.")


@org_app.command("grant")
def org_grant(name: str, data_dir: DataDir = Path("var"), read: Types = "", write: Types = "",
              revoke: Annotated[bool, typer.Option("--revoke", help="remove these grants")
                                ] = False) -> None:
    """Grant (or --revoke) reading / writing entity types."""
    org = run(data_dir, lambda a: a.book.grant(name, read=_split(read), write=_split(write),
                                               revoke=revoke))
    grants = org["grants"]
    console.print(f"{name}: read {', '.join(grants['read']) or '-'}; "
                  f"write {', '.join(grants['write']) or '-'}", highlight=False)


@org_app.command("rotate-secret")
def org_rotate(name: str, data_dir: DataDir = Path("var"),
               overlap_hours: Annotated[float | None, typer.Option(
                   "--overlap-hours", help="how long the old secret keeps working")] = None
               ) -> None:
    """Issue a new client secret; the old one keeps working for the overlap (printed once)."""
    secret = run(data_dir, lambda a: a.book.rotate_secret(
        name, None if overlap_hours is None else overlap_hours * 3600.0))
    console.print(f"New secret for {name} — shown only now / 再表示されません:")
    print(f"client_secret={secret}")


@staff_app.command("add")
def staff_add(username: str, data_dir: DataDir = Path("var"),
              role: Annotated[list[str], typer.Option(
                  "--role", help="admin, operator or viewer (repeat for several)")] = ["viewer"],  # noqa: B006
              tenant: Annotated[str | None, typer.Option(
                  "--tenant", help="the only tenant it may use ('*' = all; admins default to all)")
                               ] = None) -> None:
    """Add a staff account; prints its generated password once."""
    member, password = run(data_dir, lambda a: a.book.add_staff(username, role, tenant=tenant))
    console.print(f"Staff member [bold]{username}[/] ({', '.join(member['roles'])}) added. "
                  "Password — shown only now / 再表示されません:")
    print(password)


@staff_app.command("list")
def staff_list(data_dir: DataDir = Path("var")) -> None:
    """List staff accounts with roles and state."""
    members = run(data_dir, lambda a: a.book.list_staff())
    table = Table("user", "roles", "tenant", "created", "last used", "failures", "state")
    for m in members:
        table.add_row(m["username"], ",".join(m["roles"]), m["tenant"] or "(default)",
                      _when(m["created"]), _when(m.get("last_used")), str(m.get("failures", 0)),
                      "disabled" if m["disabled"] else "active")
    console.print(table)


@staff_app.command("disable")
def staff_disable(username: str, data_dir: DataDir = Path("var")) -> None:
    """Disable a staff account: its password and tokens stop working."""
    run(data_dir, lambda a: a.book.set_staff_disabled(username, True))
    console.print(f"Staff member {username} disabled.")


@staff_app.command("revoke-tokens")
def staff_revoke_tokens(username: str, data_dir: DataDir = Path("var")) -> None:
    """Refuse every token the staff member holds now (they sign in again)."""
    async def work(a: Access) -> bool:
        await a.book.get_staff(username)  # AccountError when there is none
        return await revoke_all(a, "staff:" + username)

    run(data_dir, work)
    console.print(f"Every token of {username} is revoked (running servers refuse them within "
                  "2 seconds).")


@staff_app.command("reset-passkeys")
def staff_reset_passkeys(username: str, data_dir: DataDir = Path("var")) -> None:
    """Remove a staff member's passkeys (a lost device): the password alone signs in again
    until they register a new one."""

    async def work(access: Access) -> int:
        member = await access.book.get_staff(username)
        removed = len(member.get("passkeys", []))
        member["passkeys"] = []
        await access.store.kv_put(STAFF, username, member)
        return removed

    removed = run(data_dir, work)
    console.print(f"{removed} passkeys of staff member {username} removed.")


@staff_app.command("enable")
def staff_enable(username: str, data_dir: DataDir = Path("var")) -> None:
    """Enable a disabled staff account again."""
    run(data_dir, lambda a: a.book.set_staff_disabled(username, False))
    console.print(f"Staff member {username} enabled.")


@residents_app.command("list")
def residents_list(data_dir: DataDir = Path("var")) -> None:
    """List residents' accounts with sign-in methods and state (no secrets)."""
    residents = run(data_dir, lambda a: a.residents.list_residents())
    table = Table("login", "id", "tenant", "sign-in", "created", "last used", "state")
    for r in residents:
        methods = (["password"] if r.get("password") else []) + (
            [f"passkeys: {len(r['passkeys'])}"] if r.get("passkeys") else [])
        table.add_row(r["login"], r["id"], r["tenant"] or "(default)", ", ".join(methods),
                      _when(r["created"]), _when(r.get("last_used")),
                      "disabled" if r["disabled"] else "active")
    console.print(table)


def _set_resident_disabled(login: str, data_dir: Path, disabled: bool) -> None:
    async def work(access: Access) -> None:
        resident = await access.residents.by_login(login)
        if resident is None:
            raise AccountError(f"ログイン名 {login} の住民はいません / no resident with "
                               f"login {login}")
        await access.residents.set_disabled(resident["id"], disabled)

    run(data_dir, work)


@residents_app.command("disable")
def residents_disable(login: str, data_dir: DataDir = Path("var")) -> None:
    """Disable a resident's account: its password, passkeys and tokens stop working."""
    _set_resident_disabled(login, data_dir, True)
    console.print(f"Resident {login} disabled.")


@residents_app.command("enable")
def residents_enable(login: str, data_dir: DataDir = Path("var")) -> None:
    """Enable a disabled resident's account again."""
    _set_resident_disabled(login, data_dir, False)
    console.print(f"Resident {login} enabled.")


@residents_app.command("reset-code")
def residents_reset_code(login: str, data_dir: DataDir = Path("var")) -> None:
    """Issue a one-time password-reset code for a resident (after checking who she is, at the
    counter); she enters it on the app's 「パスワードを忘れたとき」 page within 24 hours."""
    async def work(access: Access) -> str:
        resident = await access.residents.by_login(login)
        if resident is None:
            raise AccountError(f"ログイン名 {login} の住民はいません / no resident with "
                               f"login {login}")
        return await access.residents.issue_reset_code(resident["id"])

    code = run(data_dir, work)
    console.print(f"Reset code for {login} (shown once, valid 24 h) / 再設定コード（24時間有効）:")
    print(f"    {code}", flush=True)


@accounts_app.command("review")
def accounts_review(data_dir: DataDir = Path("var"),
                    json_out: Annotated[bool, typer.Option(
                        "--json", help="print JSON instead of a table")] = False) -> None:
    """List every account with roles, grants, last use and flags to act on."""
    from cityos.access.review import review_accounts

    rows = run(data_dir, lambda a: review_accounts(
        a.book, unused_days=a.settings.review_unused_days,
        secret_max_age_days=a.settings.secret_max_age_days))
    if json_out:
        print(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return
    table = Table("kind", "name", "roles / grants", "tenant", "last used", "flags")
    for row in rows:
        rights = ",".join(row["roles"]) if row["kind"] != "organisation" else (
            f"read {','.join(row['grants']['read']) or '-'}; "
            f"write {','.join(row['grants']['write']) or '-'}")
        table.add_row(row["kind"], row["name"], rights, row["tenant"] or "(default)",
                      _when(row["last_used"]), ", ".join(row["flags"]) or "ok")
    console.print(table)
    flagged = sum(1 for row in rows if row["flags"])
    console.print(f"{len(rows)} accounts, {flagged} flagged.")


def token(data_dir: DataDir = Path("var"),
          org: Annotated[str | None, typer.Option(
              "--org", help="an organisation's token instead of the first admin's")] = None,
          staff: Annotated[str | None, typer.Option(
              "--staff", help="a staff member's token instead of the first admin's")] = None
          ) -> None:
    """Print a bearer access token on the last line (for scripts)."""

    async def make(access: Access) -> tuple[str, int]:
        account: dict[str, Any] | None
        if org is not None:
            account = await access.book.get_org(org)
            principal = org_principal(account)
        else:
            account = await (access.book.get_staff(staff) if staff else
                             access.book.first_admin())
            if account is None:
                raise AccountError("管理者アカウントがまだありません / this platform has no "
                                   "admin account yet")
            principal = staff_principal(account)
        if account.get("disabled"):
            raise AccountError(f"{principal.sub} は無効化されています / {principal.sub} is "
                               "disabled")
        return await access.issue(principal), access.settings.token_ttl

    value, ttl = run(data_dir, make)
    minutes = f"{ttl / 60:g}"
    console.print(f"アクセストークン({minutes}分有効) / bearer token, valid {minutes} minutes:",
                  highlight=False)
    print(value)


async def create_first_admin(access: Access) -> tuple[str, str] | None:
    """The first admin's account (user `admin`) if the platform has no staff yet."""
    if await access.book.list_staff():
        return None
    member, password = await access.book.add_staff("admin", ["admin"], first_admin=True)
    return member["username"], password
