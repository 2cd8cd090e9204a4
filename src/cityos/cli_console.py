"""The Rich console of the `cityos` commands: in a terminal as Rich makes it; piped or
redirected, lines are never wrapped or cut, so that a fingerprint, a token or a suggested
command arrives whole (Rich would otherwise wrap at 80 columns)."""

from __future__ import annotations

import sys

from rich.console import Console

PIPED_WIDTH = 1000  # tables are as wide as their content; no line is cut below this


def cli_console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    try:
        terminal = stream.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        terminal = False
    if terminal:
        return Console(stderr=stderr)
    return Console(stderr=stderr, soft_wrap=True, width=PIPED_WIDTH)
