"""A company's registration takes only its own writes; the town's (staff) registrations take
everyone's; only the owner or a staff admin changes a registration (issue 4 × 5, #18)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ngsi.notify.conftest import Receiver

from .secured import Platform

V1 = "/ngsi-ld/v1"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.down()


def _register(p: Platform, who: str, n: str, endpoint: str) -> int:
    reg = {"id": f"urn:ngsi-ld:ContextSourceRegistration:{n}", "type": "ContextSourceRegistration",
           "information": [{"entities": [{"type": "Shelter"}]}], "endpoint": endpoint,
           "mode": "redirect", "operations": ["redirectionOps"], "management": {"timeout": 1000}}
    return p.client.post(f"{V1}/csourceRegistrations", json=reg, headers=p.auth(who)).status_code


def _shelter(n: int) -> dict[str, object]:
    return {"id": f"urn:ngsi-ld:Shelter:{n}", "type": "Shelter",
            "capacity": {"type": "Property", "value": 100}}


def test_a_companys_registration_cannot_draw_other_companies_writes(
        platform: Platform, receiver: Receiver) -> None:
    p = platform
    assert _register(p, "Writer", "company", receiver.url) == 201
    made = p.client.post(f"{V1}/entities", json=_shelter(1), headers=p.auth("ShelterCo"))
    assert made.status_code == 201
    assert receiver.got == []  # ShelterCo's write stayed here
    stored = p.client.get(f"{V1}/entities/urn:ngsi-ld:Shelter:1?local=true",
                          headers=p.auth("operator"))
    assert stored.status_code == 200
    # nor may another company change or delete that registration
    gone = p.client.delete(f"{V1}/csourceRegistrations/urn:ngsi-ld:ContextSourceRegistration:"
                           "company", headers=p.auth("ShelterCo"))
    assert gone.status_code == 403
    # the registration is not shown with its owner (to a staff admin: only the owner and
    # staff admins see it at all, issue #18)
    shown = p.client.get(f"{V1}/csourceRegistrations/urn:ngsi-ld:ContextSourceRegistration:"
                         "company", headers=p.auth("admin"))
    assert shown.status_code == 200, shown.text
    assert shown.json()["endpoint"] == receiver.url and "_owner" not in shown.json()


def test_the_towns_registration_takes_everyones_writes(platform: Platform,
                                                       receiver: Receiver) -> None:
    p = platform
    assert _register(p, "admin", "town", receiver.url) == 201
    made = p.client.post(f"{V1}/entities", json=_shelter(2), headers=p.auth("ShelterCo"))
    assert made.status_code in (201, 207), made.text
    assert receiver.wait_for(lambda: len(receiver.got) == 1)
    assert receiver.got[0]["id"] == "urn:ngsi-ld:Shelter:2"
    assert p.client.get(f"{V1}/entities/urn:ngsi-ld:Shelter:2?local=true",
                        headers=p.auth("operator")).status_code == 404  # redirected away
