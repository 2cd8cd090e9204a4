"""Parse and format the JSON-LD context Link header of NGSI-LD requests and responses.

ETSI GS CIM 009 v1.8 §6.3.5 (JSON-LD @context resolution via the HTTP Link header), RFC 8288.
"""

from __future__ import annotations

from cityos.ngsi.errors import BadRequestData

JSONLD_CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"


def format_link_header(url: str) -> str:
    """`<url>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"`."""
    return f'<{url}>; rel="{JSONLD_CONTEXT_REL}"; type="application/ld+json"'


def parse_link_header(header: str | None) -> str | None:
    """The @context URL of a Link header value, or None when it has no JSON-LD context link.

    Links with other relations are ignored; more than one JSON-LD context link is an error
    (JSON-LD 1.1 §6.1 allows only one).
    """
    if not header:
        return None
    found: list[str] = []
    for link in _split(header, ","):
        link = link.strip()
        if not link:
            continue
        if not link.startswith("<") or ">" not in link:
            raise BadRequestData(f"invalid Link header: {link!r}")
        url, rest = link[1:].split(">", 1)
        params = _params(rest)
        if JSONLD_CONTEXT_REL in params.get("rel", "").split():
            found.append(url.strip())
    if len(found) > 1:
        raise BadRequestData("more than one JSON-LD @context Link header")
    if found and not found[0]:
        raise BadRequestData("empty @context URL in Link header")
    return found[0] if found else None


def _split(value: str, sep: str) -> list[str]:
    """Split on `sep` outside <…> and "…" (RFC 8288 link-values may contain both)."""
    parts: list[str] = []
    cur: list[str] = []
    in_url = in_quote = False
    for ch in value:
        if ch == "<" and not in_quote:
            in_url = True
        elif ch == ">" and not in_quote:
            in_url = False
        elif ch == '"' and not in_url:
            in_quote = not in_quote
        if ch == sep and not in_url and not in_quote:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def _params(rest: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for part in _split(rest, ";"):
        if "=" not in part:
            continue
        name, value = part.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        params.setdefault(name.strip().lower(), value)
    return params
