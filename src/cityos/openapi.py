"""`/openapi.json`: an OpenAPI 3.1 description generated from the declared operations.

Every route is described because routes are made from the same declarations.
"""

from __future__ import annotations

from typing import Any

from cityos.operations import Operation

PROBLEM = {
    "type": "object",
    "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                   "status": {"type": "integer"}, "detail": {"type": "string"}},
    "required": ["type", "title"],
}


def build_openapi(operations: list[Operation], version: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        item: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "tags": [op.tag],
            "responses": {},
        }
        params = [_param(p) for p in op.params]
        if params:
            item["parameters"] = params
        if op.body is not None:
            item["requestBody"] = {
                "required": True,
                "content": {media: {"schema": op.body} for media in op.body_types},
            }
        for status, text in op.responses.items():
            response: dict[str, Any] = {"description": text}
            if status >= 400:
                response["content"] = {"application/json": {"schema": PROBLEM}}
            elif status in (200, 207):
                response["content"] = {"application/json": {"schema": {}}}
            item["responses"][str(status)] = response
        policy = op.access
        if policy is not None and not policy.public:
            item["security"] = [{"bearer": []}]
            item["x-cityos-policy"] = {"roles": ["admin", *policy.roles],
                                       "scopes": list(policy.scopes)}
            for status, text in ((401, "Unauthorized"), (403, "Forbidden"),
                                 (429, "TooManyRequests (see Retry-After)")):
                item["responses"].setdefault(
                    str(status), {"description": text,
                                  "content": {"application/json": {"schema": PROBLEM}}})
        paths.setdefault(op.path, {})[op.method.lower()] = item
    return {
        "openapi": "3.1.0",
        "info": {"title": "cityos", "version": version,
                 "description": "City OS (都市OS): NGSI-LD data-linkage platform and its parts."},
        "paths": paths,
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


def _param(p: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": p.name, "in": p.where, "schema": p.schema,
                           "required": p.required or p.where == "path"}
    if p.description:
        out["description"] = p.description
    return out
