"""End to end: a hand-written two-stack assembly deployed, updated, rolled back and destroyed.

StackA holds a Lambda function (a crhelper handler written by the test), two custom resources
using it, an SSM parameter and a CDKMetadata resource; it exports the function ARN and a
custom resource attribute. StackB imports both (strong references) and reads the SSM
parameter through a parameter and a dynamic reference (weak references).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from codeartifact_generic.testing._local_deploy.cli import main as cli_main
from codeartifact_generic.testing._local_deploy.engine import DestroyFailed, LocalCloudFormation
from codeartifact_generic.testing._local_deploy.stack_update import DeploymentFailed
from codeartifact_generic.testing._s3 import MotoS3Server

from .kit import (
    Assemblies,
    AssemblyWriter,
    app_fixture,
    bootstrap_parameter_and_rule,
    journal,
    summary,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SSM_NAME = "/test/other-echo"


@dataclass(frozen=True)
class AppVersion:
    """The knobs the tests turn between deployments."""

    thing_name: str = "t1"
    thing_extra: str = "x"
    other_name: str = "o1"
    other_fail: bool = False
    new_resource_fail: bool | None = None  # None: no "New" resource


def stack_a(writer: AssemblyWriter, bucket: str, v: AppVersion) -> dict[str, Any]:
    token = {"Fn::GetAtt": ["Fn", "Arn"]}
    resources: dict[str, Any] = {
        "FnRole": writer.role(),
        "Fn": writer.function({"JOURNAL_BUCKET": bucket}),
        "Thing": {
            "Type": "Custom::Thing",
            "Properties": {
                "ServiceToken": token,
                "Name": v.thing_name,
                "Extra": v.thing_extra,
                "Count": 3,
                "Enabled": True,
                "Nested": {"List": [1, False, "x"]},
            },
        },
        "Other": {
            "Type": "Custom::Thing",
            "Properties": {"ServiceToken": token, "Name": v.other_name, "Fail": v.other_fail},
        },
        "Param": {
            "Type": "AWS::SSM::Parameter",
            "Properties": {
                "Name": SSM_NAME,
                "Type": "String",
                "Value": {"Fn::GetAtt": ["Other", "Echo"]},
            },
        },
        "CDKMetadata": {
            "Type": "AWS::CDK::Metadata",
            "Properties": {"Analytics": "v2:deflate64:H4sIAAAAAAAA"},
            "Condition": "CDKMetadataAvailable",
        },
    }
    if v.new_resource_fail is not None:
        resources["New"] = {
            "Type": "Custom::Thing",
            "Properties": {"ServiceToken": token, "Name": "new", "Fail": v.new_resource_fail},
        }
    return {
        **bootstrap_parameter_and_rule(),
        "Conditions": {
            "CDKMetadataAvailable": {
                "Fn::Or": [
                    {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]},
                    {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]},
                ]
            }
        },
        "Resources": resources,
        "Outputs": {
            "ThingEcho": {
                "Value": {"Fn::GetAtt": ["Thing", "Echo"]},
                "Export": {"Name": "StackA:ThingEcho"},
            },
            "FnArn": {"Value": {"Fn::GetAtt": ["Fn", "Arn"]}, "Export": {"Name": "StackA:FnArn"}},
        },
    }


def stack_b() -> dict[str, Any]:
    template = bootstrap_parameter_and_rule()
    template["Parameters"]["OtherEcho"] = {
        "Type": "AWS::SSM::Parameter::Value<String>",
        "Default": SSM_NAME,
    }
    template["Resources"] = {
        "Consumer": {
            "Type": "AWS::CloudFormation::CustomResource",
            "Properties": {
                "ServiceToken": {"Fn::ImportValue": "StackA:FnArn"},
                "Name": {"Fn::Join": ["-", ["consumer", {"Fn::ImportValue": "StackA:ThingEcho"}]]},
                "Weak": {"Ref": "OtherEcho"},
                "Dynamic": "{{resolve:ssm:" + SSM_NAME + "}}",
            },
        }
    }
    template["Outputs"] = {
        "ConsumerEcho": {"Value": {"Fn::GetAtt": ["Consumer", "Echo"]}},
        "Weak": {"Value": {"Fn::GetAtt": ["Consumer", "Weak"]}},
    }
    return template


class App(Assemblies):
    """Writes one assembly directory per version."""

    def synth(self, version: AppVersion, *, with_b: bool = True) -> Path:
        writer = self.writer()
        writer.stacks["StackA"] = stack_a(writer, self.bucket, version)
        if with_b:
            writer.stacks["StackB"] = stack_b()
            writer.dependencies["StackB"] = ["StackA"]
        return writer.write()


app = app_fixture(App)


@pytest.fixture
def deployed(app: App, cfn: LocalCloudFormation) -> Path:
    """Version 1 of both stacks, deployed."""
    assembly = app.synth(AppVersion())
    cfn.deploy(assembly)
    return assembly


def test_deploy_creates_both_stacks_with_real_events(
    app: App, cfn: LocalCloudFormation, s3: S3Client, journal_bucket: str, output: io.StringIO
) -> None:
    # GIVEN a two-stack assembly with custom resources backed by a crhelper handler
    assembly = app.synth(AppVersion())

    # WHEN it is deployed
    summaries = cfn.deploy(assembly)

    # THEN both stacks are created, in dependency order, with resolved outputs
    assert [(s.stack_name, s.status) for s in summaries] == [
        ("StackA", "CREATE_COMPLETE"),
        ("StackB", "CREATE_COMPLETE"),
    ]
    assert summaries[0].outputs["ThingEcho"] == "t1"
    assert (
        summaries[0].outputs["FnArn"].startswith("arn:aws:lambda:us-east-1:123456789012:function:")
    )
    # strong (export/import) and weak (SSM parameter, dynamic reference) values arrived
    assert summaries[1].outputs == {"ConsumerEcho": "consumer-t1", "Weak": "o1"}

    # AND the handler received CloudFormation-shaped events (it journaled them to S3 through
    # AWS_ENDPOINT_URL_S3, which proves the environment wiring)
    entries = journal(s3, journal_bucket)
    assert summary(entries) == [
        ("Create", "Thing", None),
        ("Create", "Other", None),
        ("Create", "Consumer", None),
    ]
    thing = entries[0]
    assert thing["ResourceProperties"] == {
        "ServiceToken": summaries[0].outputs["FnArn"],
        "Name": "t1",
        "Extra": "x",
        "Count": "3",
        "Enabled": "true",
        "Nested": {"List": ["1", "false", "x"]},
    }
    assert thing["ResourceType"] == "Custom::Thing"
    assert thing["StackId"].startswith(
        "arn:aws:cloudformation:us-east-1:123456789012:stack/StackA/"
    )
    assert thing["ResponseURL"].startswith("https://127.0.0.1:")
    assert 0 < thing["remaining_ms"] <= 20_000
    assert thing["region"] == "us-east-1"
    assert thing["invoked_function_arn"] == summaries[0].outputs["FnArn"]
    consumer = entries[2]
    assert consumer["ResourceType"] == "AWS::CloudFormation::CustomResource"
    assert consumer["ResourceProperties"]["Dynamic"] == "o1"

    # AND resources that are not emulated were skipped loudly
    text = output.getvalue()
    assert "CREATE CDKMetadata (AWS::CDK::Metadata) ... SKIPPED" in text
    assert "not emulated locally: recorded only" in text
    assert "CREATE Thing (Custom::Thing) ... OK" in text

    # AND the state is on disk for later runs
    state = json.loads((cfn.state_dir / "state.json").read_text())
    assert state["stacks"]["StackA"]["resources"]["Thing"]["physical_id"] == "thing-t1"
    assert state["stacks"]["StackB"]["imports"] == ["StackA:FnArn", "StackA:ThingEcho"]


def test_update_sends_old_properties_and_deletes_replaced_resource_afterwards(
    app: App, cfn: LocalCloudFormation, deployed: Path, s3: S3Client, journal_bucket: str
) -> None:
    # GIVEN deployed stacks
    before = len(journal(s3, journal_bucket))

    # WHEN Thing gets a new property value and Other a new name (= a new physical id)
    summaries = cfn.deploy(app.synth(AppVersion(thing_extra="y", other_name="o2")))

    # THEN Thing got an in-place Update with OldResourceProperties, Other was replaced and the
    # old physical resource deleted only after the stack update succeeded
    entries = journal(s3, journal_bucket)[before:]
    assert summary(entries) == [
        ("Update", "Thing", "thing-t1"),
        ("Update", "Other", "thing-o1"),
        ("Delete", "Other", "thing-o1"),
        ("Update", "Consumer", "thing-consumer-t1"),
    ]
    assert entries[0]["ResourceProperties"]["Extra"] == "y"
    assert entries[0]["OldResourceProperties"]["Extra"] == "x"
    assert entries[2]["ResourceProperties"]["Name"] == "o1"  # Delete carries the old properties
    # AND the weak reference (SSM parameter) moved without any export lock
    assert entries[3]["ResourceProperties"]["Weak"] == "o2"
    assert summaries[1].outputs["Weak"] == "o2"
    stack = cfn.stack("StackA")
    assert stack is not None
    assert stack.status == "UPDATE_COMPLETE"
    assert stack.resources["Other"].physical_id == "thing-o2"


def test_failing_update_rolls_back_every_updated_resource(
    app: App, cfn: LocalCloudFormation, deployed: Path, s3: S3Client, journal_bucket: str
) -> None:
    # GIVEN deployed stacks
    before = len(journal(s3, journal_bucket))

    # WHEN an update changes Thing and makes Other's handler fail
    with pytest.raises(DeploymentFailed) as failure:
        cfn.deploy(app.synth(AppVersion(thing_extra="y", other_name="o2", other_fail=True)))

    # THEN the failure names the stack, the resource and the handler's reason
    assert failure.value.stack_name == "StackA"
    assert failure.value.logical_id == "Other"
    assert "asked to fail Update of o2" in failure.value.reason
    assert failure.value.status == "UPDATE_ROLLBACK_COMPLETE"
    # AND both updates were rolled back with Update requests carrying the previous properties
    entries = journal(s3, journal_bucket)[before:]
    assert summary(entries) == [
        ("Update", "Thing", "thing-t1"),
        ("Update", "Other", "thing-o1"),
        ("Update", "Other", "thing-o1"),
        ("Update", "Thing", "thing-t1"),
    ]
    rollback_other, rollback_thing = entries[2], entries[3]
    assert rollback_other["ResourceProperties"]["Name"] == "o1"
    assert rollback_other["OldResourceProperties"]["Fail"] == "true"
    assert rollback_thing["ResourceProperties"]["Extra"] == "x"
    assert rollback_thing["OldResourceProperties"]["Extra"] == "y"
    # AND the recorded state is the previous one; StackB was not touched
    stack = cfn.stack("StackA")
    assert stack is not None
    assert stack.status == "UPDATE_ROLLBACK_COMPLETE"
    assert stack.resources["Thing"].properties["Extra"] == "x"
    assert stack.resources["Other"].physical_id == "thing-o1"


def test_failed_create_gets_a_delete_during_rollback_of_a_new_stack(
    app: App, cfn: LocalCloudFormation, s3: S3Client, journal_bucket: str
) -> None:
    # GIVEN a new stack whose "New" custom resource fails to create
    assembly = app.synth(AppVersion(new_resource_fail=True), with_b=False)

    # WHEN it is deployed
    with pytest.raises(DeploymentFailed) as failure:
        cfn.deploy(assembly)

    # THEN the stack rolls back: everything created is deleted, and the failed resource gets
    # a Delete for the physical id crhelper answered with
    assert failure.value.logical_id == "New"
    assert failure.value.status == "ROLLBACK_COMPLETE"
    requests = summary(journal(s3, journal_bucket))
    assert requests[:3] == [
        ("Create", "Thing", None),
        ("Create", "Other", None),
        ("Create", "New", None),
    ]
    delete_new = requests[3]
    assert delete_new[:2] == ("Delete", "New")
    assert delete_new[2] is not None
    assert delete_new[2].startswith("StackA_New_")
    assert requests[4:] == [("Delete", "Other", "thing-o1"), ("Delete", "Thing", "thing-t1")]
    # AND like the CDK CLI after ROLLBACK_COMPLETE, the stack is gone
    assert cfn.stack("StackA") is None


def test_changing_an_imported_export_fails_and_rolls_back(
    app: App, cfn: LocalCloudFormation, deployed: Path, s3: S3Client, journal_bucket: str
) -> None:
    # GIVEN StackB imports StackA:ThingEcho
    before = len(journal(s3, journal_bucket))

    # WHEN StackA is updated so that the exported value changes
    with pytest.raises(DeploymentFailed) as failure:
        cfn.deploy(app.synth(AppVersion(thing_name="t2")), ["StackA"])

    # THEN CloudFormation's export rule stops it after the resources were updated
    assert failure.value.reason == "Cannot update export StackA:ThingEcho as it is in use by StackB"
    assert failure.value.logical_id is None
    # AND the custom resource was rolled back with an Update; the physical id it answered
    # (thing-t1 again) differs from the new one, so the new one is deleted in the cleanup
    entries = summary(journal(s3, journal_bucket)[before:])
    assert entries == [
        ("Update", "Thing", "thing-t1"),
        ("Update", "Thing", "thing-t2"),
        ("Delete", "Thing", "thing-t2"),
    ]
    assert cfn.outputs("StackA")["ThingEcho"] == "t1"


def test_destroy_refuses_imported_exports_then_deletes_dependents_first(
    app: App, cfn: LocalCloudFormation, deployed: Path, s3: S3Client, journal_bucket: str
) -> None:
    # GIVEN deployed stacks
    before = len(journal(s3, journal_bucket))

    # WHEN only StackA is destroyed (like `cdk destroy --exclusively StackA`)
    with pytest.raises(DestroyFailed) as failure:
        cfn.destroy(deployed, ["StackA"], exclusively=True)

    # THEN it is refused because StackB imports its exports
    assert failure.value.reason.startswith("Delete canceled. Cannot delete export StackA:")
    assert "in use by StackB" in failure.value.reason
    assert cfn.stack("StackA") is not None

    # WHEN StackA is destroyed without --exclusively (its dependents come along)
    destroyed = cfn.destroy(deployed, ["StackA"])

    # THEN StackB goes first, custom resources get Delete requests in reverse order
    assert destroyed == ["StackB", "StackA"]
    assert summary(journal(s3, journal_bucket)[before:]) == [
        ("Delete", "Consumer", "thing-consumer-t1"),
        ("Delete", "Other", "thing-o1"),
        ("Delete", "Thing", "thing-t1"),
    ]
    assert cfn.state.names() == []
    assert not list((cfn.state_dir / "lambda").glob("*/*"))


def test_cli_runs_share_state_between_processes_style_invocations(
    app: App,
    s3_server: MotoS3Server,
    state_dir: Path,
    s3: S3Client,
    journal_bucket: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN an assembly and the CLI arguments a user would type
    assembly = app.synth(AppVersion())
    common = ["--state-dir", str(state_dir), "--s3-endpoint", s3_server.endpoint_url]

    # WHEN deploy, an update and destroy run as separate CLI invocations
    assert cli_main(["deploy", str(assembly), *common, "--lambda-retries", "0"]) == 0
    updated = app.synth(AppVersion(thing_extra="z"))
    assert cli_main(["deploy", str(updated), "StackA", *common]) == 0
    failing = app.synth(AppVersion(other_fail=True, other_name="o9"))
    assert cli_main(["deploy", str(failing), *common, "--lambda-retries", "0"]) == 1
    assert cli_main(["destroy", str(updated), *common]) == 0

    # THEN each run found what the previous one left
    requests = summary(journal(s3, journal_bucket))
    assert ("Update", "Thing", "thing-t1") in requests
    # (the CLI runs independent resources in parallel: Thing and Other in either order)
    assert requests[-3] == ("Delete", "Consumer", "thing-consumer-t1")
    assert sorted(requests[-2:]) == [
        ("Delete", "Other", "thing-o1"),
        ("Delete", "Thing", "thing-t1"),
    ]
    captured = capsys.readouterr()
    assert "deployment failed: Stack StackA: Other failed" in captured.err
    assert json.loads((state_dir / "state.json").read_text())["stacks"] == {}


def test_unchanged_redeploy_sends_nothing(
    app: App, cfn: LocalCloudFormation, deployed: Path, s3: S3Client, journal_bucket: str
) -> None:
    # GIVEN deployed stacks
    before = len(journal(s3, journal_bucket))

    # WHEN the same assembly is deployed again
    summaries = cfn.deploy(deployed)

    # THEN no handler runs and both stacks report no changes
    assert len(journal(s3, journal_bucket)) == before
    assert [s.changed for s in summaries] == [False, False]
    assert replace(summaries[0], changed=True).status == "CREATE_COMPLETE"
