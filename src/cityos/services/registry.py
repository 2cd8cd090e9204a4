"""The town services this platform ships, found by their folders (no central list to edit).

A package `cityos.services.<name>` is a service when it has `manifest.py` with `MANIFEST`;
its optional `routes.py` gives `OPERATIONS`, its optional `runtime.py` `start(ctx)` and
`stop(ctx)`, its optional `demo.py` `load(ctx)`.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from types import ModuleType
from typing import Any

import cityos.services as package
from cityos.operations import Operation
from cityos.services.manifest import Manifest


@cache
def manifests() -> tuple[Manifest, ...]:
    """Every shipped service's manifest, in name order."""
    found = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if not info.ispkg:
            continue
        module = part(info.name, "manifest")
        if module is not None and isinstance(getattr(module, "MANIFEST", None), Manifest):
            found.append(module.MANIFEST)
    return tuple(found)


def manifest(name: str) -> Manifest | None:
    return next((m for m in manifests() if m.name == name), None)


def part(name: str, module: str) -> ModuleType | None:
    """`cityos.services.<name>.<module>`, or None when the service has no such part."""
    qualified = f"{package.__name__}.{name}.{module}"
    try:
        return importlib.import_module(qualified)
    except ModuleNotFoundError as error:
        if error.name in (qualified, f"{package.__name__}.{name}"):
            return None
        raise


def hook(name: str, module: str, function: str) -> Any:
    found = part(name, module)
    return getattr(found, function, None) if found is not None else None


def operations() -> list[Operation]:
    """The HTTP operations of every shipped service (pages, console, API)."""
    ops: list[Operation] = []
    for m in manifests():
        routes = part(m.name, "routes")
        ops.extend(getattr(routes, "OPERATIONS", []) if routes is not None else [])
    return ops


def by_plan_row() -> dict[str, Manifest]:
    """Catalog id (plan-02 …) → the built-in service that implements it."""
    return {row: m for m in manifests() for row in m.plan_rows}
