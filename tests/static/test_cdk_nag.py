"""cdk-nag gate: AwsSolutions checks on the example app and on the library's stacks.

Zero findings, errors and warnings alike, unless acknowledged with a reason. Findings that come
from the library are fixed in the library (its own role and log group instead of the
AWSLambdaBasicExecutionRole managed policy, exact resource ARNs); the library itself writes two
kinds of acknowledgment: ``sts:GetServiceBearerToken`` in ``grant_read`` (an action without a
resource type) and AwsSolutions-L1 on the handler (it pins python3.12, the runtime it is tested
on, as the project requires).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from cdk_nag import AwsSolutionsChecks

from .conftest import Synthesized, synthesize

STS_FINDING = "AwsSolutions-IAM5[Resource::*]"


def _describe(violations: Any) -> str:
    return "\n".join(
        f"{v.severity} {v.rule_name} at {[r.construct_path for r in v.violating_resources]}: "
        f"{v.description}"
        for v in violations
    )


def _acknowledgments(app: cdk.App) -> list[tuple[Any, str, str]]:
    """(construct, finding id, reason) of every acknowledgment in ``app``'s construct tree."""
    found = []
    for construct in app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                for key, reason in dict(entry.data).items():
                    finding = (
                        key.split("::", 1)[1] if key.lower().startswith("annotation::") else key
                    )
                    found.append((construct, finding, reason))
    return found


@pytest.mark.parametrize("fixture", ["example_app", "library_app"])
def test_no_unacknowledged_nag_errors_or_warnings(
    request: pytest.FixtureRequest, fixture: str
) -> None:
    # GIVEN an app synthesized with AwsSolutionsChecks registered as a validation plugin
    synthesized: Synthesized = request.getfixturevalue(fixture)
    # THEN synthesis passed the plugin
    assert synthesized.nag_failure is None, synthesized.nag_failure
    # AND a direct check of the synthesized tree reports nothing, warnings included
    violations = AwsSolutionsChecks().validate_scope(synthesized.app).violations
    assert not violations, _describe(violations)


def test_the_nag_gate_is_live(tmp_path: Path) -> None:
    # GIVEN a function on CDK's default role (AWSLambdaBasicExecutionRole) and an old runtime
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    stack = cdk.Stack(app, "Bad")
    lambda_.Function(
        stack,
        "Fn",
        runtime=lambda_.Runtime.PYTHON_3_11,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context): pass"),
    )
    # WHEN it is synthesized the way the gate does it
    synthesized = synthesize(app, tmp_path / "cdk.out")
    # THEN the gate fails, naming the findings
    assert synthesized.nag_failure is not None
    rules = {v.rule_name for v in AwsSolutionsChecks().validate_scope(app).violations}
    assert any(rule.startswith("AwsSolutions-IAM4") for rule in rules), rules
    assert "AwsSolutions-L1" in rules


@pytest.mark.parametrize("fixture", ["example_app", "library_app"])
def test_every_acknowledgment_has_a_specific_reason(
    request: pytest.FixtureRequest, fixture: str
) -> None:
    synthesized: Synthesized = request.getfixturevalue(fixture)
    for construct, finding, reason in _acknowledgments(synthesized.app):
        # a granular finding id (RuleId[finding]) where the rule has findings, and a reason
        # that says why this finding is acceptable here
        assert "[" in finding or not finding.startswith("AwsSolutions-IAM"), finding
        assert len(reason) >= 40, (construct.node.path, finding, reason)


def test_the_library_acknowledges_only_the_bearer_token_wildcard_the_polling_rules_and_the_runtime(
    library_app: Synthesized,
) -> None:
    everything = _acknowledgments(library_app.app)
    runtime = [(c, f, r) for c, f, r in everything if f == "AwsSolutions-L1"]
    polling = [(c, f, r) for c, f, r in everything if ":events:" in f]
    acknowledged = [(c, f, r) for c, f, r in everything if (c, f, r) not in runtime + polling]
    # GIVEN one handler per stack: the pinned runtime is acknowledged on each function only
    assert runtime
    for construct, _, reason in runtime:
        assert isinstance(construct, lambda_.Function), construct.node.path
        assert construct.runtime.name == "python3.12"
        assert "python3.12" in reason
    # AND the polling rules: one finding per version resource, on the handler's polling
    # policy, each a rule ARN whose only wildcard is crhelper's 8-character suffix
    assert polling
    for construct, finding, reason in polling:
        assert isinstance(construct, iam.Policy), construct.node.path
        assert re.fullmatch(
            r"AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:events:[^:*]+:[^:*]+:rule/\w+\*\]",
            finding,
        ), finding
        assert "8 random characters" in reason
    # AND grant_read to two roles (one of them twice): one bearer-token policy per role
    assert len(acknowledged) == 2, [(c.node.path, f) for c, f, _ in acknowledged]
    for construct, finding, reason in acknowledged:
        # THEN each acknowledgment is the IAM5 '*' finding on a policy that holds only
        # sts:GetServiceBearerToken, scoped to CodeArtifact by its condition
        assert finding == STS_FINDING
        assert "sts:GetServiceBearerToken" in reason
        assert isinstance(construct, iam.Policy), construct.node.path
        document = cdk.Stack.of(construct).resolve(construct.document.to_json())
        assert document["Statement"] == [
            {
                "Action": "sts:GetServiceBearerToken",
                "Condition": {"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}},
                "Effect": "Allow",
                "Resource": "*",
            }
        ]


def test_acknowledgments_are_also_readable_by_cdk_nag_2(library_app: Synthesized) -> None:
    # cdk-nag 2 reads suppressions from the resource's "cdk_nag" template metadata
    resources = library_app.template("CrossAccount")["Resources"]
    suppressed = {
        logical_id: resource["Metadata"]["cdk_nag"]["rules_to_suppress"]
        for logical_id, resource in resources.items()
        if "cdk_nag" in resource.get("Metadata", {})
    }
    functions = {k for k in suppressed if resources[k]["Type"] == "AWS::Lambda::Function"}
    assert len(functions) == 1
    assert [r["id"] for r in suppressed.pop(functions.pop())] == ["AwsSolutions-L1"]
    polling = {k for k in suppressed if "PollingPermission" in k}
    assert len(polling) == 1
    assert {r["id"] for r in suppressed.pop(polling.pop())} == {"AwsSolutions-IAM5"}
    assert len(suppressed) == 2, suppressed
    for logical_id, rules in suppressed.items():
        assert resources[logical_id]["Type"] == "AWS::IAM::Policy"
        assert [(r["id"], r["applies_to"]) for r in rules] == [
            ("AwsSolutions-IAM5", ["Resource::*"])
        ]
        assert len(rules[0]["reason"]) >= 40
