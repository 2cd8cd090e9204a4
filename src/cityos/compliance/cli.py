"""`cityos compliance`: the security guideline's 55 items checked against the live platform;
`cityos compliance attest ITEM`: register the evidence people attach for an item."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import orjson
import typer

from cityos.cli_errors import existing_platform, fail
from cityos.compliance.items import ITEMS, STATUS_JA, assess, summary
from cityos.compliance.report import jst, render
from cityos.compliance.state import (
    EVIDENCE,
    HISTORY,
    LATEST,
    append_jsonl,
    collect,
    read_jsonl,
)
from cityos.settings import Settings, load_settings

compliance_app = typer.Typer(help="the security guideline self-check (55 items)")
DataDir = Annotated[Path, typer.Option("--data-dir", help="where the platform keeps its data")]


def _write_private(path: Path, body: bytes) -> None:
    import os

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(body)
    os.replace(tmp, path)


def _settings(data_dir: Path) -> Settings:
    try:
        settings = load_settings(data_dir)
    except ValueError as exc:
        fail("設定が正しくありません", str(exc))
    existing_platform(data_dir, bool(settings.storage.database_url)
                      or (data_dir / "cityos.db").exists())
    return settings


@compliance_app.callback(invoke_without_command=True)
def check(ctx: typer.Context, data_dir: DataDir = Path("var"),
          json: Annotated[bool, typer.Option("--json", help="print every item as JSON")] = False,
          html: Annotated[Path | None, typer.Option(
              "--html", help="write the Japanese report for the security committee")] = None,
          town: Annotated[str, typer.Option("--town", help="the town's name in the report")]
          = "",
          verify: Annotated[bool, typer.Option(
              "--verify/--no-verify", help="run `cityos verify` for the log items")] = True,
          advisories: Annotated[Path | None, typer.Option(
              "--advisories", help="an offline advisory database in the OSV format (e.g. a "
              "copy of github.com/pypa/advisory-database) to check the installed packages")]
          = None,
          sbom: Annotated[Path | None, typer.Option(
              "--sbom", help="write the SBOM of the installed packages (CycloneDX 1.5 JSON)")]
          = None,
          pdf: Annotated[Path | None, typer.Option(
              "--pdf", help="write the report as PDF too (printed by a headless Chromium)")]
          = None,
          ) -> None:
    """Check the platform against the guideline's 55 items; exit status 1 when an item needs
    action (要対応)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings(data_dir)
    if advisories is not None and not advisories.is_dir():
        fail(f"--advisories {advisories} はディレクトリではありません",
             f"--advisories {advisories} is not a directory")
    state = collect(settings, verify=verify, advisories=advisories)
    if sbom is not None:
        from cityos.compliance.sbom import cyclonedx

        sbom.write_bytes(orjson.dumps(cyclonedx(state.packages), option=orjson.OPT_INDENT_2))
    items = assess(state)
    tally = summary(items)
    append_jsonl(data_dir / HISTORY, {"at": state.now, "summary": tally})
    _write_private(data_dir / LATEST, orjson.dumps(
        {"checkedAt": state.now, "summary": tally, "items": items}))  # the console shows it
    page = render(items, state.now, town or settings.public_url, read_jsonl(data_dir / HISTORY))
    if html is not None:
        html.write_text(page, "utf-8")
    if pdf is not None:
        from cityos.compliance.pdf import PdfError, html_to_pdf

        try:
            html_to_pdf(page, pdf)
        except PdfError as exc:
            ja, _, en = str(exc).partition(" / ")
            fail(ja, en or ja, code=1)
    if json:
        print(orjson.dumps({"checkedAt": state.now, "checked": jst(state.now),
                            "summary": tally, "items": items},
                           option=orjson.OPT_INDENT_2).decode())
    else:
        for item in items:
            print(f"{item['id']}\t{STATUS_JA[item['status']]} ({item['status']})\t"
                  f"{item['title']}")
        print("合計 / total: " + ", ".join(f"{STATUS_JA[s]} {n}" for s, n in tally.items() if n))
    if html is not None:
        print(f"報告書 / report: {html}", flush=True)
    if sbom is not None:
        print(f"SBOM (CycloneDX): {sbom}", flush=True)
    if pdf is not None:
        print(f"報告書 PDF / report PDF: {pdf}", flush=True)
    if tally["ng"]:
        raise typer.Exit(1)


@compliance_app.command("attest")
def attest(item: Annotated[str, typer.Argument(help="the item's id, e.g. ガバナンス①-1")],
           evidence: Annotated[str, typer.Option(
               "--evidence", help="what was attached: the document, its version, where it is")],
           by: Annotated[str, typer.Option("--by", help="who registers it")] = "",
           data_dir: DataDir = Path("var")) -> None:
    """Register the evidence for ITEM (a policy, a drill record, a contract clause); it
    counts for 365 days."""
    _settings(data_dir)
    if item not in ITEMS:
        fail(f"{item} はチェックリストにありません", f"{item} is not an item of the checklist")
    if not evidence.strip():
        fail("--evidence に証跡の内容を書いてください", "--evidence must say what was attached")
    append_jsonl(data_dir / EVIDENCE, {"item": item, "evidence": evidence.strip(), "by": by,
                                       "at": time.time()})
    print(f"{item}: 証跡を登録しました / evidence registered")
