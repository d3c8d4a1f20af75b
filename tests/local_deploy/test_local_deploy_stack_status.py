"""Handlers see the live stack status through the local CloudFormation API, phase by phase.

The test handler calls ``cloudformation:DescribeStacks(StackName=<event StackId>)`` on every
request (boto3 finds the local endpoint through ``AWS_ENDPOINT_URL_CLOUDFORMATION``) and
journals the request with its ``StackStatus`` to S3, so each request shows the
phase CloudFormation was in while it ran.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError

from codeartifact_generic.testing._local_deploy.engine import LocalCloudFormation
from codeartifact_generic.testing._local_deploy.stack_update import DeploymentFailed

from .kit import Assemblies, journaling_handler

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_s3 import S3Client

#: The journaling handler, journaling also the status CloudFormation answers for its stack.
STATUS_HANDLER = journaling_handler(
    """
def _more_to_journal(event):
    try:
        stacks = boto3.client("cloudformation").describe_stacks(StackName=event["StackId"])
        status = stacks["Stacks"][0]["StackStatus"]
    except Exception as exc:
        status = f"ERROR {type(exc).__name__}: {exc}"
    return {
        "StackStatus": status,
        "endpoint": os.environ.get("AWS_ENDPOINT_URL_CLOUDFORMATION"),
    }
"""
)


def thing(
    name: str, *, extra: str = "", fail: bool = False, depends_on: str | None = None
) -> dict[str, Any]:
    """A custom resource whose physical id is ``thing-<name>`` (a new name: replacement; a new
    ``extra``: an update in place)."""
    resource: dict[str, Any] = {
        "Type": "Custom::Thing",
        "Properties": {
            "ServiceToken": {"Fn::GetAtt": ["Fn", "Arn"]},
            "Name": name,
            "Extra": extra,
            "Fail": fail,
        },
    }
    if depends_on:
        resource["DependsOn"] = [depends_on]
    return resource


class App(Assemblies):
    """Writes an assembly per version: one stack with the handler and the given resources."""

    def synth(self, stack_name: str, things: dict[str, dict[str, Any]]) -> Path:
        writer = self.writer(handler_source=STATUS_HANDLER)
        writer.stacks[stack_name] = {
            "Resources": {
                "FnRole": writer.role(),
                "Fn": writer.function({"JOURNAL_BUCKET": self.bucket}),
                **things,
            }
        }
        return writer.write()


def take_journal(s3: S3Client, bucket: str) -> list[dict[str, Any]]:
    """The requests journaled since the last call, oldest first."""
    listing = s3.list_objects_v2(Bucket=bucket, Prefix="journal/")
    keys = sorted(o["Key"] for o in listing.get("Contents", []))
    entries = [json.loads(s3.get_object(Bucket=bucket, Key=k)["Body"].read()) for k in keys]
    if keys:
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]})
    return entries


def statuses(entries: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """``(RequestType, LogicalResourceId, StackStatus)`` per request."""
    return [(e["RequestType"], e["LogicalResourceId"], e["StackStatus"]) for e in entries]


def describe(cfn: LocalCloudFormation, name_or_id: str) -> str:
    """The status boto3 reads from the engine's endpoint."""
    client: CloudFormationClient = boto3.client(
        "cloudformation",
        endpoint_url=cfn.cloudformation_endpoint,
        region_name=cfn.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return client.describe_stacks(StackName=name_or_id)["Stacks"][0]["StackStatus"]


def test_handlers_see_the_status_of_the_phase_they_run_in(
    cfn: LocalCloudFormation, tmp_path: Path, s3: S3Client, journal_bucket: str
) -> None:
    app = App(tmp_path, journal_bucket)

    # GIVEN a stack with two custom resources
    # WHEN it is created
    cfn.deploy(app.synth("Shop", {"Keep": thing("k1"), "Swap": thing("s1")}))

    # THEN the Creates ran while the stack was CREATE_IN_PROGRESS, via the advertised endpoint
    entries = take_journal(s3, journal_bucket)
    assert statuses(entries) == [
        ("Create", "Keep", "CREATE_IN_PROGRESS"),
        ("Create", "Swap", "CREATE_IN_PROGRESS"),
    ]
    assert entries[0]["endpoint"] == cfn.cloudformation_endpoint
    stack = cfn.stack("Shop")
    assert stack is not None
    stack_id = stack.stack_id
    assert entries[0]["StackId"] == stack_id
    assert describe(cfn, "Shop") == "CREATE_COMPLETE"

    # WHEN an update replaces Swap (a new name: a new physical id)
    cfn.deploy(app.synth("Shop", {"Keep": thing("k1"), "Swap": thing("s2")}))

    # THEN the Update ran in UPDATE_IN_PROGRESS and the old Swap's Delete in the cleanup phase
    assert statuses(take_journal(s3, journal_bucket)) == [
        ("Update", "Swap", "UPDATE_IN_PROGRESS"),
        ("Delete", "Swap", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"),
    ]
    assert describe(cfn, stack_id) == "UPDATE_COMPLETE"

    # WHEN an update changes Keep in place, creates New, then fails creating Bad (which needs
    # New)
    with pytest.raises(DeploymentFailed) as failure:
        cfn.deploy(
            app.synth(
                "Shop",
                {
                    "Keep": thing("k1", extra="changed"),
                    "Swap": thing("s2"),
                    "New": thing("n1", depends_on="Keep"),
                    "Bad": thing("b1", fail=True, depends_on="New"),
                },
            )
        )

    # THEN Keep is rolled back in UPDATE_ROLLBACK_IN_PROGRESS, and what the failed update
    # created (New, and the failed Bad) is deleted afterwards, in
    # UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS, newest first
    assert failure.value.status == "UPDATE_ROLLBACK_COMPLETE"
    assert statuses(take_journal(s3, journal_bucket)) == [
        ("Update", "Keep", "UPDATE_IN_PROGRESS"),
        ("Create", "New", "UPDATE_IN_PROGRESS"),
        ("Create", "Bad", "UPDATE_IN_PROGRESS"),
        ("Update", "Keep", "UPDATE_ROLLBACK_IN_PROGRESS"),
        ("Delete", "Bad", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"),
        ("Delete", "New", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"),
    ]
    assert describe(cfn, "Shop") == "UPDATE_ROLLBACK_COMPLETE"
    stack = cfn.stack("Shop")
    assert stack is not None
    assert sorted(stack.resources) == ["Fn", "FnRole", "Keep", "Swap"]

    # WHEN a new stack fails to create
    with pytest.raises(DeploymentFailed) as failure:
        cfn.deploy(app.synth("Fresh", {"Broken": thing("x", fail=True)}))

    # THEN the failed resource's rollback Delete ran in ROLLBACK_IN_PROGRESS; the stack is
    # then forgotten: gone by name, DELETE_COMPLETE by id
    assert failure.value.status == "ROLLBACK_COMPLETE"
    entries = take_journal(s3, journal_bucket)
    assert statuses(entries) == [
        ("Create", "Broken", "CREATE_IN_PROGRESS"),
        ("Delete", "Broken", "ROLLBACK_IN_PROGRESS"),
    ]
    with pytest.raises(ClientError, match="Stack with id Fresh does not exist"):
        describe(cfn, "Fresh")
    assert describe(cfn, entries[0]["StackId"]) == "DELETE_COMPLETE"

    # WHEN the first stack is destroyed
    cfn.destroy(stacks=["Shop"])

    # THEN its Deletes ran in DELETE_IN_PROGRESS, and its id now reads DELETE_COMPLETE
    assert statuses(take_journal(s3, journal_bucket)) == [
        ("Delete", "Swap", "DELETE_IN_PROGRESS"),
        ("Delete", "Keep", "DELETE_IN_PROGRESS"),
    ]
    assert describe(cfn, stack_id) == "DELETE_COMPLETE"
    with pytest.raises(ClientError, match="Stack with id Shop does not exist"):
        describe(cfn, "Shop")
