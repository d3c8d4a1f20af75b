"""Native resources, template validation, policies and template-removal cleanup."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from rich.console import Console

from codeartifact_generic.testing._local_deploy.custom_resources import CustomResourceProvider
from codeartifact_generic.testing._local_deploy.engine import DestroyFailed, LocalCloudFormation
from codeartifact_generic.testing._local_deploy.intrinsics import ResolutionError
from codeartifact_generic.testing._local_deploy.providers import ResourceProvider
from codeartifact_generic.testing._local_deploy.stack_update import DeploymentFailed
from codeartifact_generic.testing._local_deploy.state import ResourceState
from codeartifact_generic.testing._s3 import MotoS3Server

from .kit import crhelper_module

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

INLINE_HANDLER = crhelper_module(
    """
@helper.create
@helper.update
def upsert(event, context):
    helper.Data["Got"] = event["ResourceProperties"].get("Value", "")
    return "inline-" + event["LogicalResourceId"]

@helper.delete
def delete(event, context):
    return None
"""
)


def write_assembly(directory: Path, stacks: dict[str, dict[str, Any]]) -> Path:
    """A manifest with template-only stacks (no assets), in the given order."""
    directory.mkdir(parents=True)
    artifacts: dict[str, Any] = {}
    for name, template in stacks.items():
        (directory / f"{name}.template.json").write_text(json.dumps(template))
        artifacts[name] = {
            "type": "aws:cloudformation:stack",
            "properties": {"templateFile": f"{name}.template.json"},
        }
    (directory / "manifest.json").write_text(
        json.dumps({"version": "55.0.0", "artifacts": artifacts})
    )
    return directory


def test_bucket_is_real_and_a_non_empty_bucket_fails_deletion(
    cfn: LocalCloudFormation, s3: S3Client, tmp_path: Path
) -> None:
    # GIVEN a stack with an S3 bucket (generated name) and a retained SSM parameter
    template = {
        "Resources": {
            "Bucket": {"Type": "AWS::S3::Bucket"},
            "Kept": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Type": "String", "Value": {"Ref": "Bucket"}},
                "DeletionPolicy": "Retain",
            },
        },
        "Outputs": {
            "Name": {"Value": {"Ref": "Bucket"}},
            "Arn": {"Value": {"Fn::GetAtt": ["Bucket", "Arn"]}},
        },
    }
    assembly = write_assembly(tmp_path / "out", {"Store": template})

    # WHEN deployed THEN the bucket exists in S3 with a CloudFormation-style lowercase name
    (summary,) = cfn.deploy(assembly)
    bucket = summary.outputs["Name"]
    assert bucket.startswith("store-bucket-")
    assert summary.outputs["Arn"] == f"arn:aws:s3:::{bucket}"
    s3.head_bucket(Bucket=bucket)

    # WHEN an object is put in it and the stack is destroyed
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(DestroyFailed) as failure:
        cfn.destroy()

    # THEN deletion fails like in AWS and the stack is DELETE_FAILED with the bucket kept
    assert failure.value.logical_id == "Bucket"
    assert "BucketNotEmpty" in failure.value.reason
    stack = cfn.stack("Store")
    assert stack is not None
    assert stack.status == "DELETE_FAILED"
    assert list(stack.resources) == ["Bucket"]

    # WHEN emptied and destroyed again THEN it goes
    s3.delete_object(Bucket=bucket, Key="k")
    assert cfn.destroy() == ["Store"]
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_validation_errors_change_nothing(cfn: LocalCloudFormation, tmp_path: Path) -> None:
    # GIVEN templates with a missing parameter value, an unknown reference, a cycle, a failing
    # rule and an unknown import
    broken: dict[str, dict[str, Any]] = {
        "NoValue": {
            "Parameters": {"Needed": {"Type": "String"}},
            "Resources": {"P": {"Type": "AWS::SSM::Parameter", "Properties": {"Value": "v"}}},
        },
        "BadRef": {
            "Resources": {
                "P": {"Type": "AWS::SSM::Parameter", "Properties": {"Value": {"Ref": "Ghost"}}}
            }
        },
        "Cycle": {
            "Resources": {
                "A": {"Type": "AWS::SSM::Parameter", "Properties": {"Value": {"Ref": "B"}}},
                "B": {"Type": "AWS::SSM::Parameter", "Properties": {"Value": {"Ref": "A"}}},
            }
        },
        "Rule": {
            "Rules": {
                "R": {
                    "Assertions": [
                        {"Assert": {"Fn::Equals": ["a", "b"]}, "AssertDescription": "a is not b"}
                    ]
                }
            },
            "Resources": {"P": {"Type": "AWS::SSM::Parameter", "Properties": {"Value": "v"}}},
        },
        "Import": {
            "Resources": {
                "P": {
                    "Type": "AWS::SSM::Parameter",
                    "Properties": {"Value": {"Fn::ImportValue": "Nope"}},
                }
            }
        },
    }
    expected = {
        "NoValue": "Parameters: [Needed] must have values",
        "BadRef": "Unresolved resource dependencies [Ghost] in the Resources block",
        "Cycle": "Circular dependency between resources: [A, B]",
        "Rule": "a is not b",
        "Import": "No export named Nope found.",
    }
    for name, template in broken.items():
        assembly = write_assembly(tmp_path / name, {name: template})

        # WHEN deployed THEN it fails before touching anything, with CloudFormation's message
        with pytest.raises(DeploymentFailed) as failure:
            cfn.deploy(assembly)
        assert expected[name] in failure.value.reason, name
        assert failure.value.logical_id is None
        assert cfn.stack(name) is None


def test_parameters_conditions_removal_and_inline_code(
    cfn: LocalCloudFormation, tmp_path: Path, output: io.StringIO
) -> None:
    # GIVEN a stack with a parameter, a condition, an inline (ZipFile) function and a custom
    # resource using it
    def template(env: str, with_extra: bool) -> dict[str, Any]:
        resources: dict[str, Any] = {
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Code": {"ZipFile": INLINE_HANDLER},
                    "Handler": "index.handler",
                    "Runtime": "python3.12",
                    "Timeout": 10,
                    "Role": "arn:aws:iam::123456789012:role/r",
                },
            },
            "Echo": {
                "Type": "Custom::Echo",
                "Properties": {
                    "ServiceToken": {"Fn::GetAtt": ["Fn", "Arn"]},
                    "Value": {"Fn::If": ["IsProd", "production", {"Ref": "Env"}]},
                },
            },
            "ProdOnly": {
                "Type": "AWS::SSM::Parameter",
                "Condition": "IsProd",
                "Properties": {
                    "Name": f"/prod-only/{uuid.uuid4().hex}",
                    "Type": "String",
                    "Value": "p",
                },
            },
        }
        if with_extra:
            resources["Extra"] = {
                "Type": "Custom::Echo",
                "Properties": {"ServiceToken": {"Fn::GetAtt": ["Fn", "Arn"]}, "Value": "extra"},
            }
        return {
            "Parameters": {
                "Env": {"Type": "String", "Default": env, "AllowedValues": ["dev", "prod"]}
            },
            "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]}},
            "Resources": resources,
            "Outputs": {"Got": {"Value": {"Fn::GetAtt": ["Echo", "Got"]}}},
        }

    # WHEN deployed with the default (dev) and an extra resource
    (first,) = cfn.deploy(write_assembly(tmp_path / "v1", {"Inline": template("dev", True)}))

    # THEN the condition left ProdOnly out and the inline code ran
    assert first.outputs == {"Got": "dev"}
    stack = cfn.stack("Inline")
    assert stack is not None
    assert set(stack.resources) == {"Fn", "Echo", "Extra"}

    # WHEN redeployed with Env=prod (parameter override) and without Extra
    (second,) = cfn.deploy(
        write_assembly(tmp_path / "v2", {"Inline": template("dev", False)}),
        parameters={"Inline": {"Env": "prod"}},
    )

    # THEN ProdOnly is created, Echo updated, and Extra deleted in the cleanup phase
    assert second.outputs == {"Got": "production"}
    stack = cfn.stack("Inline")
    assert stack is not None
    assert set(stack.resources) == {"Fn", "Echo", "ProdOnly"}
    assert "DELETE (cleanup, removed) Extra (Custom::Echo) ... OK" in output.getvalue()

    # WHEN a value outside AllowedValues is given THEN it is refused up front
    with pytest.raises(DeploymentFailed, match="must be one of AllowedValues"):
        cfn.deploy(
            write_assembly(tmp_path / "v3", {"Inline": template("dev", False)}),
            parameters={"*": {"Env": "staging"}},
        )
    cfn.destroy()


def test_ssm_parameter_names_are_unique_across_stacks(
    cfn: LocalCloudFormation, tmp_path: Path
) -> None:
    # GIVEN two stacks creating the same SSM parameter name
    name = f"/dup/{uuid.uuid4().hex}"
    param = {
        "Type": "AWS::SSM::Parameter",
        "Properties": {"Name": name, "Type": "String", "Value": "v"},
    }
    assembly = write_assembly(
        tmp_path / "out",
        {"First": {"Resources": {"P": param}}, "Second": {"Resources": {"P": param}}},
    )

    # WHEN deployed THEN the second one fails like in AWS and is rolled back
    with pytest.raises(DeploymentFailed) as failure:
        cfn.deploy(assembly)
    assert failure.value.stack_name == "Second"
    assert "already exists" in failure.value.reason
    assert cfn.state.names() == ["First"]


@pytest.mark.parametrize(
    ("partition", "suffix"),
    [("aws", "amazonaws.com"), ("aws-cn", "amazonaws.com.cn"), ("aws-iso", "c2s.ic.gov")],
)
def test_url_suffix_follows_the_partition(
    s3_server: MotoS3Server, console: Console, tmp_path: Path, partition: str, suffix: str
) -> None:
    # GIVEN a stack whose output is AWS::URLSuffix, deployed in ``partition``
    template = {
        "Resources": {"P": {"Type": "AWS::SSM::Parameter", "Properties": {"Value": "v"}}},
        "Outputs": {"Suffix": {"Value": {"Ref": "AWS::URLSuffix"}}},
    }
    assembly = write_assembly(tmp_path / "out", {"Suffix": template})
    with LocalCloudFormation(
        tmp_path / "state",
        s3_endpoint=s3_server.endpoint_url,
        partition=partition,
        console=console,
    ) as engine:
        # WHEN it is deployed
        (summary,) = engine.deploy(assembly)
    # THEN the suffix is the partition's
    assert summary.outputs == {"Suffix": suffix}


def test_a_rule_the_engine_cannot_evaluate_is_skipped_with_a_warning(
    cfn: LocalCloudFormation, output: io.StringIO, tmp_path: Path
) -> None:
    # GIVEN a rule that uses a function the local engine does not evaluate
    template = {
        "Rules": {
            "Unknowable": {
                "Assertions": [{"Assert": {"Fn::ValueOf": ["Param", "VpcId"]}}],
            }
        },
        "Resources": {"P": {"Type": "AWS::SSM::Parameter", "Properties": {"Value": "v"}}},
    }
    # WHEN the stack is deployed
    (summary,) = cfn.deploy(write_assembly(tmp_path / "out", {"Ruled": template}))
    # THEN it deploys, and says which rule it did not check
    assert summary.status == "CREATE_COMPLETE"
    assert "rule Unknowable not checked" in output.getvalue()


@pytest.mark.parametrize(
    ("policy", "kept"), [("Retain", True), ("RetainExceptOnCreate", False), ("Delete", False)]
)
def test_a_rollback_keeps_what_the_failed_create_made_only_under_retain(
    cfn: LocalCloudFormation, s3: S3Client, tmp_path: Path, policy: str, kept: bool
) -> None:
    # GIVEN a new stack: a bucket with ``policy``, then a parameter that fails (no Value)
    bucket = f"rollback-{uuid.uuid4().hex[:12]}"
    template = {
        "Resources": {
            "Bucket": {
                "Type": "AWS::S3::Bucket",
                "DeletionPolicy": policy,
                "Properties": {"BucketName": bucket},
            },
            "Broken": {
                "Type": "AWS::SSM::Parameter",
                "DependsOn": "Bucket",
                "Properties": {"Type": "String"},
            },
        }
    }
    # WHEN it is deployed and rolls back
    with pytest.raises(DeploymentFailed):
        cfn.deploy(write_assembly(tmp_path / "out", {"Rolled": template}))
    # THEN the bucket the failed operation created survives only under Retain
    # (RetainExceptOnCreate deletes what the rolled-back operation created)
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert (bucket in names) is kept
    if kept:
        s3.delete_bucket(Bucket=bucket)  # moto's state is shared by this worker's tests


@pytest.mark.parametrize(
    ("resource_type", "attribute", "exists"),
    [
        ("AWS::IAM::Role", "Arn", True),
        ("AWS::IAM::Role", "RoleId", True),
        ("AWS::IAM::Role", "PolicyArn", False),
        ("AWS::IAM::ManagedPolicy", "PolicyArn", True),
        ("AWS::IAM::ManagedPolicy", "RoleId", False),
        ("AWS::IAM::Policy", "Id", True),
        ("AWS::IAM::Policy", "RoleId", False),
    ],
)
def test_iam_resources_have_the_return_values_of_their_type(
    cfn: LocalCloudFormation, tmp_path: Path, resource_type: str, attribute: str, exists: bool
) -> None:
    # GIVEN an IAM resource and a parameter that reads one of its attributes
    properties: dict[str, Any] = {
        "AWS::IAM::Role": {"AssumeRolePolicyDocument": {}},
        "AWS::IAM::ManagedPolicy": {"PolicyDocument": {}},
        "AWS::IAM::Policy": {"PolicyName": "p", "PolicyDocument": {}},
    }[resource_type]
    template = {
        "Resources": {
            "Iam": {"Type": resource_type, "Properties": properties},
            "Reader": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Type": "String", "Value": {"Fn::GetAtt": ["Iam", attribute]}},
            },
        }
    }
    assembly = write_assembly(tmp_path / "out", {"Iam": template})
    # WHEN it is deployed
    # THEN only the type's own return values resolve
    if exists:
        (summary,) = cfn.deploy(assembly)
        assert summary.status == "CREATE_COMPLETE"
    else:
        with pytest.raises(DeploymentFailed, match=attribute):
            cfn.deploy(assembly)


@pytest.mark.parametrize(
    ("provider", "reason"),
    [
        (
            ResourceProvider(),
            "Template error: resource Thing (Custom::Thing) does not support attribute Missing",
        ),
        (
            CustomResourceProvider(),
            "CustomResource attribute error: Vendor response doesn't contain Missing key in "
            "object Thing (physical id thing-1)",
        ),
    ],
    ids=["resource", "custom-resource"],
)
def test_an_attribute_the_resource_lacks_fails_with_cloudformations_reason(
    provider: ResourceProvider, reason: str
) -> None:
    # GIVEN a resource with one attribute (for a custom resource: one key of its Data)
    resource = ResourceState("Thing", "Custom::Thing", "thing-1", attributes={"Echo": "x"})
    # WHEN Fn::GetAtt reads it, THEN it resolves
    assert provider.get_att(resource, "Echo") == "x"
    # AND reading another fails with the reason CloudFormation gives for that kind of resource
    with pytest.raises(ResolutionError) as failure:
        provider.get_att(resource, "Missing")
    assert str(failure.value) == reason
