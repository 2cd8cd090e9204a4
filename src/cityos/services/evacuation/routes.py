"""The service's three faces: the resident page 「いま避難するなら」 (/app/evacuation, open to
everyone: the plan is town data, no sign-in in an emergency), the staff console
(/console/evacuation: open/close, counts, plan, re-plan log; a phone page to count) and the
API (/services/v1/evacuation/plan, the same JSON as `cityos evacuation plan --json`)."""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, timedelta, timezone
from importlib import resources
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from cityos.ngsi.errors import BadRequestData, ResourceNotFound
from cityos.operations import PUBLIC, Operation, Param
from cityos.services.evacuation import messages as _messages  # noqa: F401  (the words)
from cityos.services.evacuation.congestion import level
from cityos.services.evacuation.guidance import Guidance
from cityos.services.evacuation.manifest import MANIFEST
from cityos.services.evacuation.model import HAZARD_NAMES, Plan, Shelter, hazard_of
from cityos.services.evacuation.render import render
from cityos.services.evacuation.runtime import guidance_of
from cityos.services.runtime import context_of, notification_of
from cityos.town.area_order import area_key
from cityos.web.console._page import CONSOLE_READ, CONSOLE_WRITE, can_edit, staff_name
from cityos.web.console._page import NAV as CONSOLE_NAV
from cityos.web.pages import form_of, page
from cityos.web.render import prefs_of

NAME = MANIFEST.name
APP, CONSOLE, API = MANIFEST.app_path, MANIFEST.console_path, MANIFEST.api_path
JST = timezone(timedelta(hours=9), "JST")
WALK_M_PER_MIN = 80  # 不動産の表示に関する公正競争規約: 80 m a minute on foot
HAZARD_CHOICES = ("any", *HAZARD_NAMES)
HAZARD_PARAM = Param("hazard", schema={"type": "string", "enum": list(HAZARD_CHOICES)},
                     description="flood, landslide, earthquake … (also 洪水 …); any: every "
                                 "open shelter")


def jst(at: datetime | None) -> str:
    return at.astimezone(JST).strftime("%H:%M") if at else ""


def clock(at: datetime) -> str:
    return at.astimezone(JST).strftime("%H:%M:%S")


async def _guidance(request: Request) -> Guidance:
    guidance = guidance_of(context_of(request, NAME))
    if guidance.planned_at is None:
        await guidance.replan([("", "start")])
    return guidance


def _hazard(raw: str | None, default: str | None) -> str | None:
    """The hazard asked for: None for any; BadRequestData when it is no hazard."""
    if raw is None or raw == "":
        return default
    if raw == "any":
        return None
    found = hazard_of(raw)
    if found is None:
        raise BadRequestData(f"hazard {raw!r} は災害の種類ではありません / is not a hazard "
                             f"(any, {', '.join(HAZARD_NAMES)})")
    return found


def _congestion(s: Shelter) -> dict[str, Any]:
    found = level(s.occupancy, s.capacity)
    return {"level": found.key, "ja": found.ja, "en": found.en}


def plan_json(guidance: Guidance, plan: Plan) -> dict[str, Any]:
    body = plan.to_json()
    by_id = {s.id: s for s in plan.shelters}
    for row in body["shelters"]:
        row["congestion"] = _congestion(by_id[row["id"]])
    body["plannedAt"] = guidance.planned_at.isoformat() if guidance.planned_at else None
    return body


# the API ---------------------------------------------------------------------------------

async def plan_api(request: Request) -> Response:
    guidance = await _guidance(request)
    hazard = _hazard(request.query_params.get("hazard"), None)
    return Response(orjson.dumps(plan_json(guidance, guidance.plan_for(hazard))),
                    media_type="application/json", headers={"Cache-Control": "no-cache"})


async def notify(request: Request) -> Response:
    """A notification of the service's subscription: mark the plan stale (re-planned at once
    by the worker)."""
    body = await notification_of(request, NAME)
    guidance = guidance_of(context_of(request, NAME))
    for entity in body.get("data", []) if isinstance(body.get("data"), list) else []:
        if not isinstance(entity, dict):
            continue
        before = guidance.shelter(str(entity.get("id", "")))
        name = before.name if before else str(entity.get("name", entity.get("id", "")))
        guidance.mark_stale(name, _what_changed(before, entity))
    return Response(status_code=204)


def _what_changed(before: Shelter | None, entity: dict[str, Any]) -> str:
    if before is None:
        return "change"
    status = entity.get("status")
    if status is not None and (status != "closed") != before.open:
        return "status"
    if "capacity" in entity and entity["capacity"] != before.capacity:
        return "capacity"
    staff = entity.get("staffCount")
    if isinstance(staff, int | float) and staff > before.occupancy and \
            staff >= entity.get("occupancy", 0):
        return "staffCount"
    return "occupancy" if "occupancy" in entity else "change"


# the resident page ------------------------------------------------------------------------

def _view(guidance: Guidance, plan: Plan, area_id: str | None, lang: str) -> dict[str, Any]:
    by_id = {s.id: s for s in plan.shelters}
    area = next((a for a in plan.areas if a.id == area_id), None)
    out: dict[str, Any] = {"area": area, "main": None, "others": [], "left": 0, "map": ""}
    if area is None:
        return out
    rows = sorted(((p, s) for a, s, p in plan.assignment if a == area.id), reverse=True)
    out["left"] = sum(p for a, p in plan.unassigned if a == area.id)
    if not rows:
        return out
    main = by_id[rows[0][1]]
    meters = plan.meters_between(area.id, main.id)
    out["main"] = {"shelter": main, "meters": f"{meters:,}",
                   "minutes": max(1, math.ceil(meters / WALK_M_PER_MIN)),
                   "level": level(main.occupancy, main.capacity)}
    out["others"] = [{"shelter": by_id[s], "level": level(by_id[s].occupancy, by_id[s].capacity)}
                     for _, s in rows[1:]]
    out["map"] = orjson.dumps({
        "area": [area.lon, area.lat, area.name],
        "shelter": [main.lon, main.lat, main.name],
        "others": [[s.lon, s.lat, s.name] for s in plan.shelters
                   if s.id in plan.candidates and s.id != main.id]}).decode()
    return out


async def resident_page(request: Request) -> Response:
    guidance = await _guidance(request)
    default = hazard_of(str(context_of(request, NAME).options.get("hazard", "flood")))
    try:
        hazard = _hazard(request.query_params.get("hazard"), default)
    except BadRequestData:
        hazard = default
    plan = guidance.plan_for(hazard)
    lang = prefs_of(request.scope).lang
    view = _view(guidance, plan, request.query_params.get("area"), lang)
    shelters = [{"shelter": s, "level": level(s.occupancy, s.capacity), "care": s.priority}
                for s in sorted(plan.shelters, key=lambda s: (s.priority, s.kind, s.name))
                if s.open]
    return render(request, "evacuation/app.html", {
        "nav": "evacuation", "plan": plan, "hazard": hazard or "any",
        "hazards": HAZARD_CHOICES, "areas": sorted(plan.areas, key=lambda a: area_key(a.name)),
        "view": view, "time": jst(guidance.planned_at), "demo": guidance.demo,
        "shelters": [x for x in shelters if not x["care"]],
        "care": [x for x in shelters if x["care"]],
        "designated": any(s.accepts(hazard) for s in plan.shelters)})


async def script(request: Request) -> Response:
    return _file("evacuation.js", "text/javascript")


async def style(request: Request) -> Response:
    return _file("evacuation.css", "text/css")


def _file(name: str, media: str) -> Response:
    body = resources.files("cityos.services.evacuation").joinpath("static", name).read_bytes()
    return Response(body, media_type=f"{media}; charset=utf-8",
                    headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})


# the console ------------------------------------------------------------------------------

def key_of(shelter_id: str) -> str:
    return shelter_id.rsplit(":", 1)[-1]


def _by_key(guidance: Guidance, key: str) -> Shelter:
    found = next((s for s in guidance.shelters if key_of(s.id) == key), None)
    if found is None:
        raise ResourceNotFound(f"避難所 {key} はありません / no shelter {key}")
    return found


async def _raw(guidance: Guidance) -> dict[str, dict[str, Any]]:
    """What the counters and the staff reported, per place (the plan uses the larger)."""
    out = {}
    for kind in ("EvacuationShelter", "EmergencyEvacuationSite"):
        for e in await guidance.client.query(kind, attrs=["occupancy", "staffCount", "event"]):
            out[e["id"]] = e
    return out


def _console(request: Request, template: str, context: dict[str, Any]) -> Response:
    values = {"nav": CONSOLE_NAV, "section": "evacuation", "staff": staff_name(request),
              "can_edit": can_edit(request), "flash": request.query_params.get("done", "")}
    return render(request, template, {**values, **context})


async def console_page(request: Request) -> Response:
    guidance = await _guidance(request)
    try:
        hazard = _hazard(request.query_params.get("hazard"), None)
    except BadRequestData:
        hazard = None
    plan = guidance.plan_for(hazard)
    raw = await _raw(guidance)
    names = {s.id: s.name for s in plan.shelters}
    per_area = []
    for area in sorted(plan.areas, key=lambda a: area_key(a.name)):
        goes = [(names[s], p) for a, s, p in plan.assignment if a == area.id]
        left = sum(p for a, p in plan.unassigned if a == area.id)
        per_area.append({"area": area, "goes": sorted(goes, key=lambda g: -g[1]), "left": left})
    rows = [{"shelter": s, "key": key_of(s.id), "level": level(s.occupancy, s.capacity),
             "counter": raw.get(s.id, {}).get("occupancy", "—"),
             "staffCount": raw.get(s.id, {}).get("staffCount", "—"),
             "event": raw.get(s.id, {}).get("event", ""), "placed": plan.placed(s.id)}
            for s in sorted(plan.shelters, key=lambda s: (s.kind, s.name))]
    placed = sum(p for _, _, p in plan.assignment)
    return _console(request, "evacuation/console.html", {
        "rows": rows, "per_area": per_area, "plan": plan, "hazard": hazard or "any",
        "hazards": HAZARD_CHOICES, "log": list(guidance.log)[:20], "clock": clock,
        "time": jst(guidance.planned_at), "placed": f"{placed:,}",
        "pkm": f"{plan.total_person_meters / 1000:,.0f}", "demo": guidance.demo})


async def count_page(request: Request) -> Response:
    guidance = await _guidance(request)
    shelter = _by_key(guidance, request.path_params["key"])
    raw = (await _raw(guidance)).get(shelter.id, {})
    return _console(request, "evacuation/count.html", {
        "shelter": shelter, "key": key_of(shelter.id), "staffCount": raw.get("staffCount", 0),
        "counter": raw.get("occupancy", "—"), "level": level(shelter.occupancy, shelter.capacity),
        "time": jst(guidance.planned_at)})


async def count(request: Request) -> Response:
    guidance = await _guidance(request)
    shelter = _by_key(guidance, request.path_params["key"])
    form = await form_of(request)
    delta = {"+1": 1, "-1": -1}.get(form.get("delta", ""))
    if delta is None:
        raise BadRequestData("delta は +1 か -1 です / delta is +1 or -1")
    new = await guidance.count(shelter.id, delta, staff_name(request))
    guidance.mark_stale(shelter.name, "staffCount")
    return _back(f"{CONSOLE}/count/{key_of(shelter.id)}", f"{shelter.name}: {new}")


async def set_status(request: Request) -> Response:
    guidance = await _guidance(request)
    shelter = _by_key(guidance, request.path_params["key"])
    form = await form_of(request)
    if form.get("status") not in ("open", "closed"):
        raise BadRequestData("status は open か closed です / status is open or closed")
    event = form.get("event", "").strip()[:100]
    await guidance.set_open(shelter.id, form["status"] == "open", event, staff_name(request))
    guidance.mark_stale(shelter.name, "status")
    # the shelter's state is shown at once (the notification re-plans in the background)
    guidance.shelters = [dataclasses.replace(s, open=form["status"] == "open")
                         if s.id == shelter.id else s for s in guidance.shelters]
    return _back(CONSOLE, f"{shelter.name}: {form['status']}")


def _back(path: str, flash: str) -> Response:
    from urllib.parse import quote

    return RedirectResponse(f"{path}?done={quote(flash)}", status_code=303,
                            headers={"Cache-Control": "no-store"})


KEY = Param("key", "path", required=True, description="the shelter's GSI common ID")
OPERATIONS = [
    page("GET", APP, resident_page, "いま避難するなら: the shelter to go to (public)", PUBLIC,
         params=(HAZARD_PARAM, Param("area", description="a TownArea id"))),
    Operation("GET", f"{APP}/evacuation.js", script, "The evacuation page's script", "app",
              public=True, responses={200: "JavaScript"}),
    Operation("GET", f"{APP}/evacuation.css", style, "The evacuation pages' styles", "app",
              public=True, responses={200: "CSS"}),
    Operation("GET", f"{API}/plan", plan_api,
              "The evacuation plan: shelters, areas, distances, assignment, unassigned "
              "(as `cityos evacuation plan --json`)", "services", (HAZARD_PARAM,),
              responses={200: "the plan", 400: "not a hazard (ProblemDetails)"}, public=True),
    Operation("POST", f"{API}/notify", notify,
              "NGSI-LD notifications of the service's own subscription (secret in a header)",
              "services", body={"type": "object"}, responses={204: "re-planning",
                                                              401: "wrong secret"},
              public=True),
    dataclasses.replace(page("GET", CONSOLE, console_page, "Evacuation guidance (避難誘導)",
                             CONSOLE_READ, tag="console"), params=(HAZARD_PARAM,)),
    dataclasses.replace(page("GET", f"{CONSOLE}/count/{{key}}", count_page,
                             "Count people at a shelter (phone page)", CONSOLE_READ,
                             tag="console"), params=(KEY,)),
    dataclasses.replace(page("POST", f"{CONSOLE}/count/{{key}}", count,
                             "Staff count: one in (+1) or out (-1)", CONSOLE_WRITE,
                             tag="console"), params=(KEY,)),
    dataclasses.replace(page("POST", f"{CONSOLE}/status/{{key}}", set_status,
                             "Open or close a shelter for an event", CONSOLE_WRITE,
                             tag="console"), params=(KEY,)),
]
