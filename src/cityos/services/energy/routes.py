"""The energy service's pages and API: the staff console page, the residents' page and the
companies' API under /services/v1/energy (forecast, shelter autonomy, CO2 report)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response

from cityos.ngsi.api.respond import plain_json, problem_response
from cityos.ngsi.errors import BadRequestData
from cityos.operations import NGSI_READ, STAFF_WRITE, Operation, Param
from cityos.services.client import PlatformError
from cityos.services.energy import ledger, views
from cityos.services.energy.balance import REQUIRED_HOURS, STORM_WIND
from cityos.services.energy.carbon import fiscal_year
from cityos.services.energy.dayahead import ForecastInputError, FrameSource, parse
from cityos.services.energy.manifest import MANIFEST
from cityos.services.energy.outlook import SiteOutlook, outlook
from cityos.services.energy.runtime import issue
from cityos.services.runtime import ServiceContext, context_of
from cityos.web.console._page import CONSOLE_READ, NAV, can_edit, staff_name
from cityos.web.pages import RESIDENT_PAGE, page
from cityos.web.render import prefs_of, render

log = logging.getLogger("cityos.services.energy")
JST = ZoneInfo("Asia/Tokyo")
API = MANIFEST.api_path
TAG = "services: energy"
MAX_INPUT = 64_000


def _html(request: Request, name: str, values: dict[str, Any]) -> Response:
    """A page of web/templates/services/energy, with `tx(ja, en)` for its bilingual texts."""
    lang = _lang(request)
    values = {**values, "tx": lambda ja, en: en if lang == "en" and en else ja}
    return render(request, f"services/energy/{name}", values)


def _lang(request: Request) -> str:
    return prefs_of(request.scope).lang


def _now(ctx: ServiceContext) -> datetime:
    now = ctx.state.get("now")
    return now if isinstance(now, datetime) else datetime.now(JST)


def _outlook(ctx: ServiceContext) -> list[SiteOutlook]:
    found = ctx.state.get("outlook")
    return found if isinstance(found, list) else []


def _required(ctx: ServiceContext) -> float:
    return float(ctx.options.get("required_hours") or REQUIRED_HOURS)


async def _report(ctx: ServiceContext, year: int) -> dict[str, Any]:
    return views.co2(await ledger.read(ctx.client), year, ctx.options)


async def _report_or_none(ctx: ServiceContext, year: int) -> dict[str, Any] | None:
    """The report for a page: None (the page says so) when the ledger cannot be read."""
    try:
        return await _report(ctx, year)
    except (PlatformError, ValueError):
        log.exception("energy: the CO2 report could not be made")
        return None


def _bad(ja: str, en: str) -> Response:
    return problem_response(BadRequestData(f"{ja} / {en}"))


def _year(request: Request, ctx: ServiceContext) -> int | Response:
    raw = request.query_params.get("year")
    if raw is None:
        return fiscal_year(_now(ctx).date())
    if not raw.isdigit() or not 1990 <= int(raw) <= 2100:
        return _bad("year は 1990〜2100 の年度です", "year is a fiscal year, 1990-2100")
    return int(raw)


# the staff console ---------------------------------------------------------------------------

async def console_energy(request: Request) -> Response:
    ctx = context_of(request, "energy")
    lang = _lang(request)
    week = ctx.state.get("week")
    now = _now(ctx)
    values: dict[str, Any] = {"nav": NAV, "section": "", "staff": staff_name(request),
                              "can_edit": can_edit(request), "flash": "",
                              "ready": bool(_outlook(ctx)), "week_ready": week is not None,
                              "required": _required(ctx)}
    if _outlook(ctx):
        values.update(issued=views.time_label(ctx.state.get("issued", now), lang),
                      shelters=views.shelters(_outlook(ctx), lang))
    if week is not None:
        values.update(days=views.week_days(week, now, lang), balance=views.balances(week, now),
                      chart=views.chart(week, now))
    values["report"] = await _report_or_none(ctx, fiscal_year(now.date()))
    return _html(request, "console.html", values)


# the residents' page -------------------------------------------------------------------------

async def app_energy(request: Request) -> Response:
    ctx = context_of(request, "energy")
    week = ctx.state.get("week")
    now = _now(ctx)
    summary = None
    if week is not None:
        report = await _report_or_none(ctx, fiscal_year(now.date()))
        summary = views.resident_summary(week, now, report, _outlook(ctx), _lang(request))
    return _html(request, "app.html", {"summary": summary, "nav": "home"})


# the API -------------------------------------------------------------------------------------

def _outlook_json(items: list[SiteOutlook]) -> list[dict[str, Any]]:
    return [v.to_json() for v in items]


async def api_forecast(request: Request) -> Response:
    ctx = context_of(request, "energy")
    issued = ctx.state.get("issued")
    return plain_json({"issued": issued.isoformat() if isinstance(issued, datetime) else None,
                       "sites": _outlook_json(_outlook(ctx))})


async def api_forecast_input(request: Request) -> Response:
    ctx = context_of(request, "energy")
    raw = await request.body()
    if len(raw) > MAX_INPUT:
        return _bad("入力が大きすぎます（64 KB まで）", "the input is too large (64 KB at most)")
    try:
        frame = parse(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return _bad("UTF-8 のCSVを送ってください", "send a UTF-8 CSV")
    except ForecastInputError as exc:
        return _bad(exc.ja, exc.en)
    items = outlook(FrameSource(frame), required_hours=_required(ctx),
                    storm_wind=float(ctx.options.get("storm_wind") or STORM_WIND))
    return plain_json({"issued": None, "sites": _outlook_json(items)})


async def api_publish(request: Request) -> Response:
    """Staff (or the town's weather feed under a staff account) make a day-ahead input the
    current one: the forecast and the shelters' flags are issued from it."""
    ctx = context_of(request, "energy")
    raw = await request.body()
    if len(raw) > MAX_INPUT:
        return _bad("入力が大きすぎます（64 KB まで）", "the input is too large (64 KB at most)")
    try:
        text = raw.decode("utf-8")
        parse(text)
    except UnicodeDecodeError:
        return _bad("UTF-8 のCSVを送ってください", "send a UTF-8 CSV")
    except ForecastInputError as exc:
        return _bad(exc.ja, exc.en)
    items = await issue(ctx, text)
    return plain_json({"issued": ctx.state["issued"].isoformat(), "sites": _outlook_json(items)})


async def api_autonomy(request: Request) -> Response:
    ctx = context_of(request, "energy")
    return plain_json({"requiredHours": _required(ctx),
                       "shelters": [{"place": v.site.system.name,
                                     "shelter": v.site.shelter_id,
                                     **v.autonomy.to_json()} for v in _outlook(ctx)]})


async def api_report(request: Request) -> Response:
    ctx = context_of(request, "energy")
    year = _year(request, ctx)
    if isinstance(year, Response):
        return year
    try:
        return plain_json(await _report(ctx, year))
    except PlatformError:
        return plain_json({"type": "about:blank", "title": "Service Unavailable", "status": 503,
                           "detail": "台帳を読めませんでした。しばらくしてからもう一度 / the "
                                     "ledger could not be read; try again later"}, status=503)
    except ValueError:
        return _bad(f"{year}年度以前の排出係数がありません",
                    f"no emission factor for FY{year} or before")


YEAR = Param("year", schema={"type": "integer", "minimum": 1990, "maximum": 2100},
             description="fiscal year (年度, April-March); default the current one")
CSV_BODY = {"type": "string", "description": "day-ahead input (docs/services/energy.md)"}

OPERATIONS: list[Operation] = [
    page("GET", MANIFEST.console_path, console_energy,
         "Energy console: forecast vs actual, supply-demand, shelter power, CO2", CONSOLE_READ,
         tag="console"),
    page("GET", MANIFEST.app_path, app_energy, "Residents' page: the town's solar power",
         RESIDENT_PAGE),
    Operation("GET", f"{API}/forecast", api_forecast,
              "The current solar forecast of each public building (hour-ending, kW)", TAG,
              responses={200: "forecast per PV system", 503: "service not running"},
              policy=NGSI_READ),
    Operation("POST", f"{API}/forecast", api_forecast_input,
              "Forecast from a day-ahead input you send (CSV); nothing is stored", TAG,
              body=CSV_BODY, body_types=("text/csv",),
              responses={200: "forecast per PV system", 400: "bad input (ProblemDetails)"},
              policy=NGSI_READ),
    Operation("PUT", f"{API}/weather", api_publish,
              "Make a day-ahead input the current one: forecasts and shelter flags issued",
              TAG, body=CSV_BODY, body_types=("text/csv",),
              responses={200: "the issued forecast", 400: "bad input (ProblemDetails)"},
              policy=STAFF_WRITE),
    Operation("GET", f"{API}/autonomy", api_autonomy,
              "Shelters' hours of backup power (PV + battery) and the storm flag", TAG,
              responses={200: "one row per shelter with PV"}, policy=NGSI_READ),
    Operation("GET", f"{API}/report", api_report,
              "The fiscal year's CO2 report (Scope 1 fuels, Scope 2 electricity, PV)", TAG,
              params=(YEAR,), responses={200: "the report", 400: "bad year (ProblemDetails)",
                         503: "the ledger cannot be read now"},
              policy=NGSI_READ),
]
