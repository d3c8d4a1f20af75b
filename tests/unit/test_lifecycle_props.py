"""Synth-time side of the lifecycle: removal, status, replacement and SSM references."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from codeartifact_generic.handler import contract

from codeartifact_generic import (
    DeleteBehavior,
    GenericPackageVersion,
    PackageAsset,
    PackageVersionReference,
    ValidationError,
    VersionStatus,
)


def _version(stack: cdk.Stack, **kwargs: object) -> GenericPackageVersion:
    return GenericPackageVersion(
        stack,
        "V",
        domain="d1",
        repository="r1",
        namespace="tools",
        package="mycli",
        version="1.0.0",
        assets=[PackageAsset.from_data("a.txt", "x")],
        **kwargs,  # type: ignore[arg-type]
    )


def test_defaults_retain_and_fail_on_other_bytes(stack: cdk.Stack) -> None:
    _version(stack)
    Template.from_stack(stack).has_resource_properties(
        contract.RESOURCE_TYPE,
        {
            "RemovalPolicy": "Retain",
            "OnDelete": "Delete",
            "ReplaceExisting": False,
            "RemoveAdopted": False,
        },
    )


def test_destroy_with_archive_and_opt_ins_are_passed_to_the_handler(stack: cdk.Stack) -> None:
    _version(
        stack,
        status=VersionStatus.UNLISTED,
        removal_policy=cdk.RemovalPolicy.DESTROY,
        on_delete=DeleteBehavior.ARCHIVE,
        replace_existing=True,
        remove_adopted=True,
    )
    Template.from_stack(stack).has_resource_properties(
        contract.RESOURCE_TYPE,
        {
            "Status": "Unlisted",
            "RemovalPolicy": "Destroy",
            "OnDelete": "Archive",
            "ReplaceExisting": True,
            "RemoveAdopted": True,
        },
    )


def test_on_delete_without_destroy_and_snapshot_policy_are_rejected(stack: cdk.Stack) -> None:
    with pytest.raises(ValidationError) as caught:
        _version(stack, removal_policy=cdk.RemovalPolicy.SNAPSHOT, on_delete=DeleteBehavior.DISPOSE)
    assert "removal_policy must be RETAIN or DESTROY, got SNAPSHOT" in str(caught.value)
    assert "on_delete applies only with removal_policy=RemovalPolicy.DESTROY" in str(caught.value)


def test_handler_may_read_only_its_own_stack(stack: cdk.Stack) -> None:
    # GIVEN a stack with a version
    _version(stack)
    # WHEN its handler's policies are read
    statements = [
        s
        for policy in Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if "cloudformation:DescribeStacks" in s["Action"]
    ]
    # THEN one statement reads its own stack: status, events and its resources' status
    assert len(statements) == 1
    assert sorted(statements[0]["Action"]) == [
        "cloudformation:DescribeStackEvents",
        "cloudformation:DescribeStackResource",
        "cloudformation:DescribeStacks",
    ]
    assert statements[0]["Resource"] == {"Ref": "AWS::StackId"}


def test_reference_parameters_carry_version_revision_and_status(stack: cdk.Stack) -> None:
    # GIVEN a version that publishes a reference
    version = _version(stack, reference_parameter_prefix="/releases/mycli")
    template = Template.from_stack(stack)
    # THEN three String parameters hold the version literally and the attributes by GetAtt
    parameters = {
        p["Properties"]["Name"]: p["Properties"]["Value"]
        for p in template.find_resources("AWS::SSM::Parameter").values()
    }
    logical_id = stack.get_logical_id(version.resource.node.default_child)  # type: ignore[arg-type]
    assert parameters == {
        "/releases/mycli/version": "1.0.0",
        "/releases/mycli/revision": {"Fn::GetAtt": [logical_id, "VersionRevision"]},
        "/releases/mycli/status": {"Fn::GetAtt": [logical_id, "Status"]},
    }


def test_consumer_reads_parameters_at_deploy_time_without_exports(tmp_path: Path) -> None:
    # GIVEN a producer stack and a consumer stack using the SSM reference
    app = cdk.App(outdir=str(tmp_path / "out"))
    producer = cdk.Stack(app, "Producer")
    _version(producer, reference_parameter_prefix="/releases/mycli")
    consumer = cdk.Stack(app, "Consumer")
    reference = PackageVersionReference.from_parameters(
        consumer, "Cli", parameter_prefix="/releases/mycli"
    )
    cdk.CfnOutput(consumer, "Revision", value=reference.version_revision)
    # THEN the consumer declares an SSM-typed parameter, and nothing is exported or imported
    consumer_template = Template.from_stack(consumer).to_json()
    (parameter,) = [
        p for name, p in consumer_template["Parameters"].items() if name != "BootstrapVersion"
    ]
    assert parameter == {
        "Type": "AWS::SSM::Parameter::Value<String>",
        "Default": "/releases/mycli/revision",
    }
    assert "Fn::ImportValue" not in json.dumps(consumer_template)
    assert "Export" not in json.dumps(Template.from_stack(producer).to_json().get("Outputs", {}))


@pytest.mark.parametrize("prefix", ["releases/mycli", "/releases/", "/re leases", ""])
def test_bad_reference_prefix_is_rejected(stack: cdk.Stack, prefix: str) -> None:
    with pytest.raises(ValidationError, match="reference_parameter_prefix"):
        _version(stack, reference_parameter_prefix=prefix)
