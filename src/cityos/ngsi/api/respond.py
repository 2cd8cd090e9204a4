"""Writing NGSI-LD HTTP responses: media type, @context in the body or a Link header, errors.

ETSI GS CIM 009 v1.8 §6.3.5 (JSON-LD @context in responses), RFC 7807 ProblemDetails.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.responses import Response

from cityos.ngsi.api.request import GEOJSON, JSON, JSONLD
from cityos.ngsi.errors import NgsiError
from cityos.ngsi.jsonld.context import CORE_CONTEXT_URL, ActiveContext

_dumps = orjson.dumps
_OPTS = orjson.OPT_NON_STR_KEYS


def context_value(ctx: ActiveContext) -> Any:
    """The @context to echo in a JSON-LD body: the caller's context, else the core context."""
    items = ctx.user_context
    if not items:
        return CORE_CONTEXT_URL
    return items[0] if len(items) == 1 else items


def link_header(ctx: ActiveContext) -> str:
    """The Link header naming the context of a JSON body (§6.3.5)."""
    items = ctx.user_context
    url = items[0] if len(items) == 1 and isinstance(items[0], str) else \
        getattr(ctx, "hosted_url", None) or CORE_CONTEXT_URL
    return f'<{url}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'


def ngsi_response(data: Any, ctx: ActiveContext, media: str, *, status: int = 200,
                  headers: dict[str, str] | None = None) -> Response:
    hdrs = dict(headers) if headers else {}
    if media == GEOJSON and isinstance(data, dict):
        # GeoJSON carries the @context in the body like JSON-LD (§4.5.16.1)
        data = {**data, "@context": context_value(ctx)}
    elif media == JSONLD:
        ctx_value = context_value(ctx)
        if isinstance(data, dict):
            data = {"@context": ctx_value, **data}
        elif isinstance(data, list):
            data = [{"@context": ctx_value, **d} if isinstance(d, dict) else d for d in data]
    else:
        hdrs["Link"] = link_header(ctx)
    return Response(_dumps(data, option=_OPTS), status_code=status, headers=hdrs,
                    media_type=media if media in (JSON, JSONLD, GEOJSON) else JSON)


def with_page_links(response: Response, base: str, limit: int, offset: int, total: int,
                    link_type: str, params: Sequence[tuple[str, str]] = ()) -> Response:
    """Add prev/next `Link`s (§5.5.9) to a page of a list of `total` items: the same query
    (`params`, then `limit` and `offset`) one page back and one page on."""
    def link(at: int, rel: str) -> str:
        query = urlencode([*params, ("limit", str(limit)), ("offset", str(at))], safe=",:|")
        return f'<{base}?{query}>; rel="{rel}"; type="{link_type}"'

    links = []
    if limit and offset > 0:
        links.append(link(max(0, offset - limit), "prev"))
    if limit and offset + limit < total:
        links.append(link(offset + limit, "next"))
    if links:
        response.headers.append("Link", ", ".join(links))
    return response


def plain_json(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_dumps(data, option=_OPTS), status_code=status, headers=headers,
                    media_type=JSON)


def problem_response(error: NgsiError, headers: Mapping[str, str] | None = None) -> Response:
    return Response(_dumps(error.problem()), status_code=error.status, headers=headers,
                    media_type=JSON)


def no_content(headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=204, headers=headers)
