"""Every route of /openapi.json × every kind of caller: only a valid token passes the gate.

Acceptance test of the access issue; a route without a policy makes the app refuse to start.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from cityos import app as app_module
from cityos.access.gate import UndeclaredPolicy
from cityos.app import all_operations, create_app
from cityos.operations import Operation

from .secured import Platform

PUBLIC_ROUTES = {("GET", "/"), ("GET", "/version"), ("GET", "/healthz"), ("GET", "/openapi.json"),
                 ("POST", "/auth/token"), ("POST", "/auth/revoke"), ("POST", "/auth/login"),
                 ("GET", "/auth/jwks.json"),
                 # residents open accounts and sign in (password or passkey ceremonies)
                 ("POST", "/auth/residents"), ("POST", "/auth/residents/login"),
                 ("GET", "/auth/passkeys"), ("POST", "/auth/passkeys/register"),
                 ("POST", "/auth/passkeys/register/finish"), ("POST", "/auth/passkeys/login"),
                 ("POST", "/auth/passkeys/login/finish"),
                 # staff sign in through the municipality's OIDC provider
                 ("GET", "/auth/oidc/login"), ("GET", "/auth/oidc/callback"),
                 # the second step of a staff sign-in (after the password): the passkey
                 ("POST", "/auth/login/passkey"),
                 # devices push measurements, authenticated by their own token (Device-Token)
                 ("POST", "/iot/v1/ingest"),
                 # relying parties check seal certificates: CA, CRL and OCSP (RFC 5280, 6960)
                 ("GET", "/trust/v1/ca"), ("GET", "/trust/v1/ca/crl"), ("POST", "/trust/v1/ocsp"),
                 # pages anyone may open: static files, display settings, the offline page
                 ("GET", "/static/{asset}"), ("GET", "/app/settings"), ("GET", "/app/offline"),
                 # the resident app's sign-in, sign-up and sign-out pages and its PWA files
                 ("GET", "/app/signin"), ("POST", "/app/signin"), ("POST", "/app/signin/token"),
                 ("GET", "/app/signup"), ("POST", "/app/signup"), ("POST", "/app/signout"),
                 # a forgotten password: the counter's one-time code sets a new one
                 ("GET", "/app/reset"), ("POST", "/app/reset"),
                 ("GET", "/app/signin/oidc"), ("GET", "/app/signin/oidc/callback"),
                 # staff sign in to the console through the municipality's provider
                 ("GET", "/console/signin/oidc"), ("GET", "/console/signin/oidc/callback"),
                 ("GET", "/app/manifest.webmanifest"), ("GET", "/app/sw.js"),
                 # residents sign in through their identity provider (My Number card)
                 ("GET", "/personal/v1/oidc/login"), ("GET", "/personal/v1/oidc/callback"),
                 # the staff console's sign-in page and form
                 ("GET", "/console/signin"), ("POST", "/console/signin"),
                 ("POST", "/console/signin/token"),
                 # watch-over: receivers report with a write-only Receiver-Token, and the
                 # platform's notifier delivers with the subscription's secret
                 ("POST", "/services/v1/watchover/sightings"),
                 ("POST", "/services/v1/watchover/notify"),
                 # evacuation guidance for anyone in an emergency (town data, no sign-in),
                 # and its subscription's notifications (checked by their secret header)
                 ("GET", "/app/evacuation"), ("GET", "/app/evacuation/evacuation.js"),
                 ("GET", "/app/evacuation/evacuation.css"),
                 ("GET", "/services/v1/evacuation/plan"),
                 ("POST", "/services/v1/evacuation/notify"),
                 # a service's own stylesheet (no data)
                 ("GET", "/app/ondemand/ondemand.css")}
RESIDENT_ROUTES = {("GET", "/auth/v1/me"), ("POST", "/auth/v1/me/passkeys"),
                   # the resident app shows the town's services and notices
                   ("GET", "/catalog/v1/services"), ("GET", "/catalog/v1/services/{serviceId}"),
                   ("GET", "/catalog/v1/notices"),
                   # Personal-Link: the data catalog, and a resident's own consents, access
                   # log, linked IDs, representatives, export and erasure
                   ("GET", "/personal/v1/catalog"), ("GET", "/personal/v1/me"),
                   ("GET", "/personal/v1/me/consents"),
                   ("PATCH", "/personal/v1/me/consents/{consentId}"),
                   ("GET", "/personal/v1/me/consents/{consentId}/records"),
                   ("GET", "/personal/v1/me/access-log"), ("GET", "/personal/v1/me/export"),
                   ("GET", "/personal/v1/me/data"),
                   ("POST", "/personal/v1/me/erasure"), ("GET", "/personal/v1/me/links"),
                   ("POST", "/personal/v1/me/links/companies"),
                   ("DELETE", "/personal/v1/me/links/companies"),
                   ("POST", "/personal/v1/me/links/identity"),
                   ("GET", "/personal/v1/me/representatives"),
                   ("POST", "/personal/v1/me/representatives"),
                   ("DELETE", "/personal/v1/me/representatives/{residentId}"),
                   # the resident app's pages: home, a service, my data, family mode
                   ("GET", "/app"), ("GET", "/app/services/{serviceId}"), ("GET", "/app/mydata"),
                   ("POST", "/app/mydata/consents/{consentId}"), ("GET", "/app/mydata/export"),
                   ("GET", "/app/mydata/erase"), ("POST", "/app/mydata/erase"),
                   ("GET", "/app/mydata/summary"),
                   ("GET", "/app/family"), ("POST", "/app/family"),
                   # watch-over: a guardian's tags, places, notices and search requests
                   ("GET", "/services/v1/watchover/tags"), ("POST", "/services/v1/watchover/tags"),
                   ("DELETE", "/services/v1/watchover/tags/{tag}"),
                   ("GET", "/services/v1/watchover/tags/{tag}/last-seen"),
                   ("GET", "/services/v1/watchover/tags/{tag}/day"),
                   ("GET", "/services/v1/watchover/notices"),
                   ("POST", "/services/v1/watchover/search-requests"),
                   ("GET", "/app/watchover"), ("POST", "/app/watchover/tags"),
                   ("POST", "/app/watchover/search"),
                   # town services' resident pages (each service's own policy, under its path)
                   ("GET", "/app/energy"),
                   # on-demand transport: a resident books, confirms, cancels, sees her trips
                   ("GET", "/app/ondemand"),
                   ("POST", "/app/ondemand/cancel"),
                   ("POST", "/app/ondemand/confirm"),
                   ("POST", "/app/ondemand/offer"),
                   ("POST", "/services/v1/ondemand/bookings"),
                   ("POST", "/services/v1/ondemand/offers"),
                   ("POST", "/services/v1/ondemand/rides/{ride}/cancel"),
                   ("POST", "/services/v1/ondemand/rides/{ride}/confirm"),
                   ("GET", "/services/v1/ondemand/stops"),
                   ("GET", "/services/v1/ondemand/trips"),
                   # the town currency: her wallet and, for shop counter staff (residents the town registered
                   # to a shop), the shop screen; each checks the caller in the service
                   ("GET", "/app/wallet"),
                   ("POST", "/app/wallet/holds/{holdId}/post"),
                   ("POST", "/app/wallet/holds/{holdId}/void"),
                   ("GET", "/app/wallet/paid/{code}"),
                   ("GET", "/app/wallet/pay"),
                   ("GET", "/app/wallet/pay/{code}"),
                   ("POST", "/app/wallet/pay/{code}"),
                   ("GET", "/app/wallet/shop"),
                   ("POST", "/app/wallet/shop/charge"),
                   ("GET", "/app/wallet/shop/holds/{holdId}"),
                   ("POST", "/app/wallet/shop/requests"),
                   ("GET", "/app/wallet/shop/requests/{code}"),
                   ("POST", "/app/wallet/show"),
                   ("GET", "/app/wallet/show/{code}"),
                   ("GET", "/services/v1/wallet/balance"),
                   ("GET", "/services/v1/wallet/history"),
                   ("POST", "/services/v1/wallet/payment-requests"),
                   ("GET", "/services/v1/wallet/payment-requests/{code}"),
                   ("POST", "/services/v1/wallet/payments"),
                   ("GET", "/services/v1/wallet/statements/{statementId}.{format}"),
                   # health: her own checkups, risk and plan
                   ("GET", "/app/health")}
class _Sample(dict[str, str]):
    """Path parameters: known ones get a fitting value, any new one an id-like value."""

    def __missing__(self, key: str) -> str:
        return f"urn:ngsi-ld:{key}:001"


SAMPLE = _Sample(entityId="urn:ngsi-ld:Shelter:001", attrId="name", type="Shelter",
                 contextId="urn:x:ctx")
CASES = ("none", "malformed", "expired", "forged", "other tenant", "insufficient role",
         "resident", "valid")


def _request(platform: Platform, method: str, path: str, item: dict[str, Any],
             token: str | None, tenant: str | None = None) -> int:
    url = path.format_map(SAMPLE)
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    if tenant is not None:
        headers["NGSILD-Tenant"] = tenant
    kwargs: dict[str, Any] = {}
    if "requestBody" in item:
        schema = next(iter(item["requestBody"]["content"].values()))["schema"]
        kwargs["json"] = [] if schema.get("type") == "array" else {}
    return platform.client.request(method, url, headers=headers, **kwargs).status_code


def _insufficient(op: Operation) -> str:
    """An account whose roles and scopes the operation's policy does not allow."""
    policy = op.access
    assert policy is not None
    for label, roles, scopes in (("viewer", ("viewer",), ()), ("operator", ("operator",), ()),
                                 ("Reader", (), ("ngsi:read",)), ("Writer", (), ("ngsi:write",))):
        if not policy.allows(roles, scopes):
            return label
    return "Nobody"  # an organisation without any grant


def test_every_route_every_caller(platform: Platform) -> None:
    spec = platform.client.get("/openapi.json").json()
    ops = {(op.method, op.path): op for op in all_operations()}
    routes = [(m.upper(), p, item) for p, items in spec["paths"].items() for m, item in items.items()]
    assert {(m, p) for m, p, _ in routes} == set(ops), "openapi.json and the routes disagree"
    assert len(routes) >= 30
    public = {(m, p) for m, p, _ in routes if ops[(m, p)].access.public}  # type: ignore[union-attr]
    assert public == PUBLIC_ROUTES, "a route became public: review it and list it here"
    for_residents = {(m, p) for m, p, _ in routes
                     if ops[(m, p)].access.allows(("resident",), ())}  # type: ignore[union-attr]
    assert for_residents - public == RESIDENT_ROUTES, \
        "residents reach a new route: review it and list it here"
    failures: list[str] = []
    for method, path, item in routes:
        if (method, path) in public:
            assert "security" not in item, f"{method} {path} is public but marked secured"
            continue
        policy = ops[(method, path)].access
        assert policy is not None
        assert item["x-cityos-policy"]["scopes"] == list(policy.scopes)
        assert {"401", "403", "429"} <= set(item["responses"])
        assert item.get("security") == [{"bearer": []}], f"{method} {path} not marked secured"
        t = platform.tokens
        statuses = {
            "none": _request(platform, method, path, item, None),
            "malformed": _request(platform, method, path, item, t["malformed"]),
            "expired": _request(platform, method, path, item, t["expired"]),
            "forged": _request(platform, method, path, item, t["forged"]),
            "other tenant": _request(platform, method, path, item, t["admin-a"], "town-b"),
            "insufficient role": _request(platform, method, path, item,
                                          t[_insufficient(ops[(method, path)])]),
            "resident": _request(platform, method, path, item, t["resident"]),
            "valid": _request(platform, method, path, item, t["admin"]),
        }
        expected = {"none": 401, "malformed": 401, "expired": 401, "forged": 401,
                    "other tenant": 403, "insufficient role": 403, "resident": 403}
        for case, status in statuses.items():
            if case == "valid" or (case == "resident" and (method, path) in RESIDENT_ROUTES):
                if status in (401, 403, 429):
                    failures.append(f"{method} {path} valid → {status}")
            elif status != expected[case]:
                failures.append(f"{method} {path} {case} → {status}, not {expected[case]}")
    assert not failures, "\n".join(failures)


def test_the_init_admin_token_is_a_valid_admin_credential(platform: Platform) -> None:
    auth = {"Authorization": f"Bearer {platform.admin_token}"}
    assert platform.client.get("/auth/v1/alerts", headers=auth).status_code == 200
    r = platform.client.get("/ngsi-ld/v1/types", headers={**auth, "NGSILD-Tenant": "any-town"})
    assert r.status_code == 404  # every tenant is open to it; this one does not exist yet
    bad = {"Authorization": f"Bearer {platform.admin_token}x"}
    assert platform.client.get("/auth/v1/alerts", headers=bad).status_code == 401


def test_a_route_without_policy_stops_the_app(platform: Platform,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    async def sneaky(request: Any) -> Any:
        raise AssertionError("never served")

    undeclared = Operation("GET", "/sneaky", sneaky, "no policy", "test")
    monkeypatch.setattr(app_module, "all_operations", lambda: [*all_operations(), undeclared])
    with pytest.raises(UndeclaredPolicy, match="/sneaky"):
        create_app(platform.settings)


def test_open_ngsi_opens_only_the_ngsi_ld_api(platform: Platform) -> None:
    from starlette.testclient import TestClient

    settings = dataclasses.replace(platform.settings, ngsi=dataclasses.replace(
        platform.settings.ngsi, open_ngsi=True))
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        assert client.get("/ngsi-ld/v1/types").status_code == 200
        assert client.get("/auth/v1/alerts").status_code == 401


def test_cases_cover_the_acceptance_list() -> None:
    assert len(CASES) == 8  # the acceptance list's seven, and a resident's token
