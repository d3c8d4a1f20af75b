"""What the handler asks CloudFormation about its own stack (an event says none of it).

* the stack's status: is this Delete or Update part of a rollback? (``DescribeStacks``);
* when CloudFormation began creating this resource, and when the current stack operation
  began (``DescribeStackEvents``: newest first; the ``CREATE_IN_PROGRESS`` event of a
  resource is recorded before its provider is invoked, see "Monitor stack progress" in the
  CloudFormation user guide);
* whether a Create still in flight was cancelled (``DescribeStackResource``): when another
  resource fails, CloudFormation marks a custom resource still creating ``CREATE_FAILED``
  ("Resource creation cancelled") and sends Delete while the Create runs
  (aws-cloudformation/cloudformation-coverage-roadmap#1814, aws/aws-cdk#36951).

Every answer degrades to "unknown" (None, "") when CloudFormation cannot be read: callers
then choose the side that deletes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Final

from botocore.exceptions import BotoCoreError, ClientError

from .errors import reason_for
from .log import log_line

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.type_defs import StackEventTypeDef

#: Pages of ``DescribeStackEvents`` read at most (newest first; what we look for is recent).
MAX_EVENT_PAGES: Final = 20
#: Statuses of a resource whose Create CloudFormation gave up on (failed or cancelled).
GIVEN_UP: Final = frozenset(
    {"CREATE_FAILED", "DELETE_IN_PROGRESS", "DELETE_COMPLETE", "DELETE_FAILED", "DELETE_SKIPPED"}
)
#: Stack-level statuses that start an operation (the rollback ones continue it).
_OPERATION_STARTS: Final = frozenset({"CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS"})
_STACK_TYPE: Final = "AWS::CloudFormation::Stack"


class StackView:
    """Read-only questions about one stack, asked through ``client``."""

    def __init__(self, client: CloudFormationClient, stack_id: str) -> None:
        self._client = client
        self._stack_id = stack_id

    def status(self) -> str:
        """``StackStatus``, or "" when it cannot be read."""
        try:
            stacks = self._client.describe_stacks(StackName=self._stack_id)["Stacks"]
        except (ClientError, BotoCoreError) as error:
            log_line("stack_status_unknown", level=logging.WARNING, reason=reason_for(error))
            return ""
        status = stacks[0]["StackStatus"] if stacks else ""
        log_line("stack_status", status=status)
        return status

    def resource_status(self, logical_id: str) -> str:
        """The resource's ``ResourceStatus``, or "" when it cannot be read."""
        try:
            detail = self._client.describe_stack_resource(
                StackName=self._stack_id, LogicalResourceId=logical_id
            )["StackResourceDetail"]
        except (ClientError, BotoCoreError) as error:
            log_line("resource_status_unknown", level=logging.WARNING, reason=reason_for(error))
            return ""
        return detail["ResourceStatus"]

    def resource_created_at(self, logical_id: str) -> datetime | None:
        """When CloudFormation began creating ``logical_id`` (its latest creation).

        The newest ``CREATE_IN_PROGRESS`` event of the resource, or the oldest of a run of them
        (some resources report two: requested, then "Resource creation Initiated").
        """
        found: datetime | None = None
        for event in self._events():
            if event.get("LogicalResourceId") != logical_id or self._is_stack(event):
                continue
            if event["ResourceStatus"] == "CREATE_IN_PROGRESS":
                found = event["Timestamp"]
            elif found is not None:
                break
        return found

    def operation_started_at(self) -> datetime | None:
        """When the stack's current (or latest) create or update began."""
        for event in self._events():
            if self._is_stack(event) and event["ResourceStatus"] in _OPERATION_STARTS:
                return event["Timestamp"]
        return None

    def _is_stack(self, event: StackEventTypeDef) -> bool:
        """A stack-level event (a nested stack's resource has the same type, another id)."""
        return (
            event.get("ResourceType") == _STACK_TYPE
            and event.get("PhysicalResourceId") == self._stack_id
        )

    def _events(self) -> Iterator[StackEventTypeDef]:
        token: str | None = None
        try:
            for _ in range(MAX_EVENT_PAGES):
                page = (
                    self._client.describe_stack_events(StackName=self._stack_id, NextToken=token)
                    if token
                    else self._client.describe_stack_events(StackName=self._stack_id)
                )
                yield from page["StackEvents"]
                token = page.get("NextToken")
                if not token:
                    return
        except (ClientError, BotoCoreError) as error:
            log_line("stack_events_unknown", level=logging.WARNING, reason=reason_for(error))


def is_rollback(status: str) -> bool:
    """True for a ``*ROLLBACK*`` stack status (a create or an update being undone)."""
    return "ROLLBACK" in status
