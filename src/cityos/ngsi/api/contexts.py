"""HTTP routes for /ngsi-ld/v1/jsonldContexts (ETSI GS CIM 009 v1.8 §5.13, §6.30–6.31).

The logic lives in `ngsi.jsonld.registry`; these handlers only translate HTTP.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cityos.ngsi.api.request import JSON, JSONLD, read_body
from cityos.ngsi.api.respond import no_content, plain_json
from cityos.ngsi.broker import Broker
from cityos.ngsi.errors import InvalidRequest
from cityos.ngsi.jsonld.registry import parse_flag


def _broker(request: Request) -> Broker:
    return request.app.state.broker  # type: ignore[no-any-return]


async def add_context(request: Request) -> Response:
    broker = _broker(request)
    body = await read_body(request, broker.settings.max_body_bytes, allow=(JSON, JSONLD),
                           plain=True)
    if not isinstance(body.data, dict) or "@context" not in body.data:
        raise InvalidRequest("the payload must be a JSON object with an @context member")
    record = broker.registry.add_context(body.data)
    return Response(status_code=201,
                    headers={"Location": f"/ngsi-ld/v1/jsonldContexts/{record['id']}"})


async def list_contexts(request: Request) -> Response:
    details = parse_flag(request.query_params.get("details"), "details")
    kind = request.query_params.get("kind")
    return plain_json(_broker(request).registry.list_contexts(details=details, kind=kind))


async def get_context(request: Request) -> Response:
    details = parse_flag(request.query_params.get("details"), "details")
    body = _broker(request).registry.get_context(request.path_params["contextId"], details)
    return Response(plain_json(body).body, media_type=JSON)


async def delete_context(request: Request) -> Response:
    reload = parse_flag(request.query_params.get("reload"), "reload")
    await _broker(request).registry.delete_context(request.path_params["contextId"], reload)
    return no_content()
