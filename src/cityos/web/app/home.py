"""The app's home: notices from the town, then the town's services by field (①防災 …
⑬支払い), each one tap away through its deep link (with its web page as the fallback).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cityos.audit.trail import PRINCIPAL
from cityos.web.app.catalog_view import group_by_field, town_notices, town_service, town_services
from cityos.web.app.personal_view import my_consents
from cityos.web.i18n import add_messages
from cityos.web.render import render

add_messages({
    "home.title": ("ホーム", "Home"),
    "home.notices": ("町からのお知らせ", "Notices from the town"),
    "home.no_notices": ("いまお知らせはありません。", "There are no notices now."),
    "home.services": ("まちのサービス", "Town services"),
    "home.fields": ("分野から探す", "Find by field"),
    "home.services.lead": ("使いたいサービスの「開く」を押してください。",
                           "Press “Open” on the service you want to use."),
    "home.soon": ("準備中のサービス", "Services coming soon"),
    "home.soon.lead": ("分野を選ぶと、これから始まるサービスが見られます。",
                       "Choose a field to see the services that are coming."),
    "service.soon": ("準備中", "Coming soon"),
    "service.soon.what": ("このサービスはまだ開けません。始まったら、ここから開けます。",
                          "This service cannot be opened yet. Once it starts, you can open it "
                          "here."),
    "home.no_services": ("まだサービスが登録されていません。", "No services are registered yet."),
    "home.staff": ("このページは住民の方のためのページです。職員の方はコンソールをお使いください。",
                   "This page is for residents. Staff, please use the console."),
    "service.open": ("開く", "Open"),
    "service.open.named": ("{name} を開く", "Open {name}"),
    "service.web": ("ウェブで開く", "Open on the web"),
    "service.details": ("くわしく", "Details"),
    "service.provider": ("提供", "Provided by"),
    "service.price": ("住民の料金", "Price for residents"),
    "service.price.free": ("無料", "Free"),
    "service.price.paid": ("有料", "Paid"),
    "service.price.undecided": ("未定", "Not decided yet"),
    "service.status.active": ("提供中", "Available"),
    "service.status.pilot": ("試験中", "Trial"),
    "service.status.planned": ("予定", "Planned"),
    "service.data": ("このサービスが使うデータ", "Data this service uses"),
    "service.data.none": ("登録されていません", "None registered"),
    "service.data.mydata": ("データの使われ方は「わたしのデータ」で確かめ、止めることができます。",
                            "In “My data” you can see how your data is used, and stop it."),
    "service.unavailable": ("このサービスは、いまは開けません。", "This service cannot be opened now."),
    "notice.severity.info": ("お知らせ", "Notice"),
    "notice.severity.warning": ("注意", "Warning"),
    "notice.severity.emergency": ("緊急", "Emergency"),
})


def _tenant(request: Request) -> str:
    principal = request.scope.get(PRINCIPAL)
    tenant = getattr(principal, "tenant", "")
    return "" if tenant == "*" else tenant


async def _waiting(request: Request, tenant: str) -> int:
    """How many companies wait for this resident's answer to a consent request."""
    principal = request.scope.get(PRINCIPAL)
    if getattr(principal, "kind", "") != "resident":
        return 0
    consents = await my_consents(request.app, tenant, principal.name) or []  # type: ignore[union-attr]
    return sum(1 for c in consents if c.get("state") == "REQUESTED")


async def home(request: Request) -> Response:
    tenant = _tenant(request)
    services = await town_services(request.app, tenant)
    return render(request, "app/home.html", {
        "waiting": await _waiting(request, tenant),
        "notices": await town_notices(request.app, tenant),
        "ready": [s for s in services if s.get("opens") and s.get("status") != "planned"],
        "groups": group_by_field(services, opens=False), "nav": "home",
        "staff": getattr(request.scope.get(PRINCIPAL), "kind", "") == "staff"})


async def service_page(request: Request) -> Response:
    """One service: what it is, who provides it, its price and the data it uses."""
    service = await town_service(request.app, _tenant(request),
                                 request.path_params["serviceId"])
    if service is None:
        return render(request, "error.html", {"status": 404, "message_key": "error.404"},
                      status=404)
    return render(request, "app/service.html", {"service": service, "nav": "home"})
