"""`cityos migrate-store --from sqlite:///… --to postgresql://…`: the copy with a progress bar
per table and the verification's verdict (exit 0 verified, 1 refused or not verified, 2 usage)."""

from __future__ import annotations

import asyncio

import asyncpg
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from cityos.cli_console import cli_console
from cityos.storage.postgres.from_sqlite import MigrationError, migrate

console = cli_console()


def migrate_store(source: str, target: str) -> int:
    """Run the migration for the CLI; returns the exit status."""
    if not source.startswith("sqlite:///") or not target.startswith(("postgresql://",
                                                                      "postgres://")):
        console.print("[red]migrate-store copies --from sqlite:///PATH --to "
                      "postgresql://USER@HOST/DB / SQLite から PostgreSQL への移行のみ[/]")
        return 2
    path = source[len("sqlite:///"):]
    tasks: dict[str, TaskID] = {}
    with Progress(TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(),
                  console=console, transient=False) as bar:
        def step(table: str, done: int, total: int) -> None:
            if table not in tasks:
                tasks[table] = bar.add_task(table, total=max(total, 1))
            bar.update(tasks[table], completed=done if total else 1)

        try:
            counts = asyncio.run(migrate(path, target, step))
        except MigrationError as exc:
            console.print(f"[red]not migrated / 移行できません: {exc}[/]")
            return 1
        except (OSError, asyncpg.PostgresError) as exc:
            console.print(f"[red]database error / データベースエラー: {exc}[/]")
            return 1
    console.print(f"[green]verified / 検証済み[/]: {sum(counts.values())} rows in "
                  f"{len(counts)} tables (counts and SHA-256 checksums match); "
                  f"entities {counts['entities']}, history {counts['attr_instances']}, "
                  f"log entries {counts['logs']}")
    return 0
