"""GET /metrics: notification delivery counters for staff, never for companies or residents."""

from __future__ import annotations

from .secured import Platform


def test_staff_read_delivery_counters(platform: Platform) -> None:
    sub = {"id": "urn:ngsi-ld:Subscription:m", "type": "Subscription",
           "entities": [{"type": "Shelter"}],
           "notification": {"endpoint": {"uri": "http://127.0.0.1:9/nobody"}}}
    r = platform.client.post("/ngsi-ld/v1/subscriptions", json=sub, headers=platform.auth("admin"))
    assert r.status_code == 201, r.text
    r = platform.client.get("/metrics", headers=platform.auth("admin"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    lines = dict(line.split(" ") for line in r.text.splitlines() if not line.startswith("#"))
    assert lines["cityos_notify_subscriptions"] == "1"
    assert "cityos_notify_notifications_failed" in lines
    for label in ("resident", "Reader"):
        assert platform.client.get("/metrics", headers=platform.auth(label)).status_code == 403
    assert platform.client.get("/metrics").status_code == 401
