"""Every page of the staff console, declared with its policy like every other route."""

from __future__ import annotations

from cityos.operations import PUBLIC, Operation
from cityos.web.console import catalog_pages, entities, geo, overview, people, signin, town_map
from cityos.web.console._page import CONSOLE_READ, CONSOLE_WRITE, TAG, console_page

FORM_DONE = {303: "done: on to the next page", 400: "the form again, with the reason"}
OPERATIONS: list[Operation] = [
    console_page("GET", "/console/signin", signin.signin_page, "Staff sign-in page (職員サインイン)",
                 PUBLIC, responses={200: "HTML page", 303: "signed in already"}),
    console_page("POST", "/console/signin", signin.signin, "Staff sign-in", PUBLIC,
                 responses={303: "signed in", 400: "out-of-date form", 401: "wrong password",
                            429: "locked"}),
    console_page("POST", "/console/signin/token", signin.signin_with_token,
                 "Staff sign-in: the token of the passkey step starts the session", PUBLIC,
                 responses={204: "signed in", 400: "out-of-date form", 401: "not a staff token"}),
    console_page("POST", "/console/signout", signin.signout, "Sign out of the console",
                 CONSOLE_READ, responses={303: "signed out"}),
    console_page("GET", "/console", overview.overview, "Console overview: KPIs (概要)"),
    console_page("GET", "/console/map", town_map.map_page, "Map of the town (地図)"),
    Operation("GET", "/console/map/layers", geo.map_layers, "The map's GeoJSON layers", TAG,
              responses={200: "layers, outline and sources"}, policy=CONSOLE_READ),
    console_page("GET", "/console/entities", entities.entity_list, "Entity browser (データ)"),
    console_page("GET", "/console/entities/{entityId}", entities.entity_page,
                 "One entity with time-series charts", responses={200: "HTML page",
                                                                 404: "no such entity"}),
    console_page("GET", "/console/services", catalog_pages.services_page,
                 "Service catalog editor (サービス)"),
    console_page("GET", "/console/services/new", catalog_pages.new_service_page,
                 "Form: add a service", CONSOLE_WRITE),
    console_page("GET", "/console/services/{serviceId}/edit", catalog_pages.edit_service_page,
                 "Form: edit a service", CONSOLE_WRITE,
                 responses={200: "HTML page", 404: "no such service"}),
    console_page("POST", "/console/services", catalog_pages.save_service, "Save a service",
                 CONSOLE_WRITE, responses=FORM_DONE),
    console_page("POST", "/console/services/import", catalog_pages.import_services,
                 "Import services from YAML", CONSOLE_WRITE, responses=FORM_DONE),
    console_page("POST", "/console/services/{serviceId}/delete", catalog_pages.delete_service,
                 "Remove a service", CONSOLE_WRITE,
                 responses={303: "removed", 404: "no such service"}),
    console_page("GET", "/console/notices", catalog_pages.notices_list, "Notices editor (お知らせ)"),
    console_page("POST", "/console/notices", catalog_pages.publish_notice, "Publish a notice",
                 CONSOLE_WRITE, responses=FORM_DONE),
    console_page("POST", "/console/notices/{noticeId}/delete", catalog_pages.withdraw_notice,
                 "Withdraw a notice", CONSOLE_WRITE,
                 responses={303: "withdrawn", 404: "no such notice"}),
    console_page("GET", "/console/accounts", people.accounts_page,
                 "Organisations and accounts (事業者とアカウント)"),
    console_page("GET", "/console/alerts", people.alerts_page, "Alerts (アラート)"),
]
