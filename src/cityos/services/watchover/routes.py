"""The watch-over service's faces: the API under /services/v1/watchover (guardians, staff,
receivers), the guardian's page /app/watchover and the staff's page /console/watchover."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from cityos.access.gate import Forbidden
from cityos.audit.trail import PRINCIPAL, touch_subjects
from cityos.ngsi.errors import BadRequestData, NgsiError
from cityos.operations import RESIDENT_ROLE, STAFF_READ, STAFF_WRITE, Operation, Param, Policy
from cityos.services.runtime import context_of, notification_of
from cityos.services.watchover import pages
from cityos.services.watchover import service as clock
from cityos.services.watchover.entities import parse_time
from cityos.services.watchover.manifest import MANIFEST
from cityos.services.watchover.model import RECEIVER_KINDS, SITES, Receiver, SafeArea, Sighting
from cityos.services.watchover.runtime import service_of
from cityos.services.watchover.service import (
    WatchError,
    WatchService,
    sighting_of,
)
from cityos.web.pages import RESIDENT_PAGE, page

API = MANIFEST.api_path
TAG = "watchover"
GUARDIAN = Policy(roles=(RESIDENT_ROLE,))
RECEIVER_HEADER = "Receiver-Token"
MAX_BODY = 262_144
MAX_SIGHTINGS = 500


class NotFound(NgsiError):
    title = "ResourceNotFound"
    status = 404


class Conflict(NgsiError):
    title = "Conflict"
    status = 409


class Unauthorized(NgsiError):
    title = "Unauthorized"
    status = 401


def problem(exc: WatchError) -> NgsiError:
    kind = {403: Forbidden, 404: NotFound, 409: Conflict}.get(exc.status, BadRequestData)
    return kind(f"{exc.ja} / {exc.en}")


def service(request: Request) -> WatchService:
    ctx = context_of(request, MANIFEST.name)
    try:
        return service_of(ctx)
    except LookupError:
        from starlette.exceptions import HTTPException

        raise HTTPException(503, "見守りサービスは起動中です / the watch-over service is "
                                 "starting") from None


def resident_id(request: Request) -> str:
    principal = request.scope.get(PRINCIPAL)
    if principal is None or principal.kind != "resident":  # staff admins pass the gate
        raise BadRequestData("この操作は住民のアカウントで行います / this operation is for "
                             "residents' accounts")
    return str(principal.name)


def staff_id(request: Request) -> str:
    principal = request.scope.get(PRINCIPAL)
    if principal is None or principal.kind != "staff":
        raise Forbidden("この操作は職員のアカウントで行います / this operation is for staff "
                        "accounts")
    return str(principal.name)


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise BadRequestData("本文が大きすぎます / the body is too large")
    try:
        data = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError:
        raise BadRequestData("本文がJSONではありません / the body is not JSON") from None
    if not isinstance(data, dict):
        raise BadRequestData("本文はJSONオブジェクトです / the body is a JSON object")
    return data


def json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json",
                    headers={"Cache-Control": "no-store"})


def _point(raw: Any) -> tuple[float, float] | None:
    if raw is None:
        return None
    if not (isinstance(raw, list) and len(raw) == 2 and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in raw)
            and -180 <= raw[0] <= 180 and -90 <= raw[1] <= 90):
        raise BadRequestData("location は [経度, 緯度] です / location is [longitude, latitude]")
    return float(raw[0]), float(raw[1])


# receivers: write only --------------------------------------------------------------------
async def notify(request: Request) -> Response:
    """BeaconReceiver notifications (the town's IoT receivers): one sighting each."""
    data = await json_body(request)  # a body that is no notification: 400, before all else
    if not isinstance(data.get("data"), list):
        raise BadRequestData("通知の data がありません / the notification has no data")
    body = await notification_of(request, MANIFEST.name)
    found = [s for e in body.get("data", []) if isinstance(e, dict)
             and (s := sighting_of(e)) is not None]
    if found:
        await service(request).ingest(found)
    return Response(status_code=204)


async def post_sightings(request: Request) -> Response:
    """A receiver (a volunteer's phone, a postal bike, a gateway) reports sightings with its
    write-only `Receiver-Token`. The answer says how many were received — never whether a tag
    is known, whose it is or where it was seen before."""
    data = await json_body(request)
    items = data.get("sightings")
    if not isinstance(items, list) or len(items) > MAX_SIGHTINGS:
        raise BadRequestData(f"sightings は{MAX_SIGHTINGS}件までの配列です / sightings is an array "
                             f"of up to {MAX_SIGHTINGS}")
    watch = service(request)
    receiver = watch.receiver_by_token(request.headers.get(RECEIVER_HEADER, ""))
    if receiver is None:
        raise Unauthorized("受信機のトークンが違います / unknown receiver token")
    now = clock.utcnow()
    if not items:  # a heartbeat: the receiver is alive and heard nobody
        watch.reported[receiver.id] = watch.now() if watch.clock == "events" else now
        return json({"received": 0}, 202)
    sightings = []
    for item in items:
        if not isinstance(item, dict):
            raise BadRequestData("sightings の各要素はオブジェクトです / each sighting is an object")
        tag, rssi = item.get("tag"), item.get("rssi")
        if not isinstance(tag, str) or not 1 <= len(tag) <= 64:
            raise BadRequestData("tag は1〜64文字です / tag has 1 to 64 characters")
        if isinstance(rssi, bool) or not isinstance(rssi, int | float) or not -130 <= rssi <= 20:
            raise BadRequestData("rssi は -130〜20 dBm の数です / rssi is a number of dBm, "
                                 "-130 to 20")
        at = parse_time(item.get("at")) if "at" in item else now
        if at is None or abs((at - now).total_seconds()) > 86_400 * 2:
            if not watch.clock == "events":
                raise BadRequestData("at はこの2日以内のISO 8601日時です / at is an ISO 8601 "
                                     "date-time within two days of now")
            at = at or now
        where = _point(item.get("location")) or receiver.location
        sightings.append(Sighting(tag, receiver.id, float(rssi), at, where))
    await watch.ingest(sightings)
    return json({"received": len(sightings)}, 202)


# guardians -------------------------------------------------------------------------------
def _tag_view(watch: WatchService, tag: Any) -> dict[str, Any]:
    return {"tag": tag.id, "person": tag.person, "label": tag.label,
            "consent": "approved" if tag.consent else "waiting",
            "schoolGates": list(tag.school_gates),
            "safeArea": {"center": list(tag.safe_area.center), "radiusM": tag.safe_area.radius_m}
            if tag.safe_area else None}


async def list_tags(request: Request) -> Response:
    watch = service(request)
    await watch.refresh_consents()
    return json([_tag_view(watch, t) for t in watch.tags_of(resident_id(request))])


def _registration(data: dict[str, Any]) -> dict[str, Any]:
    for name in ("tag", "person"):
        if not isinstance(data.get(name), str):
            raise BadRequestData(f"{name} は文字列です / {name} is a string")
    gates = data.get("schoolGates", [])
    if not isinstance(gates, list) or not all(isinstance(g, str) for g in gates) \
            or len(gates) > 4:
        raise BadRequestData("schoolGates は受信機IDの配列（4件まで）です / schoolGates is an "
                             "array of up to 4 receiver ids")
    safe = data.get("safeArea")
    area = None
    if safe is not None:
        if not isinstance(safe, dict):
            raise BadRequestData("safeArea は {center, radiusM} です / safeArea is "
                                 "{center, radiusM}")
        center = _point(safe.get("center"))
        radius = safe.get("radiusM", 500)
        if center is None or isinstance(radius, bool) or not isinstance(radius, int | float) \
                or not 50 <= radius <= 20_000:
            raise BadRequestData("safeArea.radiusM は50〜20000メートルです / safeArea.radiusM is "
                                 "50 to 20000 metres")
        area = SafeArea(center, float(radius))
    label = data.get("label", "")
    if not isinstance(label, str):
        raise BadRequestData("label は文字列です / label is a string")
    return {"tag_id": data["tag"], "person": data["person"], "label": label,
            "school_gates": tuple(gates), "safe_area": area}


async def register_tag(request: Request) -> Response:
    """A guardian registers a tag for a person; the person (or her representative) is asked
    for consent in her app."""
    fields = _registration(await json_body(request))
    guardian = resident_id(request)
    watch = service(request)
    touch_subjects(request, fields["person"])
    try:
        tag = await watch.register(guardian, **fields)
    except WatchError as exc:
        raise problem(exc) from None
    return json(_tag_view(watch, tag), 201)


def _own_tag(request: Request, watch: WatchService) -> Any:
    tag = watch.tags.get(request.path_params["tag"])
    if tag is None or tag.guardian != resident_id(request):
        raise NotFound("そのタグは登録されていません / no such tag")
    touch_subjects(request, tag.person)
    return tag


async def delete_tag(request: Request) -> Response:
    watch = service(request)
    tag = _own_tag(request, watch)
    await watch.deregister(tag.guardian, tag.id)
    return Response(status_code=204)


async def tag_last_seen(request: Request) -> Response:
    watch = service(request)
    tag = _own_tag(request, watch)
    await watch.refresh_consents()
    if not watch.tags[tag.id].consent:
        return json({"tag": tag.id, "lastSeen": None, "consent": "waiting"})
    return json({"tag": tag.id, "lastSeen": await watch.last_seen(tag.id),
                 "consent": "approved"})


async def tag_day(request: Request) -> Response:
    watch = service(request)
    tag = _own_tag(request, watch)
    raw = request.query_params.get("date")
    try:
        day = dt.date.fromisoformat(raw) if raw else watch.now().astimezone(
            dt.timezone(dt.timedelta(hours=9))).date()
    except ValueError:
        raise BadRequestData("date は YYYY-MM-DD です / date is YYYY-MM-DD") from None
    found = await watch.day(tag.id, day) if watch.tags[tag.id].consent else None
    place = await watch.last_seen(tag.id) if watch.tags[tag.id].consent else None
    moves = [m for m in (place or {}).get("moves", []) if str(m.get("at", ""))[:10] ==
             day.isoformat()]
    return json({"tag": tag.id, "date": day.isoformat(),
                 "sightings": (found or {}).get("sightings", []), "moves": moves})


async def list_notices(request: Request) -> Response:
    watch = service(request)
    return json(await watch.notices_for(resident_id(request)))


async def file_search(request: Request) -> Response:
    data = await json_body(request)
    staff, hours = data.get("staff"), data.get("hours", 6)
    if isinstance(staff, str):
        staff = [staff]
    if not isinstance(staff, list) or not all(isinstance(s, str) for s in staff) or \
            isinstance(hours, bool) or not isinstance(hours, int | float) \
            or not isinstance(data.get("tag"), str):
        raise BadRequestData("tag, staff（職員IDの配列）, hours（時間）を送ってください / send tag, "
                             "staff (staff ids) and hours")
    watch = service(request)
    tag = watch.tags.get(data["tag"])
    if tag is not None:
        touch_subjects(request, tag.person)
    try:
        filed = await watch.file_search(resident_id(request), data["tag"], staff, float(hours),
                                        clock.utcnow(), str(data.get("reason", "")))
    except WatchError as exc:
        raise problem(exc) from None
    return json(filed.entity(), 201)


# staff -----------------------------------------------------------------------------------
async def list_receivers(request: Request) -> Response:
    watch = service(request)
    return json(await watch.receiver_status(watch.now()))


async def add_receiver(request: Request) -> Response:
    """Register a receiver; a volunteer's phone or a mobile receiver gets its write-only
    token in this answer, once."""
    data = await json_body(request)
    kind, site, name = data.get("kind", "volunteer"), data.get("site"), data.get("name")
    rid = data.get("id")
    if not isinstance(kind, str) or kind not in RECEIVER_KINDS or \
            (site is not None and (not isinstance(site, str) or site not in SITES)) or \
            not isinstance(name, str) or not isinstance(rid, str) or \
            not rid.replace("-", "").replace("_", "").isalnum() or not 3 <= len(rid) <= 40:
        raise BadRequestData("id（英数字3〜40）, name, kind (fixed|mobile|volunteer), site を送って"
                             "ください / send id (3 to 40 letters/digits), name, kind (fixed, "
                             "mobile or volunteer) and site")
    receiver = Receiver(f"urn:ngsi-ld:WatchReceiver:{rid}", name, kind,  # type: ignore[arg-type]
                        site or ("volunteer" if kind == "volunteer" else "street"),
                        _point(data.get("location")))
    watch = service(request)
    try:
        token = await watch.add_receiver(receiver, with_token=True)
    except WatchError as exc:
        raise problem(exc) from None
    return json({"id": receiver.id, "name": name, "kind": kind, "token": token}, 201)


async def list_searches(request: Request) -> Response:
    """Search requests, without any place: who asked, for whom (the tag's name), which staff,
    until when, and who opened it."""
    watch = service(request)
    out = []
    for req, opened in await watch.searches():
        tag = watch.tags.get(req.tag)
        out.append({"id": req.id, "label": tag.label if tag else req.tag,
                    "staff": list(req.staff), "filed": req.filed.isoformat(),
                    "until": req.until.isoformat(), "opened": opened})
    return json(out)


async def search_place(request: Request) -> Response:
    """The last-seen place of a search request's person, for a staff member it names, while
    it is in force; 403 otherwise. Each opening is recorded."""
    watch = service(request)
    staff = staff_id(request)
    request_id = request.path_params["requestId"]
    try:
        found = await watch.open_search(request_id, staff, clock.utcnow())
    except WatchError as exc:
        raise problem(exc) from None
    place = found.get("lastSeen") or {}
    touch_subjects(request, str(place.get("refResident", "")))
    return json(found)


_TAG = Param("tag", "path", description="the tag's id", required=True)
_REQ = Param("requestId", "path", description="urn:ngsi-ld:WatchSearchRequest:…", required=True)
_TOKEN = Param(RECEIVER_HEADER, "header", description="the receiver's write-only token",
               required=True)
_SIGHTINGS = {"type": "object", "required": ["sightings"], "properties": {
    "sightings": {"type": "array", "maxItems": MAX_SIGHTINGS, "items": {
        "type": "object", "required": ["tag", "rssi"], "properties": {
            "tag": {"type": "string"}, "rssi": {"type": "number"},
            "at": {"type": "string", "format": "date-time"},
            "location": {"type": "array", "items": {"type": "number"}}}}}}}
_REGISTER = {"type": "object", "required": ["tag", "person"], "properties": {
    "tag": {"type": "string"}, "person": {"type": "string"}, "label": {"type": "string"},
    "schoolGates": {"type": "array", "items": {"type": "string"}},
    "safeArea": {"type": "object", "properties": {
        "center": {"type": "array", "items": {"type": "number"}},
        "radiusM": {"type": "number"}}}}}

OPERATIONS: list[Operation] = [
    Operation("POST", f"{API}/notify", notify, "BeaconReceiver notifications (subscription)",
              TAG, responses={204: "taken in", 401: "wrong notification token"}, public=True),
    Operation("POST", f"{API}/sightings", post_sightings,
              "A receiver reports sightings (write-only Receiver-Token)", TAG, (_TOKEN,),
              body=_SIGHTINGS, responses={202: "received", 400: "bad sightings",
                                          401: "unknown receiver token"}, public=True),
    Operation("GET", f"{API}/tags", list_tags, "A guardian's registered tags", TAG,
              policy=GUARDIAN),
    Operation("POST", f"{API}/tags", register_tag, "Register a tag (consent is asked)", TAG,
              body=_REGISTER, responses={201: "registered", 400: "bad registration",
                                         404: "no such resident", 409: "another's tag"},
              policy=GUARDIAN),
    Operation("DELETE", f"{API}/tags/{{tag}}", delete_tag, "Remove a tag and its data", TAG,
              (_TAG,), responses={204: "removed", 404: "no such tag"}, policy=GUARDIAN),
    Operation("GET", f"{API}/tags/{{tag}}/last-seen", tag_last_seen, "A tag's last-seen place",
              TAG, (_TAG,), responses={200: "OK", 404: "no such tag"}, policy=GUARDIAN),
    Operation("GET", f"{API}/tags/{{tag}}/day", tag_day, "A tag's sightings and moves of a day",
              TAG, (_TAG, Param("date", description="YYYY-MM-DD (JST); default today")),
              responses={200: "OK", 400: "bad date", 404: "no such tag"}, policy=GUARDIAN),
    Operation("GET", f"{API}/notices", list_notices, "A guardian's notices", TAG,
              policy=GUARDIAN),
    Operation("POST", f"{API}/search-requests", file_search,
              "A guardian asks named staff to help find the person (time-limited)", TAG,
              body={"type": "object", "required": ["tag", "staff"], "properties": {
                  "tag": {"type": "string"}, "staff": {"type": "array",
                                                       "items": {"type": "string"}},
                  "hours": {"type": "number"}, "reason": {"type": "string"}}},
              responses={201: "filed", 400: "bad request", 404: "no such tag"},
              policy=GUARDIAN),
    Operation("GET", f"{API}/receivers", list_receivers, "Receivers' liveness (no individuals)",
              TAG, policy=STAFF_READ),
    Operation("POST", f"{API}/receivers", add_receiver,
              "Register a receiver; its write-only token is shown once", TAG,
              body={"type": "object", "required": ["id", "name"], "properties": {
                  "id": {"type": "string"}, "name": {"type": "string"},
                  "kind": {"type": "string", "enum": list(RECEIVER_KINDS)},
                  "site": {"type": "string", "enum": list(SITES)},
                  "location": {"type": "array", "items": {"type": "number"}}}},
              responses={201: "registered", 400: "bad receiver"}, policy=STAFF_WRITE),
    Operation("GET", f"{API}/search-requests", list_searches,
              "Search requests (never a place)", TAG, policy=STAFF_READ),
    Operation("GET", f"{API}/search-requests/{{requestId}}/place", search_place,
              "The last-seen place, for staff a search request names, while in force", TAG,
              (_REQ,), responses={200: "OK", 403: "not named or expired", 404: "no request"},
              policy=STAFF_READ),
    page("GET", MANIFEST.app_path, pages.guardian_page, "見守り: the guardian's page",
         RESIDENT_PAGE),
    page("POST", f"{MANIFEST.app_path}/tags", pages.guardian_register,
         "見守り: register a tag", RESIDENT_PAGE),
    page("POST", f"{MANIFEST.app_path}/search", pages.guardian_search,
         "見守り: ask the town for help", RESIDENT_PAGE),
    page("GET", MANIFEST.console_path, pages.staff_page, "見守り: receivers (staff)",
         STAFF_READ, tag="console"),
    page("GET", f"{MANIFEST.console_path}/search/{{requestId}}", pages.staff_search,
         "見守り: a search request's place (named staff)", STAFF_READ, tag="console",
         params=(_REQ,)),
]
