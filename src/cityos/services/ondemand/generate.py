"""Random DARP instances in Cordeau's style and text format, for tuning beyond the a/b set.

Follows the generator described by Cordeau & Laporte (2003, §4) and Cordeau (2006, §5):
pickup and drop-off points uniform in the square [-10, 10]², the depot at its centre, travel
time = Euclidean distance. The first half of the requests are *outbound* (a tight window on
the drop-off, the pickup open all day), the second half *inbound* (a tight window on the
pickup, the drop-off open all day). Tight windows are `window` minutes wide (15 in the
papers) and lie inside the route duration limit `T` (the planning horizon); the open end
has the window [0, 1440], as in the vendored a/b files.

Styles (`a` and `b` reproduce the conventions read from tests/fixtures/darp-cordeau):

- `pr` (Cordeau & Laporte 2003, the default): capacity 6, one seat per request, service
  10 min, ride time 90, T = 480.
- `a` (Cordeau 2006 a-set): capacity 3, one seat, service 3 min, ride time 30.
- `b` (Cordeau 2006 b-set): capacity 6, 1–6 seats, service = seats minutes, ride time 45.

For `a` and `b` the horizon T is 480, 600 or 720 for 8, 10 or 12 requests per vehicle, as
in the a/b files; for `pr` it is 480 unless given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

OPEN = (0, 1440)  # the open end of a request, and the depot's window


@dataclass(frozen=True)
class Style:
    capacity: int
    ride: float
    service: int  # minutes per stop; 0 means "equal to the seats"
    max_seats: int


STYLES = {
    "pr": Style(capacity=6, ride=90.0, service=10, max_seats=1),
    "a": Style(capacity=3, ride=30.0, service=3, max_seats=1),
    "b": Style(capacity=6, ride=45.0, service=0, max_seats=6),
}


def _horizon(style: str, requests: int, vehicles: int) -> int:
    if style == "pr":
        return 480
    per = requests / max(vehicles, 1)
    return 480 if per <= 8 else 600 if per <= 10 else 720


def generate(
    requests: int,
    vehicles: int,
    seed: int = 0,
    style: str = "pr",
    window: int = 15,
    horizon: int | None = None,
) -> str:
    """One instance as the text of a Cordeau-format file (`K 2n T Q L`, then node lines).

    Every request can be served alone by a vehicle leaving the depot in time: the tight
    window is drawn where the direct trip fits, so the instance is feasible when the
    fleet is large enough.
    """
    if requests < 2 or vehicles < 1:
        raise ValueError("need at least 2 requests and 1 vehicle")
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r} (choose from {', '.join(STYLES)})")
    st = STYLES[style]
    T = horizon if horizon is not None else _horizon(style, requests, vehicles)
    rng = np.random.default_rng(seed)
    pick = rng.uniform(-10.0, 10.0, size=(requests, 2))
    drop = rng.uniform(-10.0, 10.0, size=(requests, 2))
    seats = rng.integers(1, st.max_seats + 1, size=requests)
    service = seats if st.service == 0 else np.full(requests, st.service)
    half = requests // 2
    pick_tw: list[tuple[int, int]] = []
    drop_tw: list[tuple[int, int]] = []
    for i in range(requests):
        s = int(service[i])
        to_p = float(np.hypot(*pick[i]))
        ride = float(np.hypot(*(drop[i] - pick[i])))
        home = float(np.hypot(*drop[i]))
        if i < half:  # outbound: arrive at the destination in the window
            lo = max(60, int(np.ceil(to_p + s + ride)) + 1)
            hi = int(np.floor(T - window - s - home)) - 1
            e = int(rng.integers(lo, max(lo, hi) + 1))
            pick_tw.append(OPEN)
            drop_tw.append((e, e + window))
        else:  # inbound: be picked up in the window
            lo = int(np.ceil(to_p)) + 1
            hi = min(T - 60, int(np.floor(T - window - s - ride - s - home)) - 1)
            e = int(rng.integers(lo, max(lo, hi) + 1))
            pick_tw.append((e, e + window))
            drop_tw.append(OPEN)
    lines = [f"{vehicles} {2 * requests} {T} {st.capacity} {st.ride:g}"]
    lines.append(f"{0:4d} {0.0:8.3f} {0.0:8.3f} {0:3d} {0:3d} {OPEN[0]:5d} {OPEN[1]:5d}")
    for i in range(requests):
        x, y = pick[i]
        e, lt = pick_tw[i]
        lines.append(
            f"{i + 1:4d} {x:8.3f} {y:8.3f} {int(service[i]):3d} {int(seats[i]):3d} {e:5d} {lt:5d}"
        )
    for i in range(requests):
        x, y = drop[i]
        e, lt = drop_tw[i]
        lines.append(
            f"{requests + i + 1:4d} {x:8.3f} {y:8.3f} {int(service[i]):3d} "
            f"{-int(seats[i]):3d} {e:5d} {lt:5d}"
        )
    return "\n".join(lines) + "\n"


def write_instance(
    out: str | Path,
    requests: int,
    vehicles: int,
    seed: int = 0,
    style: str = "pr",
    window: int = 15,
    horizon: int | None = None,
) -> Path:
    """Generate and write one instance file; returns its path."""
    path = Path(out)
    path.write_text(generate(requests, vehicles, seed, style, window, horizon), encoding="utf-8")
    return path
