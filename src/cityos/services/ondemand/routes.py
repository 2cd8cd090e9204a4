"""The service's faces: the resident's page /app/ondemand, the operator's console
/console/ondemand, the driver's page /console/ondemand/driver, and the API
/services/v1/ondemand/… (stops, offers, bookings, confirm, cancel, trips, KPIs)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from cityos.audit.trail import PRINCIPAL
from cityos.jsonvalue import loads
from cityos.ngsi.api.respond import plain_json
from cityos.ngsi.errors import BadRequestData, NgsiError, ResourceNotFound
from cityos.operations import RESIDENT_ROLE, STAFF_READ, STAFF_WRITE, Operation, Param, Policy
from cityos.services.ondemand.booking import STATUS_TEXT, ask, hm, trip_json
from cityos.services.ondemand.dispatch import Dispatcher, Offer, Ride
from cityos.services.ondemand.kpi import heat_map, kpis
from cityos.services.ondemand.manifest import MANIFEST
from cityos.services.ondemand.pages import CSS, show
from cityos.services.ondemand.runtime import dispatcher, record
from cityos.services.ondemand.stops import KINDS, all_stops, areas, destinations
from cityos.services.runtime import ServiceContext, context_of, contexts
from cityos.town.area_order import area_key
from cityos.web.console._page import NAV, staff_name
from cityos.web.pages import RESIDENT_PAGE, form_of, page
from cityos.web.prefs import Prefs
from cityos.web.render import prefs_of

API = MANIFEST.api_path
BOOK = Policy(roles=("operator", RESIDENT_ROLE))  # residents for themselves, operators for callers
TAG = "ondemand"


# --- helpers ------------------------------------------------------------------------------
def _ctx(request: Request) -> ServiceContext:
    """The running service; a town that has not enabled it answers 404 (not a server error)."""
    if MANIFEST.name not in contexts(request.app):
        raise ResourceNotFound("この町ではオンデマンド交通は有効ではありません / on-demand "
                               "transport is not enabled in this town")
    return context_of(request, MANIFEST.name)


def _d(request: Request) -> Dispatcher:
    return dispatcher(_ctx(request))


def _resident(request: Request) -> str | None:
    """The signed-in resident's id as personal data names her (None for staff)."""
    principal = request.scope.get(PRINCIPAL)
    if principal is None or principal.kind != "resident":
        return None
    return f"urn:ngsi-ld:Resident:{principal.name}"


def _lang(request: Request) -> str:
    prefs = prefs_of(request.scope)
    return prefs.lang if isinstance(prefs, Prefs) else "ja"


def _status(lang: str) -> Any:
    return lambda s: STATUS_TEXT.get(s, (s, s))[1 if lang == "en" else 0]


def _cars(d: Dispatcher) -> dict[str, str]:
    return {k: c.vehicle.name for k, c in d.cars.items()}


def _times(d: Dispatcher) -> list[str]:
    start = (int(d.now) // 15 + 1) * 15 + 15
    return [hm(m).rjust(5, "0") for m in range(start, min(start + 12 * 60, 24 * 60 - 30), 15)]


def _own(d: Dispatcher, request: Request, ride_id: str) -> Ride:
    """The ride if the caller may act on it (her own; any for staff), else 404."""
    ride = d.rides.get(ride_id)
    me = _resident(request)
    if ride is None or (me is not None and ride.resident != me):
        raise ResourceNotFound("予約が見つかりません / no such booking")
    return ride


def _offer_json(d: Dispatcher, offer: Offer) -> dict[str, Any]:
    return {"ok": offer.ok, "ride": trip_json(d, offer.ride), "offerMs": round(offer.ms, 1)}


def _form_booking(form: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = dict(form)
    if form.get("when") != "later":
        data.pop("pickupAfter", None)
    return data


def _redirect(path: str, flash: str) -> Response:
    return RedirectResponse(f"{path}?done={quote(flash)}", status_code=303,
                            headers={"Cache-Control": "no-store"})


FLASH = {"confirmed": ("予約しました。", "Booked."),
         "cancelled": ("予約を取り消しました。", "Booking cancelled."),
         "marked": ("記録しました。", "Recorded."),
         "gone": ("この予約は変更できません。", "This booking can no longer be changed.")}


def _flash(request: Request) -> str:
    key = request.query_params.get("done", "")
    return FLASH[key][1 if _lang(request) == "en" else 0] if key in FLASH else ""


def _common(d: Dispatcher, request: Request) -> dict[str, Any]:
    lang = _lang(request)
    return {"areas": sorted(areas(), key=lambda s: area_key(s.name)), "places": destinations(), "times": _times(d),
            "kinds": {k: v[1 if lang == "en" else 0] for k, v in KINDS.items()},
            "status": _status(lang), "cars": _cars(d), "flash": _flash(request)}


async def stylesheet(request: Request) -> Response:
    return Response(CSS, media_type="text/css",
                    headers={"Cache-Control": "public, max-age=3600",
                             "X-Content-Type-Options": "nosniff"})


# --- the resident's page ------------------------------------------------------------------
async def app_page(request: Request) -> Response:
    d = _d(request)
    me = _resident(request)
    rides = [trip_json(d, r) for r in d.rides.values() if me is None or r.resident == me]
    rides = [r for r in rides if r["status"] not in ("refused",)][::-1]
    return show(request, "ondemand/app.html", {
        **_common(d, request), "offer": None, "rides": rides, "caller": False,
        "action": "/app/ondemand/offer", "cancel_action": "/app/ondemand/cancel"})


async def app_offer(request: Request) -> Response:
    d = _d(request)
    ctx = _ctx(request)
    try:
        ride = ask(d, _form_booking(await form_of(request)), _resident(request))
    except BadRequestData as error:
        return show(request, "ondemand/app.html", {
            **_common(d, request), "offer": None, "rides": [], "caller": False,
            "flash": error.detail, "action": "/app/ondemand/offer",
            "cancel_action": "/app/ondemand/cancel"}, status=400)
    offer = d.offer(ride)
    record(ctx, ride)
    return show(request, "ondemand/app.html", {
        **_common(d, request), "offer": offer, "ride": ride, "trip": trip_json(d, ride),
        "confirm_action": "/app/ondemand/confirm", "cancel_action": "/app/ondemand/cancel",
        "back": "/app/ondemand"})


async def _decide(request: Request, confirm: bool, back: str) -> Response:
    d = _d(request)
    form = await form_of(request)
    try:
        ride = _own(d, request, form.get("ride", ""))
    except ResourceNotFound:
        return _redirect(back, "gone")
    ok = d.confirm(ride.id) if confirm else d.cancel(ride.id)
    record(_ctx(request), ride)
    return _redirect(back, ("confirmed" if confirm else "cancelled") if ok else "gone")


async def app_confirm(request: Request) -> Response:
    return await _decide(request, True, "/app/ondemand")


async def app_cancel(request: Request) -> Response:
    return await _decide(request, False, "/app/ondemand")


# --- the operator's console ---------------------------------------------------------------
def _kpi_rows(d: Dispatcher, lang: str) -> list[tuple[str, Any]]:
    k = kpis(d)
    en = lang == "en"
    labels = [
        ("requests", "予約の申し込み", "Requests"), ("served", "乗車済み", "Served"),
        ("refused", "お断り（空きなし）", "Refused (no car free)"),
        ("cancelled", "取り消し", "Cancelled"), ("no_shows", "不在", "No-shows"),
        ("wait_min_mean", "平均待ち時間（分）", "Mean wait (min)"),
        ("detour_factor_total", "遠回りの倍率", "Detour factor"),
        ("occupancy", "平均乗車人数（走行中）", "Occupancy (people aboard while driving)"),
        ("km_per_passenger", "1人あたり走行km", "km per passenger"),
        ("offer_p95_ms", "回答時間 p95（ミリ秒）", "Offer time p95 (ms)"),
    ]
    return [(en_label if en else ja, k[key]) for key, ja, en_label in labels]


def _console_values(d: Dispatcher, request: Request) -> dict[str, Any]:
    rides = [trip_json(d, r) for r in d.rides.values()][::-1]
    heat = heat_map(list(d.rides.values()))
    hours = sorted({h for row in heat.values() for h in row}) or [f"{h:02d}" for h in
                                                                   range(7, 19)]
    return {**_common(d, request), "nav": NAV, "section": "services",
            "staff": staff_name(request), "rides": rides, "kpis": _kpi_rows(d, _lang(request)),
            "heat": list(heat.items()), "hours": hours, "caller": True,
            "action": "/console/ondemand/offer", "cancel_action": "/console/ondemand/cancel",
            "confirm_action": "/console/ondemand/confirm", "back": "/console/ondemand",
            "offer": None}


async def console_page(request: Request) -> Response:
    d = _d(request)
    return show(request, "ondemand/console.html", _console_values(d, request))


async def console_offer(request: Request) -> Response:
    d = _d(request)
    form = await form_of(request)
    resident = form.get("resident", "").strip()
    try:
        ride = ask(d, _form_booking(form),
                   f"urn:ngsi-ld:Resident:{resident}" if resident else None)
    except BadRequestData as error:
        values = _console_values(d, request)
        values["flash"] = error.detail
        return show(request, "ondemand/console.html", values, status=400)
    offer = d.offer(ride)
    record(_ctx(request), ride)
    values = _console_values(d, request)
    values.update(offer=offer, ride=ride, trip=trip_json(d, ride))
    return show(request, "ondemand/console.html", values)


async def console_confirm(request: Request) -> Response:
    return await _decide(request, True, "/console/ondemand")


async def console_cancel(request: Request) -> Response:
    return await _decide(request, False, "/console/ondemand")


# --- the driver's page --------------------------------------------------------------------
async def driver_page(request: Request) -> Response:
    d = _d(request)
    car = request.query_params.get("car", "")
    if car not in d.cars:
        car = next(iter(d.cars))
    stops = []
    for ride, kind, t in d.next_stops(car, 4):
        stops.append({"ride": ride.id, "kind": kind, "time": hm(t),
                      "place": (ride.origin if kind == "p" else ride.destination).name,
                      "passengers": ride.passengers, "wheelchair": ride.wheelchair})
    _, aboard = d.position(car)
    return show(request, "ondemand/driver.html", {
        **_common(d, request), "nav": NAV, "section": "services", "staff": staff_name(request),
        "car": car, "stops": stops, "aboard": aboard})


async def driver_mark(request: Request) -> Response:
    d = _d(request)
    form = await form_of(request)
    car = form.get("car", "")
    ride = d.rides.get(form.get("ride", ""))
    back = f"/console/ondemand/driver?car={quote(car)}&done="
    ok = ride is not None and d.mark(ride.id, form.get("kind", ""), form.get("absent") == "on")
    if ok and ride is not None:
        record(_ctx(request), ride)
    return RedirectResponse(back + ("marked" if ok else "gone"), status_code=303,
                            headers={"Cache-Control": "no-store"})


# --- the API ------------------------------------------------------------------------------
async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > 4096:
        raise BadRequestData("本文が大きすぎます / the body is too large")
    try:
        data = loads(raw or b"{}")
    except (ValueError, TypeError):
        raise BadRequestData("本文が JSON ではありません / the body is not JSON") from None
    if not isinstance(data, dict):
        raise BadRequestData("本文は JSON オブジェクトです / the body must be a JSON object")
    return data


def _resident_of_body(request: Request, data: dict[str, Any]) -> str | None:
    me = _resident(request)
    if me is not None:
        return me
    who = data.get("resident")
    if who is None:
        return None
    if not isinstance(who, str) or not 0 < len(who) <= 100:
        raise BadRequestData("resident は住民IDです / resident is a resident id")
    return who if who.startswith("urn:") else f"urn:ngsi-ld:Resident:{who}"


async def api_stops(request: Request) -> Response:
    return plain_json([{"key": s.key, "name": s.name, "nameEn": s.name_en, "kind": s.kind,
                        "area": s.area, "location": {"type": "Point",
                                                     "coordinates": list(s.where)}}
                       for s in all_stops()])


async def _api_offer(request: Request, confirm: bool) -> Response:
    d = _d(request)
    data = await _body(request)
    ride = ask(d, data, _resident_of_body(request, data))
    offer = d.offer(ride)
    if confirm and offer.ok:
        d.confirm(ride.id)
    record(_ctx(request), ride)
    return plain_json(_offer_json(d, offer), status=201 if offer.ok else 409)


async def api_offer(request: Request) -> Response:
    return await _api_offer(request, False)


async def api_book(request: Request) -> Response:
    return await _api_offer(request, True)


async def _api_decide(request: Request, confirm: bool) -> Response:
    d = _d(request)
    ride = _own(d, request, request.path_params["ride"])
    ok = d.confirm(ride.id) if confirm else d.cancel(ride.id)
    if not ok:
        raise _Conflict("この予約は変更できません / this booking can no longer be changed")
    record(_ctx(request), ride)
    return plain_json(trip_json(d, ride))


class _Conflict(NgsiError):
    title = "Conflict"
    status = 409


async def api_confirm(request: Request) -> Response:
    return await _api_decide(request, True)


async def api_cancel(request: Request) -> Response:
    return await _api_decide(request, False)


async def api_trips(request: Request) -> Response:
    d = _d(request)
    me = _resident(request)
    return plain_json([trip_json(d, r) for r in d.rides.values()
                       if me is None or r.resident == me])


async def api_kpis(request: Request) -> Response:
    d = _d(request)
    ready = bool(_ctx(request).state.get("ready"))
    return plain_json({**kpis(d), "demandByAreaHour": heat_map(list(d.rides.values())),
                       "optimiserReady": ready})


BOOKING = {"type": "object", "required": ["origin", "destination"], "properties": {
    "origin": {"type": "string", "description": "a stop key (GET …/stops)"},
    "destination": {"type": "string", "description": "a stop key"},
    "passengers": {"type": "integer", "minimum": 1, "maximum": 4},
    "wheelchair": {"type": "boolean"},
    "pickupAfter": {"type": "string", "description": "HH:MM (JST); none: now"},
    "pickupBefore": {"type": "string", "description": "HH:MM (JST); default pickupAfter + 30"},
    "resident": {"type": "string", "description": "operators: the caller's resident id"}}}
RIDE = (Param("ride", "path", required=True),)

OPERATIONS: list[Operation] = [
    Operation("GET", "/app/ondemand/ondemand.css", stylesheet,
              "The service pages' stylesheet (large text, the heat map's shades)", "app",
              responses={200: "text/css"}, public=True),
    page("GET", "/app/ondemand", app_page, "On-demand transport: book a car (resident)",
         RESIDENT_PAGE),
    page("POST", "/app/ondemand/offer", app_offer, "See the offered pickup and arrival",
         RESIDENT_PAGE, responses={200: "the offer page", 400: "HTML error page"}),
    page("POST", "/app/ondemand/confirm", app_confirm, "Confirm the offered ride", RESIDENT_PAGE),
    page("POST", "/app/ondemand/cancel", app_cancel, "Cancel a booking", RESIDENT_PAGE),
    page("GET", "/console/ondemand", console_page,
         "On-demand transport: bookings by phone, trips, KPIs, demand heat map", STAFF_READ,
         tag="console"),
    page("POST", "/console/ondemand/offer", console_offer, "Book for a caller: the offer",
         STAFF_WRITE, tag="console", responses={200: "the offer", 400: "HTML error page"}),
    page("POST", "/console/ondemand/confirm", console_confirm, "Confirm a caller's ride",
         STAFF_WRITE, tag="console"),
    page("POST", "/console/ondemand/cancel", console_cancel, "Cancel a ride", STAFF_WRITE,
         tag="console"),
    page("GET", "/console/ondemand/driver", driver_page, "Driver: the car's next stops",
         STAFF_READ, tag="console", params=(Param("car"),)),
    page("POST", "/console/ondemand/driver/mark", driver_mark,
         "Driver: mark pickup, drop-off or no-show", STAFF_WRITE, tag="console"),
    Operation("GET", f"{API}/stops", api_stops, "Where rides start and end", TAG,
              policy=BOOK),
    Operation("POST", f"{API}/offers", api_offer,
              "Ask for a ride: the offered pickup window and arrival (held 3 minutes)", TAG,
              body=BOOKING, responses={201: "offered", 409: "no car free", 400: "bad input"},
              policy=BOOK),
    Operation("POST", f"{API}/bookings", api_book, "Book a ride at once (offer and confirm)",
              TAG, body=BOOKING, responses={201: "booked", 409: "no car free",
                                            400: "bad input"}, policy=BOOK),
    Operation("POST", f"{API}/rides/{{ride}}/confirm", api_confirm, "Confirm an offer", TAG,
              RIDE, responses={200: "confirmed", 404: "no such ride", 409: "too late"},
              policy=BOOK),
    Operation("POST", f"{API}/rides/{{ride}}/cancel", api_cancel,
              "Cancel a booking (frees the seats)", TAG, RIDE,
              responses={200: "cancelled", 404: "no such ride", 409: "too late"}, policy=BOOK),
    Operation("GET", f"{API}/trips", api_trips, "Today's rides (a resident: her own)", TAG,
              policy=Policy(roles=("operator", "viewer", RESIDENT_ROLE))),
    Operation("GET", f"{API}/kpis", api_kpis, "Today's KPIs and demand by area and hour", TAG,
              policy=STAFF_READ),
]
