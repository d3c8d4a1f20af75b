"""Custom resource request events, shaped exactly like the ones CloudFormation sends.

CloudFormation passes every scalar of ``ResourceProperties`` (and ``OldResourceProperties``)
as a string: numbers become ``"1"``, booleans ``"true"``/``"false"``, recursively inside lists
and maps. :func:`make_event` applies that conversion, so a handler tested here sees what it
will see in AWS.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Literal, NotRequired, TypedDict

__all__ = [
    "CustomResourceEvent",
    "RequestType",
    "make_event",
    "make_stack_id",
    "stringify_properties",
]

RequestType = Literal["Create", "Update", "Delete"]


class CustomResourceEvent(TypedDict):
    """A CloudFormation custom resource request (the Lambda ``event``)."""

    RequestType: RequestType
    ServiceToken: str
    ResponseURL: str
    StackId: str
    RequestId: str
    LogicalResourceId: str
    ResourceType: str
    ResourceProperties: dict[str, Any]
    OldResourceProperties: NotRequired[dict[str, Any]]
    PhysicalResourceId: NotRequired[str]


def make_stack_id(*, region: str, account_id: str, stack_name: str, partition: str = "aws") -> str:
    """A new stack ARN: ``arn:aws:cloudformation:REGION:ACCOUNT:stack/NAME/UUID``."""
    return f"arn:{partition}:cloudformation:{region}:{account_id}:stack/{stack_name}/{uuid.uuid4()}"


def stringify_properties(value: Any) -> Any:
    """Turn every scalar into a string, recursively, as CloudFormation does.

    ``True`` → ``"true"``, ``1`` → ``"1"``, ``1.5`` → ``"1.5"``; ``None`` stays ``None``.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        return {str(k): stringify_properties(v) for k, v in value.items()}
    if isinstance(value, list):
        return [stringify_properties(v) for v in value]
    return value


def make_event(
    request_type: RequestType,
    *,
    response_url: str,
    stack_id: str,
    logical_resource_id: str,
    resource_type: str,
    properties: Mapping[str, Any],
    old_properties: Mapping[str, Any] | None = None,
    physical_resource_id: str | None = None,
    request_id: str | None = None,
) -> CustomResourceEvent:
    """Build a request event.

    ``properties`` must include ``ServiceToken`` (as in the template). ``old_properties`` is
    required for Update; ``physical_resource_id`` for Update and Delete.
    """
    if "ServiceToken" not in properties:
        raise ValueError("ResourceProperties must contain ServiceToken")
    if request_type == "Update" and old_properties is None:
        raise ValueError("an Update event needs old_properties")
    if request_type != "Create" and not physical_resource_id:
        raise ValueError(f"a {request_type} event needs physical_resource_id")
    resource_properties = stringify_properties(dict(properties))
    event: CustomResourceEvent = {
        "RequestType": request_type,
        "ServiceToken": str(resource_properties["ServiceToken"]),
        "ResponseURL": response_url,
        "StackId": stack_id,
        "RequestId": request_id or str(uuid.uuid4()),
        "LogicalResourceId": logical_resource_id,
        "ResourceType": resource_type,
        "ResourceProperties": resource_properties,
    }
    if request_type == "Update" and old_properties is not None:
        event["OldResourceProperties"] = stringify_properties(dict(old_properties))
    if request_type != "Create" and physical_resource_id:
        event["PhysicalResourceId"] = physical_resource_id
    return event
