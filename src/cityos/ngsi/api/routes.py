"""The NGSI-LD operations of cityos (ETSI GS CIM 009 v1.8 §6), declared for routing and OpenAPI.

Paths, parameters and responses follow the spec's resource names exactly.
"""

from __future__ import annotations

from cityos.ngsi.api import (
    attributes,
    batch,
    contexts,
    discovery,
    entities,
    purge,
    registrations,
    subscriptions,
)
from cityos.operations import NGSI_READ, NGSI_WRITE, STAFF_WRITE, Operation, Param

V1 = "/ngsi-ld/v1"
TAG = "NGSI-LD"

ENTITY = {"type": "object"}
TENANT = Param("NGSILD-Tenant", "header", description="municipality (tenant)")
ENTITY_ID = Param("entityId", "path", required=True, description="entity id (a URI)")
REGISTRATION_ID = Param("registrationId", "path", required=True,
                        description="registration id (a URI)")
SUBSCRIPTION_ID = Param("subscriptionId", "path", required=True,
                        description="subscription id (a URI)")
ATTR_ID = Param("attrId", "path", required=True, description="attribute name")
TYPE_SELECTOR = Param("type", description="act only on an entity of these types")
LINK = Param("Link", "header", description="JSON-LD @context link")
OPTIONS = Param("options", description="keyValues, concise, sysAttrs, noOverwrite, replace, update")
VIEW = (
    OPTIONS,
    Param("format", schema={"type": "string", "enum": ["normalized", "concise", "keyValues",
                                                        "simplified"]}),
    Param("attrs"), Param("pick"), Param("omit"), Param("lang"), Param("geometryProperty"),
    Param("datasetId", description="keep only these attribute instances (comma-separated)"),
    Param("join", schema={"type": "string", "enum": ["flat", "inline", "@none"]},
          description="linked entity retrieval"),
    Param("joinLevel", schema={"type": "integer", "minimum": 0}),
    Param("local", schema={"type": "boolean"}),
)
LOCAL = Param("local", schema={"type": "boolean"})
SELECT = (
    Param("type", description="type names or a type expression"),
    Param("id", description="comma-separated entity ids"),
    Param("idPattern", description="regular expression over ids"),
    Param("q", description="NGSI-LD query language"),
    Param("georel"), Param("geometry"), Param("coordinates"), Param("geoproperty"),
    Param("scopeQ"),
)
PAGE = (
    Param("limit", schema={"type": "integer", "minimum": 0}),
    Param("offset", schema={"type": "integer", "minimum": 0}),
    Param("count", schema={"type": "boolean"}),
)
ERRORS = {400: "BadRequestData / InvalidRequest", 404: "ResourceNotFound"}

OPERATIONS: list[Operation] = [
    Operation("POST", f"{V1}/entities", entities.create_entity, "Create an entity", TAG,
              (TENANT, LINK, LOCAL), body=ENTITY,
              responses={201: "Created", 400: "BadRequestData", 409: "AlreadyExists"}, policy=NGSI_WRITE),
    Operation("GET", f"{V1}/entities", entities.query_entities, "Query entities", TAG,
              (TENANT, LINK, *SELECT, *VIEW, *PAGE), responses={200: "Entities", **ERRORS}, policy=NGSI_READ),
    Operation("DELETE", f"{V1}/entities", purge.purge_entities, "Purge entities", TAG,
              (TENANT, LINK, *SELECT, Param("attrs"), LOCAL,
               Param("keep", description="purge all attributes but these"),
               Param("drop", description="purge these attributes")), responses={204: "Deleted", **ERRORS}, policy=NGSI_WRITE),
    Operation("GET", f"{V1}/entities/{{entityId}}", entities.retrieve_entity,
              "Retrieve an entity", TAG, (ENTITY_ID, TENANT, LINK, Param("type"), *VIEW),
              responses={200: "Entity", **ERRORS}, policy=NGSI_READ),
    Operation("PUT", f"{V1}/entities/{{entityId}}", entities.replace_entity, "Replace an entity",
              TAG, (ENTITY_ID, TENANT, LINK), body=ENTITY, responses={204: "Replaced", **ERRORS}, policy=NGSI_WRITE),
    Operation("PATCH", f"{V1}/entities/{{entityId}}", entities.merge_entity, "Merge an entity",
              TAG, (ENTITY_ID, TENANT, LINK), body=ENTITY,
              body_types=("application/json", "application/ld+json",
                          "application/merge-patch+json"),
              responses={204: "Merged", **ERRORS}, policy=NGSI_WRITE),
    Operation("DELETE", f"{V1}/entities/{{entityId}}", entities.delete_entity,
              "Delete an entity", TAG, (ENTITY_ID, TENANT, LINK, Param("type"), LOCAL),
              responses={204: "Deleted", **ERRORS}, policy=NGSI_WRITE),
    Operation("POST", f"{V1}/entities/{{entityId}}/attrs", attributes.append_attrs,
              "Append attributes", TAG, (ENTITY_ID, TENANT, LINK, OPTIONS, TYPE_SELECTOR), body=ENTITY,
              responses={204: "Appended", 207: "Partly appended", **ERRORS}, policy=NGSI_WRITE),
    Operation("PATCH", f"{V1}/entities/{{entityId}}/attrs", attributes.update_attrs,
              "Update attributes", TAG, (ENTITY_ID, TENANT, LINK, TYPE_SELECTOR), body=ENTITY,
              responses={204: "Updated", 207: "Partly updated", **ERRORS}, policy=NGSI_WRITE),
    Operation("PATCH", f"{V1}/entities/{{entityId}}/attrs/{{attrId}}", attributes.patch_attr,
              "Partially update an attribute", TAG,
              (ENTITY_ID, ATTR_ID, TENANT, LINK, TYPE_SELECTOR),
              body=ENTITY, responses={204: "Updated", **ERRORS}, policy=NGSI_WRITE),
    Operation("PUT", f"{V1}/entities/{{entityId}}/attrs/{{attrId}}", attributes.replace_attr,
              "Replace an attribute", TAG, (ENTITY_ID, ATTR_ID, TENANT, LINK, TYPE_SELECTOR), body=ENTITY,
              responses={204: "Replaced", **ERRORS}, policy=NGSI_WRITE),
    Operation("DELETE", f"{V1}/entities/{{entityId}}/attrs/{{attrId}}", attributes.delete_attr,
              "Delete an attribute", TAG,
              (ENTITY_ID, ATTR_ID, TENANT, LINK, TYPE_SELECTOR, Param("datasetId"),
               Param("deleteAll", schema={"type": "boolean"})),
              responses={204: "Deleted", **ERRORS}, policy=NGSI_WRITE),
    *[Operation("POST", f"{V1}/entityOperations/{name}", fn, f"Batch {name}", TAG,
                (TENANT, LINK, OPTIONS), body={"type": "array"},
                responses={201: "Created", 204: "Done", 207: "Partly done", 400: "BadRequestData"}, policy=NGSI_WRITE)
      for name, fn in (("create", batch.batch_create), ("upsert", batch.batch_upsert),
                       ("update", batch.batch_update), ("delete", batch.batch_delete),
                       ("merge", batch.batch_merge))],
    Operation("POST", f"{V1}/entityOperations/query", batch.batch_query, "Query entities (POST)",
              TAG, (TENANT, LINK, *VIEW, *PAGE), body={"type": "object"},
              responses={200: "Entities", **ERRORS}, policy=NGSI_READ),
    Operation("POST", f"{V1}/subscriptions", subscriptions.create_subscription,
              "Create a subscription", TAG, (TENANT, LINK), body={"type": "object"},
              responses={201: "Created", 400: "BadRequestData", 409: "AlreadyExists"}, policy=NGSI_WRITE),
    Operation("GET", f"{V1}/subscriptions", subscriptions.query_subscriptions,
              "Query subscriptions", TAG, (TENANT, LINK, *PAGE),
              responses={200: "Subscriptions", **ERRORS}, policy=NGSI_READ),
    Operation("GET", f"{V1}/subscriptions/{{subscriptionId}}",
              subscriptions.retrieve_subscription, "Retrieve a subscription", TAG,
              (SUBSCRIPTION_ID, TENANT, LINK), responses={200: "Subscription", **ERRORS}, policy=NGSI_READ),
    Operation("PATCH", f"{V1}/subscriptions/{{subscriptionId}}",
              subscriptions.update_subscription, "Update a subscription", TAG,
              (SUBSCRIPTION_ID, TENANT, LINK), body={"type": "object"},
              body_types=("application/json", "application/ld+json",
                          "application/merge-patch+json"),
              responses={204: "Updated", **ERRORS}, policy=NGSI_WRITE),
    Operation("DELETE", f"{V1}/subscriptions/{{subscriptionId}}",
              subscriptions.delete_subscription, "Delete a subscription", TAG,
              (SUBSCRIPTION_ID, TENANT), responses={204: "Deleted", **ERRORS}, policy=NGSI_WRITE),
    Operation("POST", f"{V1}/csourceRegistrations", registrations.create_registration,
              "Register a context source", TAG, (TENANT, LINK), body={"type": "object"},
              responses={201: "Created", 400: "BadRequestData", 409: "AlreadyExists"},
              policy=NGSI_WRITE),
    Operation("GET", f"{V1}/csourceRegistrations", registrations.query_registrations,
              "Discover context sources", TAG,
              (TENANT, LINK, Param("type"), Param("id"), Param("idPattern"), Param("attrs"),
               *PAGE), responses={200: "Registrations", **ERRORS}, policy=NGSI_READ),
    Operation("GET", f"{V1}/csourceRegistrations/{{registrationId}}",
              registrations.retrieve_registration, "Retrieve a registration", TAG,
              (REGISTRATION_ID, TENANT, LINK), responses={200: "Registration", **ERRORS},
              policy=NGSI_READ),
    Operation("PATCH", f"{V1}/csourceRegistrations/{{registrationId}}",
              registrations.update_registration, "Update a registration", TAG,
              (REGISTRATION_ID, TENANT, LINK), body={"type": "object"},
              body_types=("application/json", "application/ld+json",
                          "application/merge-patch+json"),
              responses={204: "Updated", **ERRORS}, policy=NGSI_WRITE),
    Operation("DELETE", f"{V1}/csourceRegistrations/{{registrationId}}",
              registrations.delete_registration, "Delete a registration", TAG,
              (REGISTRATION_ID, TENANT), responses={204: "Deleted", **ERRORS},
              policy=NGSI_WRITE),
    Operation("GET", f"{V1}/types", discovery.list_types, "List entity types", TAG,
              (TENANT, LINK, Param("details", schema={"type": "boolean"})),
              responses={200: "Types", **ERRORS}, policy=NGSI_READ),
    Operation("GET", f"{V1}/types/{{type}}", discovery.type_info, "Entity type information",
              TAG, (Param("type", "path", required=True), TENANT, LINK),
              responses={200: "EntityTypeInfo", **ERRORS}, policy=NGSI_READ),
    Operation("GET", f"{V1}/attributes", discovery.list_attributes, "List attributes", TAG,
              (TENANT, LINK, Param("details", schema={"type": "boolean"})),
              responses={200: "Attributes", **ERRORS}, policy=NGSI_READ),
    Operation("GET", f"{V1}/attributes/{{attrId}}", discovery.attribute_info,
              "Attribute information", TAG, (ATTR_ID, TENANT, LINK),
              responses={200: "Attribute", **ERRORS}, policy=NGSI_READ),
    Operation("POST", f"{V1}/jsonldContexts", contexts.add_context, "Add an @context", TAG,
              body={"type": "object"}, responses={201: "Created", 400: "BadRequestData"}, policy=NGSI_WRITE),
    Operation("GET", f"{V1}/jsonldContexts", contexts.list_contexts, "List @contexts", TAG,
              (Param("details", schema={"type": "boolean"}), Param("kind")),
              responses={200: "Contexts", 400: "BadRequestData"}, policy=NGSI_READ),
    Operation("GET", f"{V1}/jsonldContexts/{{contextId}}", contexts.get_context,
              "Serve an @context", TAG,
              (Param("contextId", "path", required=True),
               Param("details", schema={"type": "boolean"})),
              responses={200: "Context", 404: "ResourceNotFound"}, policy=NGSI_READ),
    Operation("DELETE", f"{V1}/jsonldContexts/{{contextId}}", contexts.delete_context,
              "Delete or reload an @context", TAG,
              (Param("contextId", "path", required=True),
               Param("reload", schema={"type": "boolean"})),
              responses={204: "Deleted", 400: "BadRequestData", 404: "ResourceNotFound"}, policy=STAFF_WRITE),
]
