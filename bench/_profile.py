"""Profiles of the server during a figure's load: py-spy (sampling, native-free) on its pid.

Writes bench/results/profile-<figure>.txt (top functions by own and inclusive time, per thread)
and the collapsed stacks (profile-<figure>.folded, for flamegraph tools / speedscope).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench._server import CLIENT_CORE, pinned

_LINE = re.compile(r":\d+\)$")


def py_spy() -> str | None:
    exe = Path(sys.executable).with_name("py-spy")
    return str(exe) if exe.exists() else shutil.which("py-spy")


class Profiler:
    def __init__(self, out: Path, seconds: float) -> None:
        self.out = out
        self.seconds = seconds
        self.exe = py_spy()
        if self.exe is None:
            print("profile: py-spy not found (pip install py-spy); no profiles", file=sys.stderr)

    def record(self, name: str, pid: int, load: Callable[[], Any]) -> None:
        if self.exe is None:
            return
        folded = self.out / f"profile-{name}.folded"
        argv = pinned([self.exe, "record", "--pid", str(pid), "--duration",
                       str(max(1, int(self.seconds) - 1)), "--rate", "200", "--threads",
                       "--nonblocking", "--format", "raw", "--output", str(folded)], CLIENT_CORE)
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        runner = threading.Thread(target=load)
        runner.start()
        runner.join()
        _, err = proc.communicate(timeout=60)
        if proc.returncode != 0 or not folded.exists():
            print(f"profile {name}: py-spy failed: {err.decode()[-500:]}", file=sys.stderr)
            return
        text = summarise(folded.read_text())
        (self.out / f"profile-{name}.txt").write_text(text)
        print(f"profile {name}: {self.out / f'profile-{name}.txt'}")


def _function(frame: str) -> str:
    """`name (file.py:123)` -> `name (file.py)`: lines of one function counted together."""
    return _LINE.sub(")", frame)


def summarise(folded: str, top: int = 25) -> str:
    """Own and inclusive sample counts per function, per thread, from collapsed stacks."""
    own: dict[str, Counter[str]] = {}
    incl: dict[str, Counter[str]] = {}
    totals: Counter[str] = Counter()
    for line in folded.splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_s)
        frames = [_function(f) for f in stack.split(";")]
        thread = frames[0]
        totals[thread] += count
        own.setdefault(thread, Counter())[frames[-1]] += count
        seen = set(frames[1:])
        inc = incl.setdefault(thread, Counter())
        for frame in seen:
            inc[frame] += count
    out = []
    for thread, total in totals.most_common():
        out.append(f"== {thread}: {total} samples")
        out.append("-- own time")
        for frame, n in own[thread].most_common(top):
            out.append(f"{100 * n / total:6.1f}%  {frame}")
        out.append("-- inclusive")
        for frame, n in incl[thread].most_common(top + 15):
            out.append(f"{100 * n / total:6.1f}%  {frame}")
        out.append("")
    return "\n".join(out)


