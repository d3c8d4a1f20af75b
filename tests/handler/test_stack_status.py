"""What the handler learns from DescribeStacks on its own stack: is it rolling back?"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import boto3
import pytest
from codeartifact_generic.handler.stack_status import is_rolling_back

from codeartifact_generic.testing.local_deploy import (
    CloudFormationEndpoint,
    StackDirectory,
    StackState,
)
from codeartifact_generic.testing.s3 import DUMMY_CREDENTIALS

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

STACK_ID = (
    "arn:aws:cloudformation:us-east-1:123456789012:stack/Pkgs/6a1f2b3c-0000-4000-8000-000000000001"
)
CREATED = "2026-01-02T03:04:05.678Z"
UPDATED = "2026-01-03T00:00:00.000Z"


def _stack(status: str, last_updated: str = "") -> StackState:
    return StackState(
        stack_name="Pkgs",
        stack_id=STACK_ID,
        status=status,
        creation_time=CREATED,
        last_updated_time=last_updated,
    )


@pytest.fixture
def stacks() -> StackDirectory:
    return StackDirectory()


@pytest.fixture
def client(stacks: StackDirectory) -> Iterator[CloudFormationClient]:
    with CloudFormationEndpoint(stacks) as endpoint:
        yield boto3.client(
            "cloudformation",
            endpoint_url=endpoint.url,
            region_name="us-east-1",
            **DUMMY_CREDENTIALS,
        )


def test_an_unknown_stack_says_nothing(client: CloudFormationClient) -> None:
    # GIVEN no such stack (or no permission, or no endpoint)
    # WHEN the handler asks
    # THEN it is not taken for a rollback, rather than failing the deployment
    assert is_rolling_back(client, STACK_ID) is False


@pytest.mark.parametrize(
    ("status", "rolling_back"),
    [
        ("ROLLBACK_IN_PROGRESS", True),
        ("UPDATE_ROLLBACK_IN_PROGRESS", True),
        ("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", True),
        ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", False),
        ("DELETE_IN_PROGRESS", False),
    ],
)
def test_rollback_is_read_from_the_stack_status(
    stacks: StackDirectory, client: CloudFormationClient, status: str, rolling_back: bool
) -> None:
    # GIVEN the stack in ``status``
    stacks.publish(_stack(status, UPDATED))
    # WHEN a Delete asks whether this is a rollback
    # THEN only the *ROLLBACK* statuses say so
    assert is_rolling_back(client, STACK_ID) is rolling_back
