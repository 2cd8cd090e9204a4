"""Fixtures of the backup tests: the deny-by-default platform of the access tests."""

from __future__ import annotations

from access.secured import platform, prepared

__all__ = ["platform", "prepared"]
