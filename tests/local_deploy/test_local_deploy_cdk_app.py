"""A real ``app.synth()`` output (not hand-written) through the local CloudFormation.

The kit itself never imports aws_cdk; this test does, to check that what CDK really emits
(asset manifests, the BootstrapVersion rule, generated export names, SSM parameter types)
deploys, updates with CloudFormation's export rule, and destroys.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from codeartifact_generic.testing._local_deploy.engine import LocalCloudFormation
from codeartifact_generic.testing._local_deploy.stack_update import DeploymentFailed

from .kit import HANDLER_SOURCE, journal, summary

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.slow


def synth(out: Path, code: Path, bucket: str, name: str) -> Path:
    """Two stacks: the producer's custom resource attribute reaches the consumer twice, as a
    strong reference (export/import) and a weak one (SSM parameter)."""
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_ssm as ssm

    app = cdk.App(outdir=str(out), analytics_reporting=False)
    producer = cdk.Stack(app, "Producer")
    function = lambda_.Function(
        producer,
        "Handler",
        runtime=lambda_.Runtime.PYTHON_3_12,
        handler="index.handler",
        code=lambda_.Code.from_asset(str(code)),
        timeout=cdk.Duration.seconds(30),
        environment={"JOURNAL_BUCKET": bucket},
    )
    thing = cdk.CustomResource(
        producer,
        "Thing",
        service_token=function.function_arn,
        resource_type="Custom::Thing",
        properties={"Name": name, "Count": 2},
    )
    ssm.StringParameter(
        producer,
        "Echo",
        parameter_name="/cdk-app-test/echo",
        string_value=thing.get_att_string("Echo"),
    )
    consumer = cdk.Stack(app, "Consumer")
    consumer.add_dependency(producer)
    used = cdk.CustomResource(
        consumer,
        "Used",
        service_token=function.function_arn,
        resource_type="Custom::Thing",
        properties={
            "Name": cdk.Fn.join("-", ["used", thing.get_att_string("Echo")]),
            "Weak": ssm.StringParameter.value_for_string_parameter(consumer, "/cdk-app-test/echo"),
        },
    )
    cdk.CfnOutput(consumer, "Weak", value=used.get_att_string("Weak"))
    cdk.CfnOutput(consumer, "Strong", value=used.get_att_string("Echo"))
    app.synth()
    return out


def test_synthesized_app_deploys_updates_and_destroys(
    tmp_path: Path, cfn: LocalCloudFormation, s3: S3Client, journal_bucket: str
) -> None:
    # GIVEN a real CDK app synthesized with a crhelper handler asset
    code = tmp_path / "code"
    code.mkdir()
    (code / "index.py").write_text(HANDLER_SOURCE)
    first = synth(tmp_path / "out1", code, journal_bucket, "v1")

    # WHEN it is deployed
    summaries = cfn.deploy(first)

    # THEN the strong and the weak reference both carried the producer's attribute
    assert [s.status for s in summaries] == ["CREATE_COMPLETE", "CREATE_COMPLETE"]
    assert summaries[1].outputs == {"Weak": "v1", "Strong": "used-v1"}
    created = journal(s3, journal_bucket)
    assert summary(created) == [("Create", "Thing", None), ("Create", "Used", None)]
    assert created[0]["ResourceProperties"]["Count"] == "2"

    # WHEN the producer's attribute changes
    second = synth(tmp_path / "out2", code, journal_bucket, "v2")
    with pytest.raises(DeploymentFailed) as failure:
        cfn.deploy(second)

    # THEN the strong reference blocks the update, as in AWS (the weak one would not)
    assert failure.value.stack_name == "Producer"
    assert failure.value.reason.startswith("Cannot update export Producer:ExportsOutput")
    assert failure.value.reason.endswith("as it is in use by Consumer")

    # WHEN destroyed THEN the consumer goes first and nothing is left
    assert cfn.destroy(first) == ["Consumer", "Producer"]
    assert summary(journal(s3, journal_bucket))[-2:] == [
        ("Delete", "Used", "thing-used-v1"),
        ("Delete", "Thing", "thing-v1"),
    ]
    assert cfn.state.names() == []
