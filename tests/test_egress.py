"""The egress policy (issue #18, attack 8): every rule, every refused range, the allow-list, and
the connect-time check of a real connection (no DNS rebinding)."""

from __future__ import annotations

import asyncio
import http.server
import threading
from collections.abc import Iterator
from typing import ClassVar

import httpx
import pytest

from cityos import egress
from cityos.egress import EgressPolicy, EgressRefused
from cityos.settings import load_settings

REFUSED = [
    ("127.0.0.1", "loopback"), ("127.255.0.9", "loopback"), ("::1", "loopback"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"),
    ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("172.31.255.254", "private"),
    ("192.168.1.1", "private"), ("fd12:3456::1", "private"),
    ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
    ("224.0.0.1", "multicast"), ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"), ("100.64.0.1", "shared"), ("192.0.2.1", "reserved"), ("198.18.0.1", "reserved"), ("2001:db8::1", "reserved"),
    ("::ffff:127.0.0.1", "loopback"), ("::ffff:10.0.0.1", "private"),
    ("127.1", "loopback"), ("0x7f000001", "loopback"), ("2130706433", "loopback"),
    ("0177.0.0.1", "loopback"), ("10.1", "private"),
]


def _rule(call: object) -> str:
    with pytest.raises(EgressRefused) as caught:
        call()  # type: ignore[operator]
    return caught.value.rule


@pytest.mark.parametrize(("address", "kind"), REFUSED)
def test_every_special_range_is_refused_by_default(address: str, kind: str) -> None:
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(EgressRefused) as caught:
        EgressPolicy().target(f"http://{host}:8080/notify")
    assert caught.value.rule == "address"
    assert kind in str(caught.value)
    assert "egress.allow" in str(caught.value) and "アドレス" in str(caught.value)


@pytest.mark.parametrize("address", ["8.8.8.8", "2001:4860:4860::8888", "133.242.0.1"])
def test_public_addresses_pass(address: str) -> None:
    host = f"[{address}]" if ":" in address else address
    assert EgressPolicy().target(f"https://{host}/x").port == 443


@pytest.mark.parametrize(("url", "rule"), [
    ("file:///etc/passwd", "scheme"), ("gopher://example.jp:70/_x", "scheme"),
    ("ftp://example.jp/", "scheme"), ("example.jp/notify", "scheme"),
    ("http://example.jp/notify#", "fragment"), ("http://example.jp/a#/ngsi-ld", "fragment"),
    ("http:///nohost", "host"), ("http://user:pw@example.jp/", "host"),
    ("http://example.jp:25/", "port"), ("http://example.jp:22/", "port"),
    ("http://[::1/", "host"),
])
def test_each_rule_names_itself(url: str, rule: str) -> None:
    assert _rule(lambda: EgressPolicy().target(url)) == rule


def test_standard_and_high_ports_pass() -> None:
    policy = EgressPolicy()
    for url in ("http://example.jp/", "https://example.jp:443/", "mqtt://example.jp/t",
                "mqtts://example.jp:8883/t", "http://example.jp:8080/", "mqtt://u:p@example.jp/t"):
        policy.target(url)
    assert _rule(lambda: policy.target("mqtt://example.jp/t", ("http", "https"))) == "scheme"


def test_the_allow_list_lets_through_what_it_names_and_nothing_more() -> None:
    policy = EgressPolicy(("127.0.0.0/8", "10.0.0.5", "[::1]:9000", "192.168.1.9:1883",
                           "broker.local:25"))
    policy.target("http://127.0.0.2:1/x")  # a CIDR: any port, even a low one
    policy.target("http://10.0.0.5:8080/x")
    policy.target("http://[::1]:9000/x")
    policy.target("mqtt://192.168.1.9/t")  # default port 1883
    policy.target("http://broker.local:25/")
    assert _rule(lambda: policy.target("http://[::1]:9001/x")) == "address"
    assert _rule(lambda: policy.target("http://10.0.0.6/x")) == "address"
    assert _rule(lambda: policy.target("http://192.168.1.9:8883/x")) == "address"


def test_the_setting_is_read_and_checked() -> None:
    settings = load_settings("var", environ={"CITYOS_EGRESS_ALLOW": "127.0.0.0/8, ::1/128"})
    assert settings.egress.allow == ("127.0.0.0/8", "::1/128")
    with pytest.raises(ValueError, match=r"egress\.allow"):
        load_settings("var", environ={"CITYOS_EGRESS_ALLOW": "not an entry"})


@pytest.mark.parametrize("key", ["Host", "host", "Connection", "Transfer-Encoding",
                                 "Content-Length", "Proxy-Authorization", "X-Forwarded-For",
                                 "Via", "Bad Header", "a:b"])
def test_forbidden_headers_are_refused(key: str) -> None:
    assert _rule(lambda: egress.check_headers([{"key": key, "value": "x"}],
                                              "contextSourceInfo")) == "header"


def test_ordinary_headers_pass_and_values_cannot_split() -> None:
    egress.check_headers([{"key": "Authorization", "value": "Bearer t"},
                          {"key": "X-Api-Key", "value": "k"}], "receiverInfo")
    assert _rule(lambda: egress.check_headers([{"key": "X-A", "value": "a\r\nHost: b"}],
                                              "receiverInfo")) == "header"


def test_a_name_is_checked_by_what_it_resolves_to() -> None:
    """`localhost` passes the stored-URL check (names are not resolved then) but resolves to
    loopback: refused at connect time unless allowed."""
    policy = EgressPolicy()
    policy.target("http://localhost:8080/x")
    with pytest.raises(EgressRefused) as caught:
        asyncio.run(policy.resolve("localhost", 8080))
    assert caught.value.rule == "address" and "localhost" in str(caught.value)
    allowed = EgressPolicy(("127.0.0.0/8", "::1/128"))
    assert asyncio.run(allowed.resolve("localhost", 8080)) in ("127.0.0.1", "::1")


class _Hello(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Hello.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_a_real_connection_is_refused_at_connect_time_and_allowed_when_listed(
        local_server: int) -> None:
    """The client the platform sends with: `localhost` resolves to loopback, so nothing
    reaches the server until egress.allow lists it."""
    _Hello.hits.clear()

    async def get() -> int:
        async with egress.client(timeout=5) as c:
            return (await c.get(f"http://localhost:{local_server}/probe")).status_code

    before = egress.policy()
    try:
        egress.configure(EgressPolicy())
        with pytest.raises(EgressRefused):
            asyncio.run(get())
        assert _Hello.hits == []
        egress.configure(EgressPolicy((f"127.0.0.1:{local_server}", f"[::1]:{local_server}")))
        assert asyncio.run(get()) == 200
        assert _Hello.hits == ["/probe"]
    finally:
        egress.configure(before)


def test_the_client_does_not_follow_redirects_or_use_proxies() -> None:
    made = egress.client()
    assert made.follow_redirects is False
    assert made._trust_env is False  # an environment proxy would be connected to unchecked
    asyncio.run(made.aclose())
    assert isinstance(made, httpx.AsyncClient)


def test_every_outbound_client_goes_by_the_policy(local_server: int) -> None:
    """The @context fetcher, the external TSA client and the context source client are refused
    a loopback server the policy does not list, and nothing reaches it."""
    from cityos.ngsi.errors import LdContextNotAvailable
    from cityos.ngsi.federation import Federation
    from cityos.ngsi.jsonld._fetch import RemoteFetcher
    from cityos.trust.tsa import TimeStampError, stamp_external

    _Hello.hits.clear()
    url = f"http://localhost:{local_server}"
    before = egress.policy()
    try:
        egress.configure(EgressPolicy())
        with pytest.raises(LdContextNotAvailable, match="egress rule: address"):
            asyncio.run(RemoteFetcher(timeout=5).fetch(f"{url}/ctx.jsonld"))
        with pytest.raises(TimeStampError, match="egress rule: address"):
            asyncio.run(stamp_external(f"{url}/tsa", b"data", timeout=5))

        async def forward() -> None:
            federation = Federation(None, timeout=5)  # type: ignore[arg-type]
            try:
                await federation.fetch({"id": "r", "endpoint": url}, "/ngsi-ld/v1/entities",
                                       [], {})
            finally:
                await federation.aclose()

        with pytest.raises(EgressRefused):
            asyncio.run(forward())
        assert _Hello.hits == []
    finally:
        egress.configure(before)
