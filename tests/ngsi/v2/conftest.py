"""NGSI v2 tests run on the secured platform (real accounts and signed tokens)."""

from __future__ import annotations

from access.secured import platform, prepared

__all__ = ["platform", "prepared"]
