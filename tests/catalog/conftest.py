"""Fixtures of the catalog tests: the access tests' secured platform (every kind of account)."""

from __future__ import annotations

from access.secured import platform, prepared

__all__ = ["platform", "prepared"]
