"""The `cityos` command: init, serve, demo and the admin verbs named in ARCHITECTURE.md.

Sub-commands of other parts (e.g. `cityos darp`) are mounted from their own modules.
"""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help="cityos — 都市OS")


def _mount_parts() -> None:
    try:
        from cityos.services.ondemand.cli import darp_app
    except ImportError:  # the on-demand transport engine is optional while it is being built
        return
    app.add_typer(darp_app, name="darp", help="AI on-demand transport (dial-a-ride) solver")


_mount_parts()


def main() -> None:
    app()
