"""The independent DARP checker rejects hand-made infeasible solutions of each kind.

Constraints of Cordeau (2006): time windows, capacity, ride time, route duration, service once.
"""

from __future__ import annotations

import pytest

from cityos.services.ondemand.checker import check_solution
from cityos.services.ondemand.loader import parse_cordeau

# two requests on a line: 1 -> 3 (x 1 -> 5) and 2 -> 4 (x 2 -> 6)
NODES = """0 0 0 0 0 0 100
1 1 0 0 1 0 100
2 2 0 0 1 0 100
3 5 0 0 -1 0 100
4 6 0 0 -1 0 100
"""


def make(k: int = 2, t: float = 100, q: int = 2, ride: float = 20, nodes: str = NODES):
    return parse_cordeau(f"{k} 4 {t} {q} {ride}\n{nodes}", name="tiny")


def kinds(inst, routes) -> set[str]:
    result = check_solution(inst, routes)
    assert not result.feasible
    return {v.split(":")[0] for v in result.violations}


def test_feasible_solution_passes_with_its_cost() -> None:
    result = check_solution(make(), [[1, 3, 2, 4]])
    assert result.feasible, result.violations
    assert result.cost == pytest.approx(18.0)
    assert result.served == result.requests == 2


def test_waiting_is_allowed() -> None:
    nodes = NODES.replace("2 2 0 0 1 0 100", "2 2 0 0 1 10 100")
    assert check_solution(make(nodes=nodes), [[1, 3, 2, 4]]).feasible


def test_unserved_request() -> None:
    assert kinds(make(), [[1, 3]]) == {"unserved"}


def test_request_served_twice() -> None:
    assert "duplicate" in kinds(make(), [[1, 3], [1, 3, 2, 4]])


def test_drop_off_before_pickup() -> None:
    assert "precedence" in kinds(make(), [[3, 1, 2, 4]])


def test_too_many_vehicles() -> None:
    assert "vehicles" in kinds(make(k=1), [[1, 3], [2, 4]])


def test_capacity() -> None:
    assert kinds(make(q=1), [[1, 2, 3, 4]]) == {"capacity"}


def test_time_window() -> None:
    nodes = NODES.replace("4 6 0 0 -1 0 100", "4 6 0 0 -1 0 10")
    assert kinds(make(nodes=nodes), [[1, 3, 2, 4]]) == {"time_window"}
    assert check_solution(make(nodes=nodes), [[2, 4, 1, 3]]).feasible


def test_ride_time() -> None:
    assert kinds(make(ride=5), [[1, 2, 4, 3]]) == {"ride_time"}
    assert check_solution(make(ride=5), [[1, 2, 3, 4]]).feasible


def test_route_duration() -> None:
    assert kinds(make(t=15), [[1, 3, 2, 4]]) == {"route_duration"}
    assert check_solution(make(t=15), [[1, 2, 3, 4]]).feasible


def test_unknown_node() -> None:
    assert "node" in kinds(make(), [[1, 3, 2, 4, 5]])
