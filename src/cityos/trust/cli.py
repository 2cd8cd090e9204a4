"""`cityos trust …`: the platform CA, organisation seal certificates and the log's tree head,
managed from the data directory (whoever can read it administers the platform).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
import typer
from cryptography.hazmat.primitives import hashes

from cityos.access.cli import run
from cityos.access.service import Access
from cityos.cli_console import cli_console
from cityos.keystore import KeyStore, move_keys_out
from cityos.settings import Settings, load_settings
from cityos.storage.base import Store
from cityos.trust.ca import CertificateError
from cityos.trust.certs import CA_KIND, CertificateBook
from cityos.trust.service import Trust

T = TypeVar("T")
console = cli_console(stderr=True)
trust_app = typer.Typer(no_args_is_help=True, help="platform CA, seal certificates, transparency log")
DataDir = Annotated[Path, typer.Option("--data-dir", help="where the platform keeps its data")]


async def init_trust(store: Store, settings: Settings,
                     ca_files: tuple[Path, Path] | None = None) -> str | None:
    """Make (or import) the platform CA and the log key of a new platform; a line to print,
    or None when there was a CA already."""
    keys = KeyStore.at(settings.data_dir)
    await move_keys_out(store, keys)  # a platform from before the key store
    book = CertificateBook(store, keys)
    if ca_files is not None and not keys.list(CA_KIND):
        try:
            ca = await book.import_ca(ca_files[0].read_bytes(), ca_files[1].read_bytes())
        except (OSError, CertificateError) as exc:
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(1) from None
        created = True
    else:
        ca, created = await book.ensure_ca(settings.trust.ca_name)
    await Trust.open(store, settings.trust, settings.public_url, keys)  # the log signing key
    if not created:
        return None
    return (f"Platform CA / 認証局: {ca.cert.subject.rfc4514_string()} "
            f"(SHA-256 {ca.cert.fingerprint(hashes.SHA256()).hex()})")


def run_trust(data_dir: Path, work: Callable[[Trust, Access], Awaitable[T]]) -> T:
    """Open the platform's store, run `work` with its trust and access state, close it."""
    settings = load_settings(data_dir)

    async def with_trust(access: Access) -> T:
        return await work(await Trust.open(access.store, settings.trust, settings.public_url,
                                           access.ring.keys), access)

    try:
        return run(data_dir, with_trust)
    except CertificateError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None


def _fail(message: str, code: int) -> typer.Exit:
    """Say what is wrong on standard error, unwrapped (paths stay whole, brackets literal)."""
    console.print(message, style="red", markup=False, soft_wrap=True)
    return typer.Exit(code)


def _print(data: object) -> None:
    print(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


@trust_app.command("ca-import")
def ca_import(cert: Annotated[Path, typer.Option("--cert", help="the CA certificate (PEM)")],
              key: Annotated[Path, typer.Option("--key", help="its private key (PEM)")],
              data_dir: DataDir = Path("var")) -> None:
    """Use the municipality's own CA instead of the one `cityos init` made."""
    async def work(trust: Trust, access: Access) -> str:
        ca = await trust.certs.import_ca(cert.read_bytes(), key.read_bytes())
        return ca.cert.subject.rfc4514_string()

    console.print(f"Platform CA is now {run_trust(data_dir, work)}")


@trust_app.command("ca")
def ca_show(data_dir: DataDir = Path("var")) -> None:
    """Print the platform CA certificate (PEM), the anchor to verify seals with."""
    async def work(trust: Trust, access: Access) -> bytes:
        return (await trust.certs.ca()).pem()

    print(run_trust(data_dir, work).decode(), end="")


@trust_app.command("issue")
def issue(org: Annotated[str, typer.Argument(help="organisation name")],
          csr: Annotated[Path | None, typer.Option("--csr", help="the organisation's CSR (PEM); "
                                                   "without it the platform makes the key")] = None,
          out: Annotated[Path | None, typer.Option("--out", help="where to write the PKCS#12 "
                                                   "file (platform-made key)")] = None,
          days: Annotated[int | None, typer.Option("--days", help="lifetime in days")] = None,
          data_dir: DataDir = Path("var")) -> None:
    """Issue an organisation seal certificate (printed as PEM)."""
    if csr is None and out is None:
        console.print("[red]give --csr, or --out for the PKCS#12 of a platform-made key[/]")
        raise typer.Exit(2)

    async def work(trust: Trust, access: Access) -> tuple[dict[str, object], bytes | None,
                                                           str | None]:
        account = await access.book.get_org(org)
        issued = await trust.certs.issue(account, csr.read_bytes() if csr else None,
                                         days or trust.settings.seal_days)
        return issued.record, issued.pkcs12, issued.password

    record, p12, password = run_trust(data_dir, work)
    if p12 is not None and out is not None:
        out.write_bytes(p12)
        out.chmod(0o600)
        console.print(f"PKCS#12 written to {out}; its password (shown once) / パスワード:")
        print(password)
    console.print(f"serial {record['serial']}, valid until {record['notAfter']}")
    print(record["certificate"], end="")


@trust_app.command("revoke")
def revoke(serial: Annotated[str, typer.Argument(help="certificate serial (hex)")],
           reason: Annotated[str, typer.Option("--reason", help="RFC 5280 reason, e.g. "
                                               "keyCompromise, superseded")] = "unspecified",
           data_dir: DataDir = Path("var")) -> None:
    """Revoke a seal certificate (it joins the CRL)."""
    async def work(trust: Trust, access: Access) -> dict[str, object]:
        return await trust.certs.revoke(serial, reason)

    doc = run_trust(data_dir, work)
    console.print(f"certificate {doc['serial']} of {doc['org']} revoked ({doc['reason']})")


@trust_app.command("certs")
def certs(org: Annotated[str | None, typer.Option("--org", help="only this organisation")] = None,
          data_dir: DataDir = Path("var")) -> None:
    """List seal certificates with their status (JSON)."""
    async def work(trust: Trust, access: Access) -> list[dict[str, object]]:
        return [{k: v for k, v in d.items() if k not in ("certificate", "chain")}
                for d in await trust.certs.list(org)]

    _print(run_trust(data_dir, work))


@trust_app.command("evidence")
def evidence(entity: Annotated[str, typer.Argument(help="entity id")],
             tenant: Annotated[str, typer.Option("--tenant", help="tenant (municipality)")] = "",
             out: Annotated[Path | None, typer.Option("--out", help="file to write (default: "
                                                      "standard output)")] = None,
             data_dir: DataDir = Path("var")) -> None:
    """Write the evidence bundle of an entity (JSON; check it with `cityos verify --bundle`)."""
    from cityos.trust.evidence import EvidenceError, build_bundle

    async def work(trust: Trust, access: Access) -> dict[str, Any]:
        try:
            return await build_bundle(trust, tenant, entity)
        except EvidenceError as exc:
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(1) from None

    data = orjson.dumps(run_trust(data_dir, work), option=orjson.OPT_INDENT_2)
    if out is None:
        print(data.decode())
    else:
        out.write_bytes(data)
        console.print(f"evidence written to {out}")


@trust_app.command("export-checkpoint")
def export_checkpoint(
        bundle: Annotated[Path, typer.Argument(help="an evidence bundle (JSON)")],
        out: Annotated[Path, typer.Option("--out", help="folder to write the files in")]
        = Path("."),
) -> None:
    """Write checkpoint.txt, token.tst and ca.pem from an evidence bundle, for
    `openssl ts -verify -data checkpoint.txt -in token.tst -token_in -CAfile ca.pem`."""
    from cityos.trust.checkpoint_files import ExportError, checkpoint_files

    try:
        files = checkpoint_files(orjson.loads(bundle.read_bytes()))
    except OSError as exc:
        raise _fail(f"{bundle}: cannot read the file ({exc.strerror}) / ファイルを読めません",
                    2) from None
    except orjson.JSONDecodeError as exc:
        raise _fail(f"{bundle}: not JSON ({exc}) / JSON として読めません", 1) from None
    except ExportError as exc:
        raise _fail(f"{bundle}: {exc}", 1) from None
    out.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (out / name).write_bytes(content)
    console.print(f"written / 書き出しました: {', '.join(str(out / n) for n in files)}\n"
                  f"openssl ts -verify -data {out / 'checkpoint.txt'} -in {out / 'token.tst'} "
                  f"-token_in -CAfile {out / 'ca.pem'}", markup=False, soft_wrap=True)


@trust_app.command("tree-head")
def tree_head(data_dir: DataDir = Path("var")) -> None:
    """Take a checkpoint now and print the signed tree head (JSON, with the public key)."""
    async def work(trust: Trust, access: Access) -> dict[str, object]:
        sth = await trust.checkpoint() or await trust.log.latest_head()
        assert sth is not None
        return {**sth.to_json(), "publicKey": trust.public_key}

    _print(run_trust(data_dir, work))


def verify_cmd(data_dir: DataDir = Path("var"),
               file: Annotated[Path | None, typer.Option(
                   "--file", help="verify a JSON Lines export of the audit trail instead")] = None,
               log_key: Annotated[str | None, typer.Option(
                   "--log-key", help="the log's public key to trust (as tree heads print it), "
                   "or a file holding it; default: the one in the store")] = None,
               ca: Annotated[Path | None, typer.Option(
                   "--ca", help="the platform CA certificate to trust (PEM); default: the "
                   "store's")] = None,
               bundle: Annotated[Path | None, typer.Option(
                   "--bundle", help="verify an evidence bundle offline instead")] = None,
               entities: Annotated[bool, typer.Option(
                   "--entities", help="also compare every stored entity with its last write "
                   "record (streams the entities)")] = False) -> None:
    """Verify the audit trail's hash chain and the transparency log: leaves, signed tree heads,
    time-stamp tokens and seals. Prints each problem with its code; exit status 1 if any."""
    from cityos.audit.cli import verify_cmd as verify_audit
    from cityos.trust.pinned import PinError, read_ca, read_log_key
    from cityos.trust.verify import verify_store

    if file is not None:
        verify_audit(data_dir, file)
        return
    try:  # a bad pinned key or CA is the caller's file at fault, named as such
        key_text, pinned = (None, None) if log_key is None else read_log_key(log_key)
        ca_pem, anchor = (None, None) if ca is None else read_ca(ca)
    except PinError as exc:
        raise _fail(str(exc), 2) from None
    if bundle is not None:
        _verify_bundle(bundle, key_text, ca_pem)
        return
    failed = False
    try:
        verify_audit(data_dir, None)
    except typer.Exit as exc:
        failed = exc.exit_code != 0
        if exc.exit_code == 2:
            raise

    async def work(trust: Trust, access: Access) -> tuple[list[Any], Any]:
        return await verify_store(trust.store, trust.log, trust.certs, pinned, anchor,
                                  trust.public_keys(), entities=entities)

    problems, summary = run_trust(data_dir, work)
    for problem in problems:
        print(problem)
    unsigned = max(0, summary.leaves - summary.signed)
    # what no signature covers yet can be taken away unnoticed: say how much that is
    tail = (f"{unsigned} leaves not yet signed, {summary.unlogged} audit records not yet in "
            f"the log, {summary.rows_unsigned} changes of grants and accounts not yet signed, "
            f"{summary.tracker_unlogged} data-tracker entries not yet in the log")
    if summary.entities >= 0:
        tail += (f", {summary.entities_unsigned} entities written since the last signed head, "
                 f"{summary.entities_unrecorded} entities without a write record of their "
                 f"state, {summary.entities_purged} gone in a purge or erasure")
    if summary.rows_unrecorded:
        tail += f", {summary.rows_unrecorded} grants and accounts without history (no baseline)"
    if problems or failed:
        print(f"({tail})")
        raise typer.Exit(1)
    checked = f", {summary.entities} entities as written" if summary.entities >= 0 else ""
    withheld = f" ({summary.withheld} over sealed personal payloads, not opened)" \
        if summary.withheld else ""
    print(f"OK: transparency log of {summary.leaves} leaves intact, {summary.heads} signed tree "
          f"heads ({summary.stamped} time-stamped), {summary.seals} seals{withheld}, "
          f"{summary.audit} audit records present, {summary.rows} grants and accounts as "
          f"signed{checked}; {tail}; root {summary.root.hex()}")


def _verify_bundle(path: Path, log_key: str | None, ca: bytes | None) -> None:
    from cityos.trust.evidence import verify_bundle

    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        print(f"BUNDLE_MALFORMED at 0: cannot read {path}: {exc}")
        raise typer.Exit(1) from None
    problems = verify_bundle(data, log_key, ca)
    for problem in problems:
        print(problem)
    if problems:
        raise typer.Exit(1)
    pinned = "" if log_key and ca else " (keys taken from the bundle: pin --log-key and --ca)"
    print(f"OK: {len(data['records'])} records of {data['entity']} in the signed, time-stamped "
          f"tree of {data['treeHead']['treeSize']} leaves{pinned}")
