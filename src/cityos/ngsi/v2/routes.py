"""The NGSI v2 operations of cityos (FIWARE Orion's API, the subset existing applications use),
declared for routing, OpenAPI and the gate. Mapping and limits: docs/ngsi-v2.md."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cityos.ngsi.v2 import batch, entities, subscriptions
from cityos.ngsi.v2.request import json_response
from cityos.operations import NGSI_READ, NGSI_WRITE, Operation, Param

V2 = "/v2"
TAG = "NGSI v2"

SERVICE = (Param("Fiware-Service", "header", description="tenant (municipality), lower case"),
           Param("Fiware-ServicePath", "header",
                 description="hierarchical scope, e.g. /toyono/parks (NGSI-LD scope)"))
ENTITY_ID = Param("entityId", "path", required=True, description="entity id")
ATTR = Param("attrName", "path", required=True, description="attribute name")
SUB_ID = Param("subscriptionId", "path", required=True, description="24 hexadecimal digits")
TYPE = Param("type", description="entity type")
READ = (Param("attrs"), Param("metadata"),
        Param("options", description="keyValues, values, unique, count, dateCreated, "
                                     "dateModified"))
LIST = (Param("id"), Param("idPattern"), TYPE, Param("q", description="Simple Query Language"),
        Param("mq"), Param("georel"), Param("geometry"), Param("coords"),
        Param("limit", schema={"type": "integer", "minimum": 1, "maximum": 1000}),
        Param("offset", schema={"type": "integer", "minimum": 0}), *READ)
OBJECT = {"type": "object"}
WRITE_OPTIONS = Param("options", description="keyValues (and upsert / append where allowed)")


async def entry_point(request: Request) -> Response:
    return json_response({"entities_url": f"{V2}/entities", "types_url": f"{V2}/types",
                          "subscriptions_url": f"{V2}/subscriptions"})


def _op(method: str, path: str, endpoint: object, summary: str, *params: Param,
        body: bool = False, write: bool = False, responses: dict[int, str] | None = None,
        body_types: tuple[str, ...] = ("application/json",)) -> Operation:
    return Operation(method, V2 + path, endpoint, summary, TAG,  # type: ignore[arg-type]
                     params=(*SERVICE, *params), body=OBJECT if body else None,
                     body_types=body_types, policy=NGSI_WRITE if write else NGSI_READ,
                     responses=responses or ({204: "Done"} if write else {200: "OK"}))


OPERATIONS = [
    _op("GET", "", entry_point, "NGSI v2 resources"),
    _op("GET", "/entities", entities.list_entities, "List entities (v2)", *LIST),
    _op("POST", "/entities", entities.create_entity, "Create an entity (v2)",
        WRITE_OPTIONS, body=True, write=True,
        responses={201: "Created", 204: "Updated (upsert)", 422: "Already exists"}),
    _op("GET", "/entities/{entityId}", entities.retrieve_entity, "Retrieve an entity (v2)",
        ENTITY_ID, TYPE, *READ),
    _op("DELETE", "/entities/{entityId}", entities.delete_entity, "Delete an entity (v2)",
        ENTITY_ID, TYPE, write=True),
    _op("GET", "/entities/{entityId}/attrs", entities.retrieve_attrs,
        "Retrieve an entity's attributes (v2)", ENTITY_ID, TYPE, *READ),
    _op("POST", "/entities/{entityId}/attrs", entities.append_attrs,
        "Add or replace attributes (v2)", ENTITY_ID, TYPE, WRITE_OPTIONS, body=True,
        write=True),
    _op("PATCH", "/entities/{entityId}/attrs", entities.update_attrs,
        "Update existing attributes (v2)", ENTITY_ID, TYPE, WRITE_OPTIONS, body=True,
        write=True),
    _op("PUT", "/entities/{entityId}/attrs", entities.replace_attrs,
        "Replace all attributes (v2)", ENTITY_ID, TYPE, WRITE_OPTIONS, body=True, write=True),
    _op("GET", "/entities/{entityId}/attrs/{attrName}", entities.retrieve_attr,
        "Retrieve an attribute (v2)", ENTITY_ID, ATTR, TYPE, Param("metadata")),
    _op("PUT", "/entities/{entityId}/attrs/{attrName}", entities.update_attr,
        "Update an attribute (v2)", ENTITY_ID, ATTR, TYPE, body=True, write=True),
    _op("DELETE", "/entities/{entityId}/attrs/{attrName}", entities.delete_attr,
        "Delete an attribute (v2)", ENTITY_ID, ATTR, TYPE, write=True),
    _op("GET", "/entities/{entityId}/attrs/{attrName}/value", entities.retrieve_attr_value,
        "Retrieve an attribute's value (v2)", ENTITY_ID, ATTR, TYPE),
    _op("PUT", "/entities/{entityId}/attrs/{attrName}/value", entities.update_attr_value,
        "Update an attribute's value (v2)", ENTITY_ID, ATTR, TYPE, body=True, write=True,
        body_types=("application/json", "text/plain")),
    _op("GET", "/types", entities.list_types, "List entity types (v2)",
        Param("limit", schema={"type": "integer", "minimum": 1, "maximum": 1000}),
        Param("offset", schema={"type": "integer", "minimum": 0}),
        Param("options", description="count, values, noAttrDetail")),
    _op("GET", "/types/{entityType}", entities.retrieve_type, "Retrieve an entity type (v2)",
        Param("entityType", "path", required=True, description="entity type")),
    _op("POST", "/op/update", batch.op_update, "Batch update (v2)", WRITE_OPTIONS, body=True,
        write=True),
    _op("POST", "/op/query", batch.op_query, "Batch query (v2)",
        Param("limit", schema={"type": "integer", "minimum": 1, "maximum": 1000}),
        Param("offset", schema={"type": "integer", "minimum": 0}), *READ[2:], body=True),
    _op("GET", "/subscriptions", subscriptions.list_subscriptions, "List subscriptions (v2)",
        Param("limit", schema={"type": "integer", "minimum": 1, "maximum": 1000}),
        Param("offset", schema={"type": "integer", "minimum": 0}), Param("options")),
    _op("POST", "/subscriptions", subscriptions.create_subscription,
        "Create a subscription (v2)", body=True, write=True, responses={201: "Created"}),
    _op("GET", "/subscriptions/{subscriptionId}", subscriptions.retrieve_subscription,
        "Retrieve a subscription (v2)", SUB_ID),
    _op("PATCH", "/subscriptions/{subscriptionId}", subscriptions.update_subscription,
        "Update a subscription (v2)", SUB_ID, body=True, write=True),
    _op("DELETE", "/subscriptions/{subscriptionId}", subscriptions.delete_subscription,
        "Delete a subscription (v2)", SUB_ID, write=True),
]
