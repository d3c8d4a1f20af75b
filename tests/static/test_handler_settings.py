"""The gates hold for the handler settings too: a handler in a VPC, on a role of the user's.

Two stacks the library apps do not cover: a handler in a VPC with its own role (which then
carries ``AWSLambdaVPCAccessExecutionRole``, acknowledged for cdk-nag with a reason) and one on
a role of the user's with a short, destroyed log group. Both pass cfn-lint without a finding
(no W3005 on the user's role either) and cdk-nag without an unacknowledged one.
"""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import ManualArgs, lint_file

from codeartifact_generic import GenericPackageVersion, PackageAsset

from .apps import ENV, FAST_CONTEXT
from .conftest import Synthesized, synthesize
from .test_cfn_lint import REGIONS


def _versions(stack: cdk.Stack, **settings: object) -> None:
    for n in range(2):
        GenericPackageVersion(
            stack,
            f"Tool{n}",
            domain="my-domain",
            repository="my-repo",
            namespace="tools",
            package=f"tool{n}",
            version="1.0.0",
            assets=[PackageAsset.from_data("tool.txt", f"tool {n}")],
            **settings,  # type: ignore[arg-type]
        )


@pytest.fixture(scope="module")
def settings_app(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    outdir = tmp_path_factory.mktemp("settings") / "cdk.out"
    app = cdk.App(outdir=str(outdir), context=FAST_CONTEXT)
    in_vpc = cdk.Stack(app, "InVpc", env=ENV)
    vpc = ec2.Vpc.from_vpc_attributes(
        in_vpc,
        "Vpc",
        vpc_id="vpc-0123456789abcdef0",
        availability_zones=["us-east-1a", "us-east-1b"],
        isolated_subnet_ids=["subnet-0123456789abcdef1", "subnet-0123456789abcdef2"],
    )
    _versions(in_vpc, vpc=vpc)
    own_role = cdk.Stack(app, "OwnRole", env=ENV)
    role = iam.Role(own_role, "Publisher", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    _versions(
        own_role,
        role=role,
        log_retention=logs.RetentionDays.ONE_WEEK,
        log_removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    return synthesize(app, outdir)


def test_handler_settings_templates_are_cfn_lint_clean(settings_app: Synthesized) -> None:
    templates = sorted(settings_app.outdir.glob("*.template.json"))
    assert [p.name for p in templates] == ["InVpc.template.json", "OwnRole.template.json"]
    findings = [
        f"{path.name}: {m.rule.id} {m.message} at {m.path}"
        for path in templates
        for m in lint_file(path, ManualArgs(regions=REGIONS))
    ]
    assert not findings, "\n".join(findings)


def test_handler_settings_have_no_unacknowledged_nag_finding(settings_app: Synthesized) -> None:
    assert settings_app.nag_failure is None, settings_app.nag_failure
    violations = AwsSolutionsChecks().validate_scope(settings_app.app).violations
    assert not violations, [(v.rule_name, v.description) for v in violations]


def test_the_vpc_handler_role_acknowledges_only_the_vpc_access_policy(
    settings_app: Synthesized,
) -> None:
    template = settings_app.template("InVpc")
    (role,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    assert len(role["Properties"]["ManagedPolicyArns"]) == 1
    rules = role["Metadata"]["cdk_nag"]["rules_to_suppress"]
    assert [(r["id"], r["applies_to"]) for r in rules] == [
        (
            "AwsSolutions-IAM4",
            [
                "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
            ],
        )
    ]
