"""Fixtures of the IoT tests: the secured platform of the access tests (accounts of every kind)."""

from __future__ import annotations

from access.secured import platform, prepared

__all__ = ["platform", "prepared"]
