"""`cityos personal rotate-master-key`: re-wrap residents' data keys under a new master key.

Run with the server stopped; like `cityos org`, whoever can read the data directory runs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cityos.cli_console import cli_console
from cityos.personal.vault import VaultError, rotate_master_key
from cityos.settings import load_settings

console = cli_console()
personal_app = typer.Typer(no_args_is_help=True, help="Personal-Link (個人情報管理)")
DataDir = Annotated[Path, typer.Option("--data-dir", help="where the platform keeps its data")]


@personal_app.command("rotate-master-key")
def rotate_cmd(data_dir: DataDir = Path("var")) -> None:
    """A new master key for the residents' data keys (マスター鍵の更新); the data itself is
    not re-encrypted, only the keys are re-wrapped."""
    settings = load_settings(data_dir)
    try:
        count, new_key = rotate_master_key(settings.data_dir, settings.personal.master_key)
    except VaultError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    console.print(f"住民の鍵 {count} 件を新しいマスター鍵で包み直しました / re-wrapped {count} "
                  "resident keys under a new master key")
    if new_key is not None:
        console.print("マスター鍵は環境変数から読まれています。新しい鍵を設定してください / the "
                      "master key comes from the environment: set the new one before starting:")
        print(f"CITYOS_PERSONAL_MASTER_KEY={new_key}")
