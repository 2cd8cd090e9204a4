"""Waiting for what a running server does in the background (no timing is asserted)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def until(check: Callable[[], Any], seconds: float = 60, step: float = 0.2) -> Any:
    """The first truthy result of `check` within `seconds`, else its last result."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(step)
    return check()
