"""Statements built piece by piece with numbered parameters ($1, $2 …) for asyncpg."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Sql:
    """A statement under construction: `param` appends a value and returns its placeholder."""

    params: list[Any] = field(default_factory=list)

    def param(self, value: Any) -> str:
        self.params.append(value)
        return f"${len(self.params)}"
