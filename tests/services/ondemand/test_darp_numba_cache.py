"""The compiled kernels are cached on disk: a second process loads them instead of compiling.

Checked through numba's dispatcher statistics (cache hits and misses), never through timing.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from numba.core import caching

from cityos.services.ondemand import _jit, _search

PROBE = """
import json
from cityos.services.ondemand import _search, solver
solver.warm_up()
out = {}
for name in ("run_chunk", "construct", "objective", "seed_rng"):
    d = getattr(_search, name)
    out[name] = [sum(d.stats.cache_hits.values()), sum(d.stats.cache_misses.values())]
print(json.dumps(out))
"""


def _probe() -> dict[str, list[int]]:
    cmd = [sys.executable, "-c", PROBE]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_second_process_loads_every_kernel_from_the_cache() -> None:
    _probe()  # compiles and writes the cache if this checkout has none yet
    second = _probe()
    for name, (hits, misses) in second.items():
        assert misses == 0, f"{name} was compiled again"
        assert hits >= 1, f"{name} was not loaded from the cache"


def test_kernels_share_one_stamp_over_all_kernel_sources() -> None:
    locator = _search.run_chunk._cache._impl.locator
    assert isinstance(locator, _jit._KernelStamp)
    assert locator.get_source_stamp() == _jit.STAMP


def test_no_writable_cache_falls_back_to_plain_compilation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(caching.CacheImpl, "_locator_classes", [])

    @_jit.kernel()
    def twice(x: int) -> int:
        return 2 * x

    assert twice(21) == 42
