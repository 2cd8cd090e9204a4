"""How the `cityos` command tells a person what went wrong: one line in Japanese and English,
exit status 2 for a user error, and no traceback unless `--debug` asked for one."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import typer

USER_ERROR = 2  # a wrong flag, path or port: what the person can fix
FAILED = 1  # anything else


def line(ja: str, en: str) -> str:
    """The one line a user error prints: Japanese first, then English."""
    return f"cityos: {ja} / {en}"


def fail(ja: str, en: str, code: int = USER_ERROR) -> NoReturn:
    """Print one bilingual line on standard error and exit with `code` (2: a user error)."""
    typer.echo(line(ja, en), err=True)
    raise typer.Exit(code)


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def usable_data_dir(data_dir: Path) -> None:
    """Make sure `data_dir` is a writable directory, creating it (and its parents) when it does
    not exist; exit with one bilingual line when it cannot be one. Nothing else is created."""
    if data_dir.exists() and not data_dir.is_dir():
        fail(f"--data-dir {data_dir} はディレクトリではありません(ファイルです)",
             f"--data-dir {data_dir} is a file, not a directory")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):  # a file on the way: a/file/var
        fail(f"--data-dir {data_dir} を作成できません(途中にファイルがあります)",
             f"cannot create --data-dir {data_dir}: part of its path is a file")
    except OSError as exc:
        fail(f"--data-dir {data_dir} を作成できません", f"cannot create --data-dir "
             f"{data_dir} ({_reason(exc)}); choose a directory you may write to")
    if not os.access(data_dir, os.W_OK | os.X_OK):
        fail(f"--data-dir {data_dir} に書き込めません",
             f"cannot write to --data-dir {data_dir}; choose a directory you may write to")


def existing_platform(data_dir: Path, has_platform: bool) -> None:
    """For the commands that work on an existing platform: exit with one bilingual line when
    `data_dir` is no directory or (`has_platform` False) holds no platform yet."""
    if data_dir.exists() and not data_dir.is_dir():
        fail(f"--data-dir {data_dir} はディレクトリではありません(ファイルです)",
             f"--data-dir {data_dir} is a file, not a directory")
    if not has_platform:
        fail(f"{data_dir} にプラットフォームがありません。先に `cityos init --data-dir {data_dir}`"
             " を実行してください",
             f"{data_dir} holds no platform: run `cityos init --data-dir {data_dir}` first")


def debug_requested(argv: list[str]) -> tuple[bool, list[str]]:
    """Whether `--debug` (anywhere before `--`) or CITYOS_DEBUG=1 asks for tracebacks, and the
    arguments without it."""
    cut = argv.index("--") if "--" in argv else len(argv)
    head, tail = argv[:cut], argv[cut:]
    debug = "--debug" in head or os.environ.get("CITYOS_DEBUG", "") not in ("", "0")
    return debug, [a for a in head if a != "--debug"] + tail


def guarded(run: Callable[[list[str]], object], argv: list[str] | None = None) -> None:
    """Run the command line: an error nobody caught becomes one bilingual line (exit 1; a file
    that cannot be read or written: exit 2), its traceback only with `--debug`."""
    debug, args = debug_requested(sys.argv[1:] if argv is None else argv)
    try:
        run(args)
    except Exception as exc:
        if debug:
            raise
        if isinstance(exc, OSError) and exc.filename is not None:
            typer.echo(line(f"{exc.filename} を読み書きできません",
                            f"cannot use {exc.filename}: {_reason(exc)}"), err=True)
            sys.exit(USER_ERROR)
        typer.echo(line(f"予期しないエラーです({type(exc).__name__})。--debug を付けて再実行すると"
                        "詳細が出ます",
                        f"unexpected error ({type(exc).__name__}: {exc}); run again with "
                        "--debug for the traceback"), err=True)
        sys.exit(FAILED)
