"""`cityos audit export` (JSON Lines) and `cityos verify` (the audit trail's hash chain).

Exit status 0 when intact; 1 with one line per problem, each with its error code.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cityos.access.cli import run
from cityos.access.service import Access
from cityos.audit.chain import Entry, Problem, checkpoint_line, read_export, to_line, verify
from cityos.audit.retention import prune_audit
from cityos.audit.trail import HEAD, LOG
from cityos.cli_console import cli_console

audit_app = typer.Typer(no_args_is_help=True, help="the audit trail of every request")
console = cli_console(stderr=True)
DataDir = Annotated[Path, typer.Option("--data-dir", help="where the platform keeps its data")]
_PAGE = 5000


async def _entries(access: Access) -> list[Entry]:
    entries: list[Entry] = []
    while True:
        page = await access.store.read_log(LOG, after=entries[-1].seq if entries else 0,
                                           limit=_PAGE)
        entries += [Entry(e.seq, e.body, e.prev, e.hash) for e in page]
        if len(page) < _PAGE:
            return entries


@audit_app.command("export")
def export(data_dir: DataDir = Path("var"),
           output: Annotated[Path | None, typer.Option(
               "--output", help="file to write (default: standard output)")] = None) -> None:
    """Export the audit trail as JSON Lines (one record with its chain fields a line; a pruned
    trail starts with its checkpoint line)."""

    async def read(access: Access) -> tuple[Entry | None, list[Entry]]:
        checkpoint = await access.store.log_checkpoint(LOG)
        start = None if checkpoint is None else Entry(checkpoint.seq, checkpoint.body, None,
                                                      checkpoint.hash)
        return start, await _entries(access)

    start, entries = run(data_dir, read)
    lines = (b"" if start is None else checkpoint_line(start)) + b"".join(
        to_line(e) for e in entries)
    if output is None:
        sys.stdout.buffer.write(lines)
        sys.stdout.flush()
    else:
        output.write_bytes(lines)
        console.print(f"{len(entries)} audit records written to {output}")


def verify_cmd(data_dir: DataDir = Path("var"),
               file: Annotated[Path | None, typer.Option(
                   "--file", help="verify a JSON Lines export instead of the database")] = None
               ) -> None:
    """Verify the audit trail's hash chain: edits, deletions and reorderings are reported."""
    problems: list[Problem]
    start: tuple[int, str] | None
    if file is not None:
        with file.open("rb") as lines:
            entries, problems, start = read_export(lines)
        problems += verify(entries, start=start)
    else:
        async def check(access: Access
                        ) -> tuple[list[Entry], list[Problem], tuple[int, str] | None]:
            entries = await _entries(access)
            head = await access.store.kv_get(*HEAD)
            anchored = None if head is None else (int(head["seq"]), str(head["hash"]))
            checkpoint = await access.store.log_checkpoint(LOG)
            start = None if checkpoint is None else (checkpoint.seq, checkpoint.hash)
            return entries, verify(entries, anchored, start), start

        entries, problems, start = run(data_dir, check)
    for problem in problems:
        print(problem)
    if problems:
        raise typer.Exit(1)
    head = entries[-1].hash if entries else "-"
    pruned = "" if start is None else f" from the checkpoint after seq {start[0]} (pruned)"
    print(f"OK: {len(entries)} audit records, chain intact{pruned}, head {head}")


@audit_app.command("prune")
def prune(data_dir: DataDir = Path("var"),
          days: Annotated[float | None, typer.Option(
              "--days", help="keep this many days (default: access.audit_retention_days)")
          ] = None) -> None:
    """Remove audit records older than the retention period, behind a checkpoint."""
    removed = run(data_dir, lambda a: prune_audit(
        a.store, a.settings.audit_retention_days if days is None else days))
    console.print(f"{removed} audit records removed.")
