"""numba compilation for the DARP kernels, cached on disk where that is possible.

Compiling the kernels takes one to two minutes; numba's cache (`cache=True`) keeps the
machine code so that later processes load it in about a second. Two things are added to
numba's defaults:

- **One stamp for all kernel modules.** numba invalidates a cached function only when
  *its own* source file changes, but the kernels call each other across `_route.py`,
  `_insert.py`, `_ruin.py` and `_search.py`, so an edit to one (or an upgrade that changes
  only one) would leave stale code in the others' caches. Our locators stamp every kernel
  with a hash of all four files instead.
- **Graceful fallback.** The cache goes where numba would put it: `NUMBA_CACHE_DIR` if set,
  else `__pycache__` next to the module if writable (editable installs), else the user's
  cache directory (read-only site-packages). If none is writable, the kernels are compiled
  without a cache rather than failing at import.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from numba import njit
from numba.core import caching

_HERE = Path(__file__).resolve().parent
KERNEL_FILES = ("_jit.py", "_route.py", "_insert.py", "_ruin.py", "_search.py")


def _stamp() -> str:
    h = hashlib.sha256()
    for name in KERNEL_FILES:
        h.update((_HERE / name).read_bytes())
    return h.hexdigest()


STAMP = _stamp()


class _KernelStamp:
    """Locator mixin: only for this folder's kernels, stamped with all kernel sources."""

    @classmethod
    def from_function(cls, py_func: Any, py_file: str) -> Any:
        if Path(py_file).resolve().parent != _HERE:
            return None
        return super().from_function(py_func, py_file)  # type: ignore[misc]

    def get_source_stamp(self) -> str:
        return STAMP


def _locators() -> list[type]:
    names = ("UserProvidedCacheLocator", "InTreeCacheLocator", "UserWideCacheLocator")
    out: list[type] = []
    for name in names:
        base = getattr(caching, name, None) or getattr(caching, "_" + name, None)
        if base is not None:
            out.append(type("Kernel" + name, (_KernelStamp, base), {}))
    return out


def _install() -> None:
    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl", None)
    classes = getattr(impl, "_locator_classes", None)
    if isinstance(classes, list) and not any(issubclass(c, _KernelStamp) for c in classes):
        classes[:0] = _locators()


_install()


def kernel(**options: Any) -> Callable[[Callable[..., Any]], Any]:
    """`numba.njit(cache=True, **options)`, or without the cache if nowhere is writable."""

    def wrap(fn: Callable[..., Any]) -> Any:
        try:
            return njit(cache=True, **options)(fn)
        except RuntimeError:  # numba: "cannot cache function ...: no locator available"
            return njit(**options)(fn)

    return wrap
