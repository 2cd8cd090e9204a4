"""Instance loaders: Cordeau's DARP text format (with or without the arrival-depot line) and JSON.

Format of Cordeau (2006) as distributed with the a/b benchmark sets; JSON is cityos's own.
"""

from __future__ import annotations

import json
from pathlib import Path

from cityos.services.ondemand.model import Instance


class InstanceFormatError(ValueError):
    """The file is not a DARP instance in a known format."""


def load_instance(path: str | Path) -> Instance:
    """Load an instance file; `.json` files use the JSON form, anything else Cordeau's format."""
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    if p.suffix.lower() == ".json":
        return parse_json(json.loads(text), name=p.stem)
    return parse_cordeau(text, name=p.stem)


def parse_cordeau(text: str, name: str = "instance") -> Instance:
    """Parse `K 2n T Q L` then node lines `id x y service load tw_start tw_end`."""
    lines = [ln.split() for ln in text.splitlines() if ln.strip()]
    try:
        head = lines[0]
        vehicles, nodes2, duration, capacity, ride = (
            int(head[0]),
            int(head[1]),
            float(head[2]),
            int(head[3]),
            float(head[4]),
        )
        rows = [
            (float(f[1]), float(f[2]), float(f[3]), int(float(f[4])), float(f[5]), float(f[6]))
            for f in lines[1:]
        ]
    except (IndexError, ValueError) as exc:
        raise InstanceFormatError(f"{name}: not a Cordeau DARP file ({exc})") from exc
    if nodes2 % 2 or len(rows) not in (nodes2 + 1, nodes2 + 2):
        raise InstanceFormatError(f"{name}: expected {nodes2 + 1} or {nodes2 + 2} node lines")
    if len(rows) == nodes2 + 1:  # no arrival-depot line: the vehicle returns to node 0
        rows.append(rows[0])
    return Instance.build(name, vehicles, capacity, duration, ride, rows)


def parse_json(data: dict, name: str = "instance") -> Instance:
    """Parse cityos's JSON form.

    `{"vehicles", "capacity", "max_route_duration", "max_ride_time",
      "depot": {"x", "y", "tw": [a, b]},
      "requests": [{"pickup": {"x", "y", "tw": [a, b]}, "dropoff": {...}, "seats", "service"}]}`
    """
    try:
        depot = data["depot"]
        reqs = data["requests"]
        dep = (
            float(depot["x"]),
            float(depot["y"]),
            0.0,
            0,
            *map(float, depot.get("tw", [0, 1440])),
        )
        picks: list[tuple] = []
        drops: list[tuple] = []
        for r in reqs:
            seats, svc = int(r.get("seats", 1)), float(r.get("service", 0))
            for key, sign, out in (("pickup", 1, picks), ("dropoff", -1, drops)):
                s = r[key]
                tw = s.get("tw", depot.get("tw", [0, 1440]))
                out.append(
                    (float(s["x"]), float(s["y"]), svc, sign * seats, float(tw[0]), float(tw[1]))
                )
        rows = [dep, *picks, *drops, dep]
        return Instance.build(
            str(data.get("name", name)),
            int(data["vehicles"]),
            int(data["capacity"]),
            float(data["max_route_duration"]),
            float(data["max_ride_time"]),
            rows,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InstanceFormatError(f"{name}: not a cityos DARP JSON document ({exc})") from exc
