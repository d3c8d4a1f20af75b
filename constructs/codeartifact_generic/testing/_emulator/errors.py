"""Service errors as the CodeArtifact model defines them.

An :class:`EmulatorError` carries the error code (the model's error shape name, e.g.
``ConflictException``), a message, the HTTP status and the shape's extra members
(``resourceId``/``resourceType``, ``reason``, ...). The status defaults to the shape's
``error.httpStatusCode`` in botocore's model (AccessDenied 403, Conflict 409, InternalServer
500, ResourceNotFound 404, ServiceQuotaExceeded 402, Throttling 429, Validation 400).

On the wire (rest-json) an error is the header ``x-amzn-ErrorType: <code>`` and a JSON body
``{"message": ..., <members>...}``; botocore turns that into ``ClientError`` with the code.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Final

from codeartifact_generic.testing._emulator.spec import service_model

ACCESS_DENIED: Final = "AccessDeniedException"
CONFLICT: Final = "ConflictException"
INTERNAL: Final = "InternalServerException"
NOT_FOUND: Final = "ResourceNotFoundException"
QUOTA_EXCEEDED: Final = "ServiceQuotaExceededException"
THROTTLING: Final = "ThrottlingException"
VALIDATION: Final = "ValidationException"
#: Not a modelled shape: what the emulator answers for a route or operation it does not serve.
UNKNOWN_OPERATION: Final = "UnknownOperationException"

# ValidationException.reason values (ValidationExceptionReason in the model).
REASON_CANNOT_PARSE: Final = "CANNOT_PARSE"
REASON_FIELD_VALIDATION_FAILED: Final = "FIELD_VALIDATION_FAILED"
REASON_OTHER: Final = "OTHER"

# ResourceType values used in resourceType members.
RESOURCE_DOMAIN: Final = "domain"
RESOURCE_REPOSITORY: Final = "repository"
RESOURCE_PACKAGE: Final = "package"
RESOURCE_PACKAGE_VERSION: Final = "package-version"
RESOURCE_ASSET: Final = "asset"


@functools.cache
def modelled_statuses() -> Mapping[str, int]:
    """Error code → HTTP status, from each error shape's ``error.httpStatusCode``."""
    statuses: dict[str, int] = {}
    for shape in service_model().error_shapes:
        error = shape.metadata.get("error", {})
        statuses[shape.name] = int(error.get("httpStatusCode", 400))
    return statuses


def status_for(code: str) -> int:
    """HTTP status of error ``code``: the model's, 404 for unknown operations, else 400."""
    if code == UNKNOWN_OPERATION:
        return 404
    return modelled_statuses().get(code, 400)


class EmulatorError(Exception):
    """A service error to send back to the client.

    ``fields`` are the error shape's members other than ``message`` (for example
    ``resourceId`` and ``resourceType``); members the shape does not define are dropped
    when the error is serialized.
    """

    def __init__(
        self,
        code: str,
        message: str,
        status: int | None = None,
        *,
        fields: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status if status is not None else status_for(code)
        self.fields: dict[str, object] = dict(fields or {})


def validation(message: str, *, reason: str = REASON_FIELD_VALIDATION_FAILED) -> EmulatorError:
    """A ``ValidationException`` (400)."""
    return EmulatorError(VALIDATION, message, fields={"reason": reason})


def not_found(message: str, resource_type: str, resource_id: str) -> EmulatorError:
    """A ``ResourceNotFoundException`` (404) naming the missing resource."""
    return EmulatorError(
        NOT_FOUND, message, fields={"resourceType": resource_type, "resourceId": resource_id}
    )


def conflict(message: str, resource_type: str, resource_id: str) -> EmulatorError:
    """A ``ConflictException`` (409) naming the resource in the way."""
    return EmulatorError(
        CONFLICT, message, fields={"resourceType": resource_type, "resourceId": resource_id}
    )


def quota_exceeded(message: str, resource_type: str, resource_id: str) -> EmulatorError:
    """A ``ServiceQuotaExceededException`` (402)."""
    return EmulatorError(
        QUOTA_EXCEEDED,
        message,
        fields={"resourceType": resource_type, "resourceId": resource_id},
    )


def unknown_operation(message: str) -> EmulatorError:
    """An ``UnknownOperationException`` (404) for routes or operations not served."""
    return EmulatorError(UNKNOWN_OPERATION, message)
