"""The guardian's page in the app and the staff's page in the console (server-rendered HTML,
large text, Japanese first; a map drawn as SVG)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from cityos.audit.trail import PRINCIPAL, touch_subjects
from cityos.personal.service import personal_of
from cityos.services.runtime import context_of
from cityos.services.watchover import service as clock
from cityos.services.watchover import svgmap
from cityos.services.watchover.entities import parse_time
from cityos.services.watchover.manifest import MANIFEST
from cityos.services.watchover.messages import MESSAGES  # noqa: F401 (registers the words)
from cityos.services.watchover.model import SITES, SafeArea, jst
from cityos.services.watchover.runtime import service_of
from cityos.services.watchover.service import WatchError, WatchService
from cityos.web.console._page import NAV, can_edit, staff_name
from cityos.web.pages import form_of
from cityos.web.render import render

COVERAGE_M = {"fixed": 60.0, "mobile": 40.0, "volunteer": 30.0}
RADII = (300, 500, 1000, 2000)


def _service(request: Request) -> WatchService | None:
    try:
        return service_of(context_of(request, MANIFEST.name))
    except Exception:
        return None


def _who(request: Request) -> tuple[str, str]:
    principal = request.scope.get(PRINCIPAL)
    return (principal.kind, principal.name) if principal is not None else ("", "")


def hm(text: Any, lang: str) -> str:
    at = parse_time(text) if not isinstance(text, dt.datetime) else text
    if at is None:
        return ""
    local = jst(at)
    return f"{local.hour}:{local.minute:02d}" if lang == "en" else \
        f"{local.month}月{local.day}日 {local.hour}時{local.minute:02d}分"


def _day_map(watch: WatchService, moves: list[dict[str, Any]],
             place: dict[str, Any] | None) -> dict[str, Any]:
    """The day's path: the places it was seen, in order, and the receivers around them."""
    points = []
    for m in moves:
        loc = m.get("location")
        if isinstance(loc, list) and len(loc) == 2:
            points.append(((float(loc[0]), float(loc[1])), m))
    frame = svgmap.frame([p for p, _ in points] or [
        r.location for r in watch.receivers.values() if r.location][:1])
    stops = [{"x": frame.xy(p)[0], "y": frame.xy(p)[1], "n": i + 1, "name": m.get("name", ""),
              "at": m.get("at")} for i, (p, m) in enumerate(points)]
    receivers = []
    for r in watch.receivers.values():
        if r.location is None:
            continue
        x, y = frame.xy(r.location)
        if 0 <= x <= svgmap.WIDTH and 0 <= y <= svgmap.HEIGHT:
            receivers.append({"x": x, "y": y, "name": r.name})
    bar = svgmap.scale_bar(frame)
    return {"stops": stops, "receivers": receivers, "w": svgmap.WIDTH, "h": svgmap.HEIGHT,
            "line": " ".join(f"{s['x']},{s['y']}" for s in stops), "bar": bar,
            "last": stops[-1] if stops else None}


async def guardian_page(request: Request) -> Response:
    watch = _service(request)
    kind, me = _who(request)
    if watch is None or kind != "resident":
        return render(request, "services/watchover/app.html", {
            "running": watch is not None, "resident": kind == "resident", "tags": [],
            "notices": [], "people": [], "gates": [], "anchors": [], "radii": RADII,
            "nav": "", "flash": request.query_params.get("done", ""), "hm": hm})
    await watch.refresh_consents()
    cards = []
    for tag in watch.tags_of(me):
        touch_subjects(request, tag.person)
        place = await watch.last_seen(tag.id) if tag.consent else None
        today = jst(watch.now()).date().isoformat()
        moves = [m for m in (place or {}).get("moves", []) if str(m.get("at", ""))[:10] == today]
        searches = [(r, o) for r, o in await watch.searches() if r.tag == tag.id
                    and r.until > clock.utcnow()] if tag.consent else []
        cards.append({"tag": tag, "place": place, "map": _day_map(watch, moves, place),
                      "moves": moves, "searches": searches})
    family = personal_of(request.app).family
    people = [("", "me")] + [(m["subject"], m["subject"]) for m in
                             family.represented(_tenant(request), me)]
    gates = [r for r in watch.receivers.values() if r.site == "school-gate"]
    anchors = [r for r in watch.receivers.values() if r.location is not None]
    return render(request, "services/watchover/app.html", {
        "running": True, "resident": True, "tags": cards,
        "notices": await watch.notices_for(me, 20), "people": people,
        "gates": sorted(gates, key=lambda r: r.name),
        "anchors": sorted(anchors, key=lambda r: r.name), "radii": RADII, "nav": "",
        "flash": request.query_params.get("done", ""), "hm": hm})


def _tenant(request: Request) -> str:
    principal = request.scope.get(PRINCIPAL)
    tenant = getattr(principal, "tenant", "")
    return "" if tenant == "*" else str(tenant)


def _back(flash: str, path: str = MANIFEST.app_path) -> Response:
    return RedirectResponse(f"{path}?done={flash}", status_code=303,
                            headers={"Cache-Control": "no-store"})


async def guardian_register(request: Request) -> Response:
    watch = _service(request)
    kind, me = _who(request)
    if watch is None or kind != "resident":
        return _back("unavailable")
    form = await form_of(request)
    person = form.get("person_id", "").strip() or form.get("person", "").strip() or me
    area = None
    anchor = watch.receivers.get(form.get("anchor", ""))
    if anchor is not None and anchor.location is not None:
        try:
            radius = float(form.get("radius", "500"))
        except ValueError:
            radius = 500.0
        area = SafeArea(anchor.location, radius if radius in RADII else 500.0)
    gate = form.get("gate", "")
    touch_subjects(request, person)
    try:
        await watch.register(me, person, form.get("tag", "").strip(),
                             form.get("label", "").strip(), (gate,) if gate else (), area)
    except WatchError as exc:
        return render(request, "services/watchover/problem.html", {
            "ja": exc.ja, "en": exc.en, "back": MANIFEST.app_path}, status=exc.status)
    return _back("registered")


async def guardian_search(request: Request) -> Response:
    watch = _service(request)
    kind, me = _who(request)
    if watch is None or kind != "resident":
        return _back("unavailable")
    form = await form_of(request)
    try:
        hours = float(form.get("hours", "6"))
    except ValueError:
        hours = -1.0
    try:
        await watch.file_search(me, form.get("tag", ""), form.get("staff", "").split(","),
                                hours, clock.utcnow(), form.get("reason", ""))
    except WatchError as exc:
        return render(request, "services/watchover/problem.html", {
            "ja": exc.ja, "en": exc.en, "back": MANIFEST.app_path}, status=exc.status)
    return _back("searching")


def _console(request: Request, template: str, context: dict[str, Any],
             status: int = 200) -> Response:
    values = {"nav": NAV, "section": "watchover", "staff": staff_name(request),
              "can_edit": can_edit(request), "flash": request.query_params.get("done", ""),
              "hm": hm}
    values.update(context)
    return render(request, f"services/watchover/{template}", values, status=status)


async def staff_page(request: Request) -> Response:
    watch = _service(request)
    if watch is None:
        return _console(request, "console.html", {"running": False, "receivers": [],
                                                  "map": None, "searches": [], "sites": SITES})
    receivers = await watch.receiver_status(watch.now())
    located = [r for r in receivers if r["location"]]
    frame = svgmap.frame([tuple(r["location"]) for r in located])
    dots = []
    for r in located:
        x, y = frame.xy(tuple(r["location"]))
        dots.append({**r, "x": x, "y": y, "r": frame.px(COVERAGE_M[r["kind"]]),
                     "anchor": "end" if x > svgmap.WIDTH * 0.6 else "start",
                     "tx": x - 8 if x > svgmap.WIDTH * 0.6 else x + 8})
    me = staff_name(request)
    searches = [{"request": req, "opened": opened, "mine": me in req.staff,
                 "open": req.open_to(me, clock.utcnow()),
                 "label": watch.tags[req.tag].label if req.tag in watch.tags else req.tag}
                for req, opened in await watch.searches()]
    return _console(request, "console.html", {
        "running": True, "receivers": receivers, "sites": SITES,
        "map": {"dots": dots, "w": svgmap.WIDTH, "h": svgmap.HEIGHT,
                "bar": svgmap.scale_bar(frame)},
        "live": sum(1 for r in receivers if r["live"]), "searches": searches})


async def staff_search(request: Request) -> Response:
    watch = _service(request)
    if watch is None:
        return _console(request, "console.html", {"running": False, "receivers": [],
                                                  "map": None, "searches": [], "sites": SITES})
    try:
        found = await watch.open_search(request.path_params["requestId"], staff_name(request),
                                        clock.utcnow())
    except WatchError as exc:
        return _console(request, "search.html", {"found": None, "ja": exc.ja, "en": exc.en},
                        status=exc.status)
    place = found.get("lastSeen") or {}
    touch_subjects(request, str(place.get("refResident", "")))
    loc = place.get("location")
    coords = loc.get("coordinates") if isinstance(loc, dict) else None
    drawn = None
    if isinstance(coords, list):
        frame = svgmap.frame([(float(coords[0]), float(coords[1]))], margin_m=400)
        x, y = frame.xy((float(coords[0]), float(coords[1])))
        drawn = {"x": x, "y": y, "w": svgmap.WIDTH, "h": svgmap.HEIGHT,
                 "bar": svgmap.scale_bar(frame)}
    return _console(request, "search.html", {"found": found, "place": place, "drawn": drawn})
