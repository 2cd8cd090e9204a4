"""Dispatch: an offer at once, promises kept through later bookings, cancellations and
no-shows free the seats, the background re-optimisation never breaks what was promised."""

from __future__ import annotations

from dataclasses import replace

from cityos.services.ondemand.dispatch import (
    CANCELLED,
    CONFIRMED,
    DONE,
    NO_SHOW,
    REFUSED,
    Dispatcher,
)
from cityos.services.ondemand.fleet import demo_fleet
from cityos.services.ondemand.kpi import check_driven, kept_promise
from cityos.services.ondemand.stops import stop

HOME = stop("area-001")  # ときわ台五丁目
CLINIC = stop("clinic-yono")
STATION = stop("kofudai-station")


def _one_car(seats: int = 4, wheelchair: int = 0) -> Dispatcher:
    car = replace(demo_fleet()[0], seats=seats, wheelchair=wheelchair)
    return Dispatcher([car], now=8 * 60.0)


def test_an_offer_promises_a_window_and_an_arrival_the_plan_meets() -> None:
    assert HOME and CLINIC
    d = _one_car()
    ride = d.new_ride(HOME, CLINIC, passengers=2)
    offer = d.offer(ride)
    assert offer.ok and offer.pickup_window and offer.arrival_by
    lo, hi = offer.pickup_window
    assert ride.earliest <= lo < hi <= lo + 15
    assert lo <= (ride.planned_pickup or 0) <= hi
    assert ride.planned_dropoff is not None and ride.planned_dropoff <= offer.arrival_by
    assert d.confirm(ride.id) and ride.status == CONFIRMED
    d.advance(13 * 60.0)
    assert ride.status == DONE and kept_promise(ride)
    assert check_driven(d) == (True, [])


def test_a_full_car_refuses_and_a_cancellation_frees_the_seats() -> None:
    assert HOME and CLINIC
    d = _one_car(seats=4)
    first = d.new_ride(HOME, CLINIC, passengers=4, earliest=600, latest=610)
    assert d.offer(first).ok and d.confirm(first.id)
    second = d.new_ride(HOME, CLINIC, passengers=1, earliest=600, latest=610)
    assert not d.offer(second).ok and second.status == REFUSED
    assert d.cancel(first.id) and first.status == CANCELLED
    third = d.new_ride(HOME, CLINIC, passengers=1, earliest=600, latest=610)
    assert d.offer(third).ok


def test_a_wheelchair_needs_a_car_with_a_wheelchair_place() -> None:
    assert HOME and CLINIC
    d = _one_car(wheelchair=0)
    assert not d.offer(d.new_ride(HOME, CLINIC, wheelchair=True)).ok
    d = _one_car(wheelchair=1)
    assert d.offer(d.new_ride(HOME, CLINIC, wheelchair=True)).ok


def test_later_bookings_never_move_a_promise() -> None:
    assert HOME and CLINIC and STATION
    d = Dispatcher(demo_fleet(), now=7 * 60.0)
    promised = []
    for k in range(40):
        d.advance(7 * 60.0 + 3 * k)
        origin, dest = (HOME, CLINIC) if k % 2 else (STATION, HOME)
        ride = d.new_ride(origin, dest)
        if d.offer(ride).ok:
            d.confirm(ride.id)
            promised.append((ride, ride.pickup_window, ride.arrival_by))
        if k % 10 == 9:
            d.reoptimise(0.2, seed=k)
        assert d.feasible()
    assert len(promised) > 10
    d.advance(24 * 60.0)
    for ride, window, arrival in promised:
        assert (ride.pickup_window, ride.arrival_by) == (window, arrival)
        assert ride.status == DONE and kept_promise(ride), ride
    assert check_driven(d) == (True, [])


def test_a_no_show_frees_the_seats_after_the_pickup() -> None:
    assert HOME and CLINIC
    d = _one_car(seats=4)
    ride = d.new_ride(HOME, CLINIC, passengers=4, earliest=600, latest=610)
    assert d.offer(ride).ok and d.confirm(ride.id)
    d.advance((ride.planned_pickup or 0) - 0.1)
    assert d.next_stops(ride.vehicle or "")[0][:2] == (ride, "p")
    assert d.mark(ride.id, "p", absent=True)
    assert ride.status == NO_SHOW
    other = d.new_ride(HOME, CLINIC, passengers=4, earliest=600, latest=640)
    assert d.offer(other).ok and d.confirm(other.id)
    d.advance(24 * 60.0)
    assert other.status == DONE and check_driven(d)[0]


def test_an_offer_not_confirmed_is_withdrawn_and_its_seats_freed() -> None:
    assert HOME and CLINIC
    d = _one_car(seats=4)
    held = d.new_ride(HOME, CLINIC, passengers=4, earliest=600, latest=610)
    assert d.offer(held).ok
    assert not d.offer(d.new_ride(HOME, CLINIC, passengers=1, earliest=600, latest=610)).ok
    d.advance(d.now + 4)  # the resident never confirmed
    assert held.status == "declined"
    assert d.offer(d.new_ride(HOME, CLINIC, passengers=1, earliest=600, latest=610)).ok


def test_the_resident_is_told_when_her_car_is_near() -> None:
    from cityos.services.ondemand.booking import NEAR_MINUTES, near

    assert HOME and CLINIC
    d = _one_car()
    ride = d.new_ride(HOME, CLINIC, earliest=600, latest=620)
    assert d.offer(ride).ok and d.confirm(ride.id)
    pickup = ride.planned_pickup or 0.0
    d.advance(pickup - NEAR_MINUTES - 10)
    assert not near(d, ride)
    d.advance(pickup - NEAR_MINUTES + 0.5)
    assert near(d, ride)
    d.advance(pickup + 0.5)
    assert not near(d, ride) and ride.status == "onboard"
