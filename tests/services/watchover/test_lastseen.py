"""The last-seen rule on a recorded flapping sequence (data/flapping.csv)."""

from __future__ import annotations

import datetime as dt

from cityos.services.watchover.lastseen import Hysteresis, LastSeen, replay
from cityos.services.watchover.model import Sighting

from .recorded import load

T0 = dt.datetime.fromisoformat("2026-12-07T08:00:00+09:00")


def naive(sightings: list[Sighting]) -> int:
    """Changes of "the receiver that heard it best within the last 5 s" (no hysteresis)."""
    changes, current, best = 0, None, {}
    for s in sorted(sightings, key=lambda s: s.at):
        best = {r: v for r, v in best.items() if (s.at - v[1]).total_seconds() < 5}
        best[s.receiver] = (s.rssi, s.at)
        winner = max(best, key=lambda r: best[r][0])
        if winner != current:
            changes, current = changes + 1, winner
    return changes - 1


def test_the_recorded_walk_flaps_without_the_rule() -> None:
    assert naive(load("flapping.csv")) >= 10


def test_the_recorded_walk_moves_once_with_the_rule() -> None:
    moves = replay(load("flapping.csv"))
    assert [(m.previous, m.receiver) for m in moves] == [(None, "rx-station"),
                                                         ("rx-station", "rx-gate")]
    # the child crossed the midpoint (200 m) at 08:08:20; the switch follows the hold
    assert dt.datetime.fromisoformat("2026-12-07T08:08:20+09:00") < moves[1].at < \
        dt.datetime.fromisoformat("2026-12-07T08:16:00+09:00")


def test_a_smaller_margin_switches_earlier_but_still_does_not_flap() -> None:
    strict = replay(load("flapping.csv"))
    loose = replay(load("flapping.csv"), Hysteresis(margin_db=3.0, hold_s=30.0))
    assert len(loose) == 2
    assert loose[1].at <= strict[1].at


def s(receiver: str, rssi: float, seconds: float) -> Sighting:
    return Sighting("t", receiver, rssi, T0 + dt.timedelta(seconds=seconds))


def test_the_margin_must_hold_for_the_hold_time() -> None:
    last_seen = LastSeen(Hysteresis(margin_db=6.0, hold_s=60.0, stale_s=180.0, alpha=1.0))
    assert last_seen.observe(s("a", -70, 0)) is not None
    assert last_seen.observe(s("b", -60, 10)) is None  # 10 dB ahead: the hold starts
    assert last_seen.observe(s("b", -60, 50)) is None  # 40 s: not yet
    assert last_seen.observe(s("a", -62, 55)) is None  # a comes back within the margin
    assert last_seen.observe(s("b", -60, 60)) is None  # so b is not ahead any more
    assert last_seen.observe(s("a", -75, 70)) is None  # a fades again
    assert last_seen.observe(s("b", -60, 75)) is None  # the hold starts again at 75
    assert last_seen.observe(s("b", -60, 130)) is None  # 55 s
    move = last_seen.observe(s("b", -60, 135))  # 60 s
    assert move is not None and (move.previous, move.receiver) == ("a", "b")


def test_a_margin_too_small_never_switches() -> None:
    last_seen = LastSeen(Hysteresis(margin_db=6.0, hold_s=60.0, alpha=1.0))
    last_seen.observe(s("a", -70, 0))
    for k in range(1, 20):
        assert last_seen.observe(s("b", -65, 10 * k)) is None  # 5 dB: under the margin
        last_seen.observe(s("a", -70, 10 * k + 1))
    place = last_seen.place("t")
    assert place is not None and place.receiver == "a"


def test_when_the_current_receiver_goes_quiet_another_takes_over_at_once() -> None:
    last_seen = LastSeen(Hysteresis(stale_s=180.0))
    last_seen.observe(s("a", -60, 0))
    assert last_seen.observe(s("b", -90, 100)) is None  # a heard 100 s ago: still a
    move = last_seen.observe(s("b", -90, 200))  # a quiet for 200 s ≥ 180 s
    assert move is not None and move.receiver == "b"


def test_an_older_sighting_does_not_move_the_place() -> None:
    last_seen = LastSeen(Hysteresis(stale_s=180.0))
    last_seen.observe(s("a", -60, 500))
    assert last_seen.observe(s("b", -40, 0)) is None
    place = last_seen.place("t")
    assert place is not None and place.receiver == "a"
