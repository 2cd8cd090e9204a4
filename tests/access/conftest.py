"""Fixtures of the access tests: a deny-by-default platform with accounts of every kind."""

from __future__ import annotations

from .secured import platform, prepared

__all__ = ["platform", "prepared"]
