"""Bookings as residents, operators and companies make them: checked input in, offers and
trips out (the same for the app's pages, the console and the API)."""

from __future__ import annotations

import math
from typing import Any

from cityos.ngsi.errors import BadRequestData
from cityos.services.ondemand.dispatch import CONFIRMED, LIVE, OFFERED, ONBOARD, Dispatcher, Ride
from cityos.services.ondemand.stops import stop

NEAR_MINUTES = 5.0  # "the car is near": it has left for her pickup or is this close to it
MAX_PASSENGERS = 4
STATUS_TEXT = {
    "offered": ("確認待ち", "awaiting your confirmation"),
    "confirmed": ("予約済み", "booked"),
    "onboard": ("乗車中", "on board"),
    "done": ("到着しました", "arrived"),
    "cancelled": ("取り消し済み", "cancelled"),
    "declined": ("取り消し済み", "withdrawn"),
    "no_show": ("乗車されませんでした", "not picked up (no-show)"),
    "refused": ("空きがありませんでした", "no car free"),
}


def hm(minute: float | None) -> str:
    """A minute of the day as H:MM (JST), as people read it."""
    if minute is None or math.isnan(minute):
        return ""
    m = round(minute)
    return f"{m // 60}:{m % 60:02d}"


def _minute(value: Any, what: str) -> float:
    """"HH:MM" or a number of minutes after midnight."""
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 1440:
        return float(value)
    if isinstance(value, str) and len(value) <= 5 and ":" in value:
        h, _, m = value.partition(":")
        if h.isdigit() and m.isdigit() and int(h) < 24 and int(m) < 60:
            return int(h) * 60.0 + int(m)
    raise BadRequestData(f"{what} は HH:MM で指定してください / {what} must be HH:MM")


def ask(d: Dispatcher, data: dict[str, Any], resident: str | None) -> Ride:
    """A ride from a booking's fields (origin, destination, passengers, wheelchair, and
    `pickupAfter` / `pickupBefore` as HH:MM, or none for now); BadRequestData if wrong."""
    origin, destination = stop(str(data.get("origin", ""))), stop(str(data.get("destination", "")))
    if origin is None or destination is None:
        raise BadRequestData("乗る場所と行き先を一覧から選んでください / choose the pickup and "
                             "the destination from the list (GET …/stops)")
    if origin.key == destination.key:
        raise BadRequestData("乗る場所と行き先が同じです / the pickup and the destination are "
                             "the same")
    try:
        passengers = int(data.get("passengers", 1))
    except (TypeError, ValueError):
        passengers = 0
    if not 1 <= passengers <= MAX_PASSENGERS:
        raise BadRequestData(f"人数は 1〜{MAX_PASSENGERS} 人です / passengers: 1 to "
                             f"{MAX_PASSENGERS}")
    wheelchair = data.get("wheelchair") in (True, "true", "on", "1", 1)
    earliest = latest = None
    if data.get("pickupAfter") not in (None, ""):
        earliest = _minute(data.get("pickupAfter"), "pickupAfter")
        latest = earliest + 30.0
        if data.get("pickupBefore") not in (None, ""):
            latest = _minute(data.get("pickupBefore"), "pickupBefore")
        if not earliest + 10 <= latest <= earliest + 180:
            raise BadRequestData("乗車の時間帯は 10 分〜3 時間の幅で指定してください / the pickup "
                                 "window must be 10 minutes to 3 hours wide")
        if earliest < d.now + 5:
            raise BadRequestData("乗車は今から 5 分以上あとにしてください / the pickup must be at "
                                 "least 5 minutes from now")
    return d.new_ride(origin, destination, passengers, wheelchair, earliest, latest,
                      resident=resident)


def near(d: Dispatcher, ride: Ride) -> bool:
    """The car is on its way to her pickup, or will be there within NEAR_MINUTES."""
    if ride.status not in (CONFIRMED, OFFERED) or ride.vehicle is None:
        return False
    stops = d.next_stops(ride.vehicle, 1)
    if not stops or stops[0][0].id != ride.id or stops[0][1] != "p":
        return False
    return "p" in ride.pinned or stops[0][2] - d.now <= NEAR_MINUTES


def trip_json(d: Dispatcher, ride: Ride) -> dict[str, Any]:
    """A ride as the API and the pages show it (times as H:MM in JST)."""
    out: dict[str, Any] = {
        "id": ride.id, "status": ride.status,
        "origin": {"key": ride.origin.key, "name": ride.origin.name},
        "destination": {"key": ride.destination.key, "name": ride.destination.name},
        "passengers": ride.passengers, "wheelchair": ride.wheelchair,
        "vehicle": ride.vehicle,
        "pickupWindow": [hm(x) for x in ride.pickup_window] if ride.pickup_window else None,
        "arrivalBy": hm(ride.arrival_by) if ride.arrival_by is not None else None,
        "plannedPickup": hm(ride.planned_pickup) if ride.status in LIVE else None,
        "plannedArrival": hm(ride.planned_dropoff) if ride.status in LIVE else None,
        "pickedUp": hm(ride.pickup_at) if ride.pickup_at is not None else None,
        "arrived": hm(ride.dropoff_at) if ride.dropoff_at is not None else None,
        "carNear": near(d, ride),
    }
    if ride.status == ONBOARD:
        out["carNear"] = False
    return out
