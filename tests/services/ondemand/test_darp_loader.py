"""The DARP loader reads Cordeau's format with and without the arrival-depot line, and JSON.

Format of the a/b instances of Cordeau (2006), see tests/fixtures/darp-cordeau/SOURCES.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cityos.services.ondemand.loader import (
    InstanceFormatError,
    load_instance,
    parse_cordeau,
    parse_json,
)

DATA = Path(__file__).resolve().parents[2] / "fixtures" / "darp-cordeau"  # vendored, see SOURCES.md

BODY = """0 0 0 0 0 0 480
1 1 1 3 1 0 480
2 -1 -1 3 -1 60 75
"""


def test_without_arrival_depot_line() -> None:
    inst = parse_cordeau("1 2 480 3 30\n" + BODY)
    assert inst.requests == 1 and inst.end_depot == 3
    assert (inst.x[3], inst.y[3], inst.tw_end[3]) == (0, 0, 480)
    assert inst.dist[1, 2] == pytest.approx(2**1.5)


def test_with_arrival_depot_line() -> None:
    inst = parse_cordeau("1 2 480 3 30\n" + BODY + "3 5 5 0 0 0 400\n")
    assert inst.end_depot == 3 and (inst.x[3], inst.tw_end[3]) == (5, 400)
    assert inst.max_ride_time == 30 and inst.max_route_duration == 480 and inst.capacity == 3


def test_bad_node_count() -> None:
    with pytest.raises(InstanceFormatError):
        parse_cordeau("1 4 480 3 30\n" + BODY)


@pytest.mark.parametrize(("name", "lines"), [("a2-16", 34), ("b2-20", 42)])
def test_benchmark_files_of_both_variants(name: str, lines: int) -> None:
    text = (DATA / f"{name}.txt").read_text()
    assert len(text.strip().splitlines()) == lines
    inst = load_instance(DATA / f"{name}.txt")
    n = int(name.split("-")[1])
    assert inst.requests == n and len(inst.x) == 2 * n + 2
    assert int(inst.load[1 : n + 1].sum()) == -int(inst.load[n + 1 : 2 * n + 1].sum())


def test_json_form() -> None:
    inst = parse_json(
        {
            "vehicles": 1,
            "capacity": 4,
            "max_route_duration": 480,
            "max_ride_time": 45,
            "depot": {"x": 0, "y": 0, "tw": [0, 600]},
            "requests": [
                {"pickup": {"x": 1, "y": 0}, "dropoff": {"x": 3, "y": 0, "tw": [0, 90]}, "seats": 2}
            ],
        }
    )
    assert inst.requests == 1 and list(inst.load) == [0, 2, -2, 0]
    assert inst.tw_end[2] == 90 and inst.tw_end[3] == 600
