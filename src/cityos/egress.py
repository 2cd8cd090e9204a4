"""One egress policy for every request the platform makes (issue #18, attack 8).

Notifications (HTTP and MQTT), forwarding to context sources, remote @context fetches, the
external TSA and the security-alert webhook all go through it. Rules, each refusal naming
its rule (`EgressRefused.rule`) in Japanese and English:

- `scheme`: http, https, mqtt and mqtts only (no `file:`, `gopher:`, …);
- `fragment`: no `#…` (it would cut off the path cityos appends);
- `host`: a host is named, without user-info for http(s);
- `address`: no loopback, link-local, private (RFC 1918, ULA), unspecified, multicast,
  shared (RFC 6598) or reserved address — unless `egress.allow` lists it;
- `port`: below 1024 only the standard ports (80, 443, 1883, 8883), unless allowed;
- `header`: no caller-set `Host`, hop-by-hop or proxy headers (`contextSourceInfo`,
  `receiverInfo`).

A URL is checked when it is stored (literal addresses; a host name is not resolved then) and
again when it is used: `EgressBackend` (httpx) and `resolve()` (MQTT) resolve the name, check
every address and connect to a checked address, so a name that later resolves to a refused
address (DNS rebinding) is refused at connect time.

`egress.allow` entries: a CIDR (`127.0.0.0/8`, `::1/128`) or an address — any port; or
`host:port` (`127.0.0.1:9000`, `[::1]:1883`, `broker.example.jp:1883`) — that port only (a
name matches the name as written in the URL, an address the resolved address).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

SCHEMES = ("http", "https", "mqtt", "mqtts")
LOOPBACK = ("127.0.0.0/8", "::1/128")  # `cityos demo`'s egress.allow: everything on this machine
DEFAULT_PORTS = {"http": 80, "https": 443, "mqtt": 1883, "mqtts": 8883}
STANDARD_PORTS = frozenset(DEFAULT_PORTS.values())
# headers a caller may not set through contextSourceInfo / receiverInfo (RFC 9110 §7.6.1
# hop-by-hop, framing, routing and proxy headers)
FORBIDDEN_HEADERS = frozenset({
    "host", "connection", "keep-alive", "proxy-authorization", "proxy-authenticate",
    "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "content-length",
    "expect", "via", "forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto",
    "x-real-ip"})
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # RFC 6598 carrier-grade NAT
_PRIVATE = tuple(ipaddress.ip_network(n) for n in (  # RFC 1918 and unique local (RFC 4193)
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class EgressRefused(ValueError):
    """An outbound request the policy refuses; `rule` names the rule, the message is
    Japanese and English."""

    def __init__(self, rule: str, ja: str, en: str) -> None:
        super().__init__(f"{ja} / {en} (egress rule: {rule})")
        self.rule = rule


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written (a name, or an address without brackets)
    port: int


def _address(host: str) -> Address | None:
    """The address a host names literally: dotted quads and IPv6, and the other forms the
    C resolver reads as IPv4 (`127.1`, `0x7f000001`, `2130706433`)."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if host[:1].isdigit():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def why_special(address: Address) -> str | None:
    """The kind of address no outbound request goes to by default; None: a public one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return why_special(address.ipv4_mapped)
    for kind, hit in (("loopback", address.is_loopback), ("unspecified", address.is_unspecified),
                      ("link-local", address.is_link_local), ("multicast", address.is_multicast),
                      ("private", any(address in net for net in _PRIVATE)),
                      ("shared", address in _SHARED)):
        if hit:
            return kind
    if address.is_reserved or address.is_private or not address.is_global:
        return "reserved"  # documentation, benchmarking, 240/4, 6to4/NAT64 prefixes, …
    return None


def _parse_entry(entry: str) -> tuple[Network | None, tuple[str, int] | None]:
    text = entry.strip()
    if "/" in text or _address(text) is not None:
        return ipaddress.ip_network(text, strict=False), None
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"egress.allow entry {entry!r} is a CIDR, an address or host:port")
    return None, (host.strip("[]").lower(), int(port))


@dataclass(frozen=True)
class EgressPolicy:
    """What may be connected to; `allow` as in the `egress.allow` setting."""

    allow: tuple[str, ...] = ()
    timeout: float = 10.0
    networks: tuple[Network, ...] = field(init=False, default=())
    places: frozenset[tuple[str, int]] = field(init=False, default=frozenset())

    def __post_init__(self) -> None:
        nets: list[Network] = []
        places: set[tuple[str, int]] = set()
        for entry in self.allow:
            net, place = _parse_entry(entry)
            if net is not None:
                nets.append(net)
            if place is not None:
                places.add(place)
        object.__setattr__(self, "networks", tuple(nets))
        object.__setattr__(self, "places", frozenset(places))

    # checks --------------------------------------------------------------------------------
    def target(self, url: str, schemes: Iterable[str] = SCHEMES) -> Target:
        """The URL's scheme, host and port, if the rules that need no DNS allow it (stored
        endpoints are checked with this); EgressRefused otherwise."""
        text = str(url)
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError:
            raise EgressRefused("host", f"URL {text[:100]!r} を読めません",
                                f"URL {text[:100]!r} does not parse") from None
        scheme = parts.scheme.lower()
        allowed = tuple(schemes)
        if scheme not in allowed:
            raise EgressRefused(
                "scheme", f"送信先のスキーム {scheme or '(なし)'!r} は使えません（{', '.join(allowed)} のみ）",
                f"scheme {scheme or '(none)'!r} is not allowed for outbound requests "
                f"(only {', '.join(allowed)})")
        if "#" in text:
            raise EgressRefused("fragment", "送信先 URL にフラグメント（#…）は付けられません",
                                "an outbound URL may not have a fragment (#…)")
        host = (parts.hostname or "").lower()
        if not host:
            raise EgressRefused("host", "送信先 URL にホストがありません",
                                "an outbound URL must name a host")
        if scheme in ("http", "https") and (parts.username or parts.password):
            raise EgressRefused("host", "送信先 URL に利用者情報（user@）は付けられません",
                                "an http(s) URL may not carry user-info (user@host)")
        found = Target(scheme, host, port or DEFAULT_PORTS[scheme])
        address = _address(host)
        if address is not None:
            self.check_address(found, address)
        elif found.port < 1024 and found.port not in STANDARD_PORTS \
                and (host, found.port) not in self.places:
            self._refuse_port(found)
        return found

    def check_address(self, target: Target, address: Address) -> None:
        """EgressRefused unless `address` (what `target.host` resolved to) may be reached."""
        if (target.host, target.port) in self.places or \
                (str(address), target.port) in self.places:
            return
        if any(address in net for net in self.networks):
            return
        kind = why_special(address)
        if kind is not None:
            shown = target.host if target.host == str(address) else f"{target.host} ({address})"
            raise EgressRefused(
                "address",
                f"送信先 {shown} は {kind} アドレスです。egress.allow に載っていない限り"
                "接続しません",
                f"{shown} is a {kind} address: not connected to unless egress.allow lists it")
        if target.port < 1024 and target.port not in STANDARD_PORTS:
            self._refuse_port(target)

    @staticmethod
    def _refuse_port(target: Target) -> None:
        raise EgressRefused(
            "port", f"送信先ポート {target.port} は使えません（1024 未満は 80/443/1883/8883 のみ）",
            f"port {target.port} is not allowed (below 1024 only 80, 443, 1883 and 8883)")

    async def resolve(self, host: str, port: int, scheme: str = "http") -> str:
        """An address of `host` to connect to, every address it resolves to checked
        (EgressRefused if one is refused or the name does not resolve)."""
        target = Target(scheme, host.lower().strip("[]"), port)
        literal = _address(target.host)
        if literal is not None:
            self.check_address(target, literal)
            return str(literal)
        try:
            async with asyncio.timeout(self.timeout):  # a resolver that hangs is a refusal
                infos = await asyncio.get_running_loop().getaddrinfo(
                    target.host, port, type=socket.SOCK_STREAM)
        except (OSError, TimeoutError) as exc:
            raise EgressRefused("host", f"{host} の名前解決に失敗しました",
                                f"{host} does not resolve: {exc}") from None
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not addresses:
            raise EgressRefused("host", f"{host} の名前解決に失敗しました",
                                f"{host} does not resolve")
        for text in addresses:
            address = _address(text)
            assert address is not None
            self.check_address(target, address)
        return addresses[0]

    async def check_url(self, url: str) -> str:
        """The full check of a URL about to be used (resolving its host): an address to use."""
        target = self.target(url)
        return await self.resolve(target.host, target.port, target.scheme)


def check_headers(items: Any, member: str) -> None:
    """contextSourceInfo / receiverInfo: key-values sent as headers; EgressRefused for a
    forbidden or malformed header."""
    for item in items or ():
        if not isinstance(item, dict):
            continue
        key, value = str(item.get("key", "")), str(item.get("value", ""))
        if not key or not set(key) <= _TOKEN or any(c in value for c in "\r\n\0"):
            raise EgressRefused("header", f"{member} のキー {key[:60]!r} はヘッダーにできません",
                                f"{member} key {key[:60]!r} is not a valid header")
        if key.lower() in FORBIDDEN_HEADERS or key.lower().startswith("proxy-"):
            raise EgressRefused(
                "header", f"{member} で {key} ヘッダーは設定できません",
                f"{member} may not set the {key} header (hop-by-hop, routing or proxy header)")


def without_forbidden(headers: dict[str, str]) -> dict[str, str]:
    """Headers from stored key-values with what the rules forbid left out (send time: a
    registration stored before the rules keeps working without them)."""
    return {k: v for k, v in headers.items()
            if k.lower() not in FORBIDDEN_HEADERS and not k.lower().startswith("proxy-")}


# the process's policy -----------------------------------------------------------------------
_current = EgressPolicy()


def configure(policy: EgressPolicy) -> None:
    """The policy of this process (create_app sets it from the settings)."""
    global _current
    _current = policy


def policy() -> EgressPolicy:
    return _current


# connecting ---------------------------------------------------------------------------------
class EgressBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the policy at connect time: the name is resolved here,
    every address checked and the connection made to a checked address (TLS still verifies
    the name, which httpcore passes as SNI)."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self.inner = inner

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None
                          ) -> httpcore.AsyncNetworkStream:
        address = await policy().resolve(host, port)
        return await self.inner.connect_tcp(address, port, timeout=timeout,
                                            local_address=local_address,
                                            socket_options=socket_options)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None
                                  ) -> httpcore.AsyncNetworkStream:
        raise EgressRefused("scheme", "UNIX ソケットには接続しません",
                            "no connection to UNIX sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def transport(**kwargs: Any) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose every connection passes the policy (no proxies from the
    environment: the connection goes where the policy checked)."""
    made = httpx.AsyncHTTPTransport(**kwargs)
    pool = made._pool  # httpcore.AsyncConnectionPool: its backend opens every connection
    pool._network_backend = EgressBackend(pool._network_backend)  # type: ignore[attr-defined]
    return made


def client(timeout: float | httpx.Timeout | None = None, **kwargs: Any) -> httpx.AsyncClient:
    """An httpx client for outbound requests: the policy's transport, no redirects, no
    environment proxies, a timeout always."""
    limits = kwargs.pop("limits", httpx.Limits(max_connections=100))
    kwargs.setdefault("follow_redirects", False)  # a redirect's connection is checked too
    return httpx.AsyncClient(
        transport=transport(limits=limits), trust_env=False,
        timeout=timeout if timeout is not None else policy().timeout, **kwargs)


class _NamedContext(ssl.SSLContext):
    """A TLS context that verifies `server_name` whatever address the socket was opened to
    (MQTT over TLS to a checked address)."""

    server_name: str = ""

    def wrap_socket(self, sock: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs["server_hostname"] = self.server_name
        return super().wrap_socket(sock, *args, **kwargs)


def tls_for(host: str) -> ssl.SSLContext:
    """The default TLS context, verifying `host` when connecting to its checked address."""
    context = _NamedContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_default_certs()
    context.server_name = host
    return context
