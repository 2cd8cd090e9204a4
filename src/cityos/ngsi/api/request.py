"""Reading an NGSI-LD HTTP request: tenant, media types, body limits, @context, common options.

ETSI GS CIM 009 v1.8 §6.3 (HTTP binding: content negotiation, Link header, tenant header).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request

from cityos.jsonvalue import loads
from cityos.ngsi.errors import (
    BadRequestData,
    InvalidRequest,
    LengthRequired,
    NotAcceptable,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from cityos.ngsi.jsonld.context import ActiveContext
from cityos.ngsi.jsonld.link import parse_link_header
from cityos.ngsi.model.projection import parse_projection
from cityos.ngsi.model.terms import is_uri
from cityos.ngsi.model.write import View
from cityos.numbers import MAX_COUNT, bounded_int
from cityos.tenant import TenantError, checked_tenant

JSON = "application/json"
JSONLD = "application/ld+json"
GEOJSON = "application/geo+json"
MERGE_PATCH = "application/merge-patch+json"


def url_path(request: Request) -> str:
    """`request.url.path` without building Starlette's URL (it escapes these three)."""
    return request.scope["path"].replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")


def query_param(request: Request, name: str) -> str | None:
    """`request.query_params.get(name)`, without parsing when there is no query string."""
    if not request.scope.get("query_string"):
        return None
    return request.query_params.get(name)


def tenant_of(request: Request) -> str:
    """The request's tenant (the gate's Caller keeps it; `cityos.tenant` decides it)."""
    try:
        return checked_tenant(request.scope)
    except TenantError as exc:
        raise BadRequestData(str(exc)) from None


def accept_of(request: Request, *, geo: bool = False) -> str:
    """The representation to answer with (§6.3.4, RFC 9110 §12.5.1).

    Each representation takes the weight of the most specific media range naming it; the
    heaviest wins, and among equals the order JSON, JSON-LD, GeoJSON. Weight 0 refuses.
    """
    header = request.headers.get("accept")
    if not header:
        return JSON
    offered = (JSON, JSONLD, GEOJSON) if geo else (JSON, JSONLD)
    weights: dict[str, tuple[int, float]] = {}  # representation -> (specificity, q)
    for part in header.split(","):
        fields = part.strip().split(";")
        media = fields[0].strip().lower()
        q = 1.0
        for f in fields[1:]:
            name, _, val = f.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = min(max(float(val), 0.0), 1.0)
                except ValueError:
                    q = 1.0  # an unreadable weight does not decide anything
        for rep in offered:
            if media == rep:
                specificity = 2
            elif media == "application/*":
                specificity = 1
            elif media == "*/*":
                specificity = 0
            else:
                continue
            if rep not in weights or specificity > weights[rep][0]:
                weights[rep] = (specificity, q)
    best = max(offered, key=lambda rep: (weights.get(rep, (0, 0.0))[1], -offered.index(rep)))
    if weights.get(best, (0, 0.0))[1] <= 0:
        raise NotAcceptable(f"cannot produce any of {header[:200]!r}: "
                            "use application/json or application/ld+json")
    return best


@dataclass
class Body:
    data: Any
    context: Any  # what the request says the @context is (None = core only)


def content_type_of(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def read_body(request: Request, limit: int, *, allow: tuple[str, ...] = (JSON, JSONLD),
                    expect: type | tuple[type, ...] = dict, plain: bool = False,
                    items: bool = False) -> Body:
    """Parse a JSON body within `limit` bytes and find its @context (body or Link header).

    `plain` bodies (an @context document itself) are taken as they are, @context included.
    A value nested more than `MAX_DEPTH` levels is refused; `items`: the items of an array
    body are left to the caller to check one by one (`check_depth`: a batch's item errors).
    """
    media = content_type_of(request)
    if media not in allow:
        raise UnsupportedMediaType(
            f"Content-Type {media or '(none)'!r} is not supported here: use {' or '.join(allow)}")
    declared = request.headers.get("content-length")
    if declared is None and "transfer-encoding" not in request.headers:
        raise LengthRequired("the request needs a Content-Length header")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is larger than {limit} bytes")
    raw = await request.body()
    if len(raw) > limit:
        raise PayloadTooLarge(f"the body is larger than {limit} bytes")
    if not raw:
        raise InvalidRequest("the request has no body")
    try:
        data = loads(raw, items=items)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, expect):
        kind = "an object" if expect is dict else "an array" if expect is list else "JSON"
        raise InvalidRequest(f"the body must be {kind}")
    if plain:
        return Body(data, None)
    link = request.headers.get("link")
    if media == JSONLD:
        if link is not None and "json-ld#context" in link:
            raise BadRequestData("with application/ld+json the @context goes in the body, "
                                 "not in a Link header")
        if isinstance(data, list):  # batches: each element is checked on its own
            return Body(data, None)
        if not isinstance(data, dict) or "@context" not in data:
            raise BadRequestData("an application/ld+json body must carry an @context")
        return Body(data, data["@context"])
    if isinstance(data, dict) and "@context" in data:
        raise BadRequestData("an application/json body must not carry an @context: "
                             "send it in a Link header or use application/ld+json")
    return Body(data, parse_link_header(link) if link else None)


def item_context(item: Any, body: Body, media: str) -> Any:
    """The @context of one entity in a batch body (§6.3.5), checked like a whole body."""
    if media == JSONLD:
        if not isinstance(item, dict) or "@context" not in item:
            raise BadRequestData("an application/ld+json entity must carry an @context")
        return item["@context"]
    if isinstance(item, dict) and "@context" in item:
        raise BadRequestData("an application/json entity must not carry an @context")
    return body.context


def link_context(request: Request) -> Any:
    link = request.headers.get("link")
    return parse_link_header(link) if link else None


def page_params(request: Request, settings: Any) -> tuple[int, int, bool]:
    """`limit` (default and maximum from the NGSI settings), `offset` and `count`."""
    limit = int_param(request, "limit", settings.default_limit, maximum=settings.max_limit)
    return limit, int_param(request, "offset", 0), bool_param(request, "count")


def entity_page(request: Request, settings: Any) -> tuple[int, int, bool]:
    """Page parameters of an entity query, where `limit=0` only makes sense to count."""
    limit, offset, count = page_params(request, settings)
    if limit == 0 and not count:
        raise BadRequestData("limit=0 is only allowed with count=true")
    return limit, offset, count


def path_uri(request: Request, param: str, what: str) -> str:
    """A path parameter that names a resource by URI (entity, subscription, registration)."""
    value: str = request.path_params[param]
    if not is_uri(value):
        raise BadRequestData(f"{what} id {value[:200]!r} is not a URI")
    return value


def split_list(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def int_param(request: Request, name: str, default: int, *, minimum: int = 0,
              maximum: int = MAX_COUNT) -> int:
    """An integer query parameter within bounds (by default 0 to 2^31: `bounded_int`)."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    return bounded_int(raw, name, minimum=minimum, maximum=maximum)


def bool_param(request: Request, name: str) -> bool:
    raw = query_param(request, name)
    if raw is None:
        return False
    if raw in ("true", "false"):
        return raw == "true"
    raise BadRequestData(f"{name} must be true or false")


OPTIONS = frozenset({"keyValues", "concise", "normalized", "sysAttrs", "noOverwrite", "replace",
                     "update", "simplified"})
FORMATS = {"keyValues": "keyValues", "simplified": "keyValues", "concise": "concise",
           "normalized": "normalized"}


def options_of(request: Request) -> set[str]:
    raw = split_list(request.query_params.get("options")) or []
    unknown = [o for o in raw if o not in OPTIONS]
    if unknown:
        raise InvalidRequest(f"unknown options {', '.join(unknown)[:200]}")
    return set(raw)


def view_of(request: Request, ctx: ActiveContext, options: set[str] | None = None) -> View:
    """The representation asked by `options`, `format`, `attrs`, `pick`, `omit`, `lang`."""
    params = request.query_params
    options = options_of(request) if options is None else options
    formats = {FORMATS[o] for o in options if o in FORMATS}
    fmt_param = params.get("format")
    if fmt_param is not None:
        if fmt_param not in FORMATS:
            raise InvalidRequest("format must be normalized, concise, keyValues or simplified")
        formats = {FORMATS[fmt_param]}
    if len(formats) > 1:
        raise BadRequestData("options ask for more than one representation")
    fmt = formats.pop() if formats else "normalized"
    attrs = split_list(params.get("attrs"))
    pick = parse_projection(params["pick"], "pick") if "pick" in params else None
    omit = parse_projection(params["omit"], "omit") if "omit" in params else None
    if (pick is not None or omit is not None) and attrs is not None:
        raise BadRequestData("pick and omit cannot be used together with attrs")
    if pick is not None and omit is not None and not pick.keys().isdisjoint(omit.keys()):
        raise BadRequestData("a member cannot be both in pick and in omit")
    dataset_ids = split_list(params.get("datasetId"))
    geometry = params.get("geometryProperty", "location")
    return View(
        format=fmt,
        sys_attrs="sysAttrs" in options,
        attrs=frozenset(ctx.expand_term(a) for a in attrs) if attrs else None,
        pick=pick,
        omit=omit,
        lang=params.get("lang"),
        geometry_property=geometry,
        dataset_ids=frozenset(None if d == "@none" else d for d in dataset_ids)
        if dataset_ids else None,
    )
