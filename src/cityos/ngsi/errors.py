"""NGSI-LD errors as types, each mapped to its ProblemDetails `type` URI and HTTP status.

ETSI GS CIM 009 v1.8 §5.5.2 (error types) and RFC 7807 ProblemDetails. Raise where detected;
`cityos.ngsi.api.problems` renders them in one place.
"""

from __future__ import annotations

from typing import Any

ERRORS_BASE = "https://uri.etsi.org/ngsi-ld/errors/"


class NgsiError(Exception):
    """Base of every NGSI-LD error; `title` names the ProblemDetails type."""

    title = "InternalError"
    status = 500

    def __init__(self, detail: str = "", *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra or {}

    @property
    def type_uri(self) -> str:
        return ERRORS_BASE + self.title

    def problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type_uri, "title": self.title, "status": self.status,
                                "detail": self.detail}
        body.update(self.extra)
        return body


class InvalidRequest(NgsiError):
    """The request is not syntactically valid (bad JSON, bad query parameters)."""

    title = "InvalidRequest"
    status = 400


class BadRequestData(NgsiError):
    """The request is well formed but its content is not valid NGSI-LD."""

    title = "BadRequestData"
    status = 400


class AlreadyExists(NgsiError):
    title = "AlreadyExists"
    status = 409


class OperationNotSupported(NgsiError):
    title = "OperationNotSupported"
    status = 422


class ResourceNotFound(NgsiError):
    title = "ResourceNotFound"
    status = 404


class InternalError(NgsiError):
    title = "InternalError"
    status = 500


class TooComplexQuery(NgsiError):
    title = "TooComplexQuery"
    status = 403


class TooManyResults(NgsiError):
    title = "TooManyResults"
    status = 403


class LdContextNotAvailable(NgsiError):
    """A remote @context could not be retrieved: 504 Gateway Timeout, as v1.8.1 §6.3.17 maps it
    (503 up to v1.8.0; Stellio moved too, stellio-context-broker#1754)."""

    title = "LdContextNotAvailable"
    status = 504


class NonexistentTenant(NgsiError):
    title = "NonexistentTenant"
    status = 404


class NotAcceptable(NgsiError):
    """Accept header names no representation the broker can produce (HTTP 406)."""

    title = "NotAcceptable"
    status = 406

    @property
    def type_uri(self) -> str:
        return ERRORS_BASE + "NotAcceptable"


class UnsupportedMediaType(NgsiError):
    """Content-Type the operation cannot read (HTTP 415)."""

    title = "UnsupportedMediaType"
    status = 415


class PayloadTooLarge(NgsiError):
    """Body larger than the configured limit (HTTP 413)."""

    title = "PayloadTooLarge"
    status = 413


class LengthRequired(NgsiError):
    """A body was sent without Content-Length or chunked encoding (HTTP 411)."""

    title = "LengthRequired"
    status = 411


class MethodNotAllowed(NgsiError):
    title = "MethodNotAllowed"
    status = 405


class LoopDetected(NgsiError):
    """A forwarded request came back to this broker for data held only elsewhere (§6.3.17)."""

    title = "LoopDetected"
    status = 508


class Conflict(NgsiError):
    """A registration holds the data exclusively but does not support the operation."""

    title = "Conflict"
    status = 409


class Forbidden(NgsiError):
    """The caller may not do this (a policy, a grant, a tenant, another's resource)."""

    title = "Forbidden"
    status = 403
