"""What the handler's own stack is doing: a Delete event does not say it is a rollback, and no
event says when the stack operation began. ``DescribeStacks`` does."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from .errors import reason_for
from .log import log_line

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.type_defs import StackTypeDef


def _describe(client: CloudFormationClient, stack_id: str) -> StackTypeDef | None:
    try:
        stacks = client.describe_stacks(StackName=stack_id)["Stacks"]
    except (ClientError, BotoCoreError) as error:
        log_line("stack_status_unknown", level=logging.WARNING, reason=reason_for(error))
        return None
    return stacks[0] if stacks else None


def is_rolling_back(client: CloudFormationClient, stack_id: str) -> bool:
    """True while the stack is in a ``*ROLLBACK*`` status (create or update rollback).

    When the status cannot be read the answer is False: the removal policy then applies,
    which never deletes more than a normal Delete would.
    """
    stack = _describe(client, stack_id)
    status = stack["StackStatus"] if stack else ""
    log_line("stack_status", status=status)
    return "ROLLBACK" in status


def operation_started(client: CloudFormationClient, stack_id: str) -> datetime | None:
    """When the stack's current operation began: its last update, else its creation.

    None when the stack cannot be described; callers then assume nothing about the timing.
    """
    stack = _describe(client, stack_id)
    if stack is None:
        return None
    started = stack.get("LastUpdatedTime") or stack.get("CreationTime")
    log_line("stack_operation_started", at=started.isoformat() if started else None)
    return started
