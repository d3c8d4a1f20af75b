"""Is CloudFormation rolling back? A Delete event does not say; the stack's status does."""

from __future__ import annotations

import logging
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
