"""What the handler learns of its own stack: rolling back? when was the resource created?
was its Create cancelled? (DescribeStacks, DescribeStackEvents, DescribeStackResource)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import boto3
import pytest
from codeartifact_generic.handler.stack_status import GIVEN_UP, StackView, is_rollback

from codeartifact_generic.testing._local_deploy.cloudformation_api import (
    CloudFormationEndpoint,
    StackDirectory,
)
from codeartifact_generic.testing._local_deploy.state import StackState
from codeartifact_generic.testing._s3 import DUMMY_CREDENTIALS

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
    view = StackView(client, STACK_ID)
    # WHEN the handler asks
    # THEN every answer is "unknown", rather than failing the deployment
    assert view.status() == ""
    assert view.resource_status("Cli") == ""
    assert view.resource_created_at("Cli") is None
    assert view.operation_started_at() is None


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
    assert is_rollback(StackView(client, STACK_ID).status()) is rolling_back


def _resource(stacks: StackDirectory, logical_id: str, status: str, reason: str = "") -> None:
    stacks.record(STACK_ID, "Pkgs", logical_id, "Custom::X", status, reason=reason)


def test_the_resource_creation_time_is_its_latest_create_in_progress_event(
    stacks: StackDirectory, client: CloudFormationClient
) -> None:
    # GIVEN a stack whose resource Cli was created, deleted by an update, then added again
    stacks.publish(_stack("UPDATE_IN_PROGRESS", UPDATED))
    _resource(stacks, "Cli", "CREATE_IN_PROGRESS")
    _resource(stacks, "Cli", "CREATE_COMPLETE")
    _resource(stacks, "Cli", "DELETE_COMPLETE")
    _resource(stacks, "Other", "CREATE_IN_PROGRESS")
    _resource(stacks, "Cli", "CREATE_IN_PROGRESS")
    latest = stacks.events(STACK_ID)[0]
    _resource(stacks, "Cli", "CREATE_FAILED", "Resource creation cancelled")
    _resource(stacks, "Cli", "DELETE_IN_PROGRESS")
    view = StackView(client, STACK_ID)
    # WHEN the handler asks when Cli was created (during the Delete of its cancelled Create)
    created = view.resource_created_at("Cli")
    # THEN it is the latest creation's CREATE_IN_PROGRESS, to the millisecond
    assert created is not None
    assert abs((created - latest.timestamp).total_seconds()) < 0.001
    # AND the resource's status says its Create was given up on
    assert view.resource_status("Cli") in GIVEN_UP


def test_the_operation_start_is_the_latest_stack_level_create_or_update(
    stacks: StackDirectory, client: CloudFormationClient
) -> None:
    # GIVEN a stack created, then updated, now rolling the update back
    stacks.publish(_stack("CREATE_IN_PROGRESS"))
    stacks.publish(_stack("CREATE_COMPLETE"))
    stacks.publish(_stack("UPDATE_IN_PROGRESS", UPDATED))
    started = stacks.events(STACK_ID)[0].timestamp
    _resource(stacks, "Cli", "UPDATE_IN_PROGRESS")
    stacks.publish(_stack("UPDATE_ROLLBACK_IN_PROGRESS", UPDATED))
    # WHEN the handler asks when the current operation began
    found = StackView(client, STACK_ID).operation_started_at()
    # THEN it is the update's start (the rollback continues that operation)
    assert found is not None
    assert abs((found - started).total_seconds()) < 0.001


def test_events_are_paged_newest_first(
    stacks: StackDirectory, client: CloudFormationClient
) -> None:
    # GIVEN more events than one page holds, the resource's creation on an older page
    stacks.publish(_stack("CREATE_IN_PROGRESS"))
    _resource(stacks, "Cli", "CREATE_IN_PROGRESS")
    created = stacks.events(STACK_ID)[0].timestamp
    for index in range(150):
        _resource(stacks, f"R{index}", "CREATE_IN_PROGRESS")
    # WHEN the handler asks
    page = client.describe_stack_events(StackName=STACK_ID)
    found = StackView(client, STACK_ID).resource_created_at("Cli")
    # THEN the first page is full, newest first, and the second page is read too
    assert len(page["StackEvents"]) == 100 and "NextToken" in page
    assert page["StackEvents"][0]["LogicalResourceId"] == "R149"
    assert found is not None and abs((found - created).total_seconds()) < 0.001
