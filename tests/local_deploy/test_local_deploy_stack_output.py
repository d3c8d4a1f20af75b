"""Weak cross-stack references (``Fn::GetStackOutput``) through the local CloudFormation.

A hand-written two-stack assembly in the shape CDK synthesizes with
``"@aws-cdk/core:defaultCrossStackReferences": "weak"``: ``Producer`` holds the test handler and
a custom resource, and publishes plain outputs (no ``Export``); ``Consumer`` reads them with
``Fn::GetStackOutput`` (its custom resource's ``ServiceToken`` too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from codeartifact_generic.testing._local_deploy.engine import LocalCloudFormation
from codeartifact_generic.testing._local_deploy.stack_update import DeploymentFailed
from codeartifact_generic.testing._s3 import MotoS3Server

from .kit import Assemblies, AssemblyWriter, app_fixture, bootstrap_parameter_and_rule

#: The output name CDK generates for a weak reference to ``Thing.Echo``.
ECHO_OUTPUT = "PublishOutputFnGetAttThingEcho1A2B3C4D"


def _stack_output(output: str, **extra: Any) -> dict[str, Any]:
    return {
        "Fn::GetStackOutput": {
            "StackName": "Producer",
            "Region": {"Ref": "AWS::Region"},
            "OutputName": output,
            **extra,
        }
    }


def producer(writer: AssemblyWriter, bucket: str, name: str, *, echo: bool) -> dict[str, Any]:
    outputs: dict[str, Any] = {"FnArn": {"Value": {"Fn::GetAtt": ["Fn", "Arn"]}}}
    if echo:
        outputs[ECHO_OUTPUT] = {"Value": {"Fn::GetAtt": ["Thing", "Echo"]}}
    return {
        **bootstrap_parameter_and_rule(),
        "Resources": {
            "FnRole": writer.role(),
            "Fn": writer.function({"JOURNAL_BUCKET": bucket}),
            "Thing": {
                "Type": "Custom::Thing",
                "Properties": {"ServiceToken": {"Fn::GetAtt": ["Fn", "Arn"]}, "Name": name},
            },
        },
        "Outputs": outputs,
    }


def consumer(region: Any, release: str) -> dict[str, Any]:
    echo = _stack_output(ECHO_OUTPUT)
    echo["Fn::GetStackOutput"]["Region"] = region
    return {
        **bootstrap_parameter_and_rule(),
        "Resources": {
            "Uses": {
                "Type": "AWS::CloudFormation::CustomResource",
                "Properties": {
                    "ServiceToken": _stack_output(
                        "FnArn",
                        # another account's role to assume: accepted, there is no IAM locally
                        RoleArn={
                            "Fn::Join": [
                                "",
                                ["arn:", {"Ref": "AWS::Partition"}, ":iam::123456789012:role/R"],
                            ]
                        },
                    ),
                    # ``release``: a plain value in the consumer's own template
                    "Name": {"Fn::Join": ["-", ["consumer", release, echo]]},
                },
            }
        },
        "Outputs": {"UsedEcho": {"Value": {"Fn::GetAtt": ["Uses", "Echo"]}}},
    }


class App(Assemblies):
    """Writes one assembly directory per deployment."""

    def synth(
        self,
        name: str = "v1",
        *,
        release: str | None = None,
        echo: bool = True,
        region: Any = None,
        with_consumer: bool = True,
    ) -> Path:
        writer = self.writer()
        writer.stacks["Producer"] = producer(writer, self.bucket, name, echo=echo)
        if with_consumer:
            writer.stacks["Consumer"] = consumer(region or {"Ref": "AWS::Region"}, release or name)
            writer.dependencies["Consumer"] = ["Producer"]
        return writer.write()


app = app_fixture(App)


@pytest.fixture
def cfn(state_dir: Path, s3_server: MotoS3Server) -> Any:
    with LocalCloudFormation(
        state_dir, s3_endpoint=s3_server.endpoint_url, lambda_retries=0
    ) as engine:
        yield engine


def test_weak_reference_reads_the_output_and_lets_the_producer_change_it(
    app: App, cfn: LocalCloudFormation
) -> None:
    # GIVEN a consumer reading the producer's outputs through Fn::GetStackOutput
    first = cfn.deploy(app.synth("v1"))
    assert [s.status for s in first] == ["CREATE_COMPLETE", "CREATE_COMPLETE"]
    assert cfn.outputs("Consumer") == {"UsedEcho": "consumer-v1-v1"}
    # AND no export exists or is recorded as imported
    assert first[0].exports == {}
    consumer_state = cfn.stack("Consumer")
    assert consumer_state is not None and consumer_state.imports == []

    # WHEN the producer's output changes (its resource is replaced) and both are deployed,
    # the consumer's template changing too (as a version bump changes a literal version)
    second = cfn.deploy(app.synth("v2"))

    # THEN nothing blocks the producer, and the consumer reads the new value
    assert [s.status for s in second] == ["UPDATE_COMPLETE", "UPDATE_COMPLETE"]
    assert cfn.outputs("Producer")[ECHO_OUTPUT] == "v2"
    assert cfn.outputs("Consumer") == {"UsedEcho": "consumer-v2-v2"}


def test_consumer_whose_template_did_not_change_keeps_the_value_it_read(
    app: App, cfn: LocalCloudFormation
) -> None:
    # GIVEN both stacks deployed
    cfn.deploy(app.synth("v1", release="r"))
    # WHEN only the producer's output changes (the consumer's template is the same)
    second = cfn.deploy(app.synth("v2", release="r"))
    # THEN the consumer is not updated ("No updates are to be performed", and `cdk deploy`
    # skips an unchanged template): it still holds the value it read when it last deployed
    assert [s.changed for s in second] == [True, False]
    assert cfn.outputs("Consumer") == {"UsedEcho": "consumer-r-v1"}
    # AND its next update reads the current value
    cfn.deploy(app.synth("v2", release="r2"))
    assert cfn.outputs("Consumer") == {"UsedEcho": "consumer-r2-v2"}


def test_producer_may_drop_a_read_output_and_the_consumer_then_fails_clearly(
    app: App, cfn: LocalCloudFormation
) -> None:
    # GIVEN both stacks deployed
    cfn.deploy(app.synth("v1"))
    # WHEN the producer alone drops the output the consumer reads (no export pins it)
    [dropped] = cfn.deploy(app.synth("v2", echo=False), ["Producer"], exclusively=True)
    assert dropped.status == "UPDATE_COMPLETE"
    # THEN the consumer's next update fails naming the output, and rolls back
    with pytest.raises(DeploymentFailed, match=f"Output {ECHO_OUTPUT} does not exist") as failed:
        cfn.deploy(app.synth("v2", echo=False), ["Consumer"], exclusively=True)
    assert failed.value.stack_name == "Consumer"
    assert cfn.outputs("Consumer") == {"UsedEcho": "consumer-v1-v1"}


def test_consumer_without_its_producer_fails_naming_the_stack(
    app: App, cfn: LocalCloudFormation
) -> None:
    # GIVEN nothing deployed WHEN only the consumer is deployed
    with pytest.raises(DeploymentFailed, match="Stack with id Producer does not exist"):
        cfn.deploy(app.synth(), ["Consumer"], exclusively=True)
    # THEN no stack holds anything
    consumer_state = cfn.stack("Consumer")
    assert consumer_state is None or consumer_state.resources == {}


def test_another_region_is_refused(app: App, cfn: LocalCloudFormation) -> None:
    # GIVEN a consumer reading a stack of another region (the engine plays one region)
    with pytest.raises(DeploymentFailed, match="in region eu-central-1: only stacks of the local"):
        cfn.deploy(app.synth(region="eu-central-1"))


def test_weak_reference_does_not_block_destroying_the_producer(
    app: App, cfn: LocalCloudFormation
) -> None:
    # GIVEN both stacks deployed
    assembly = app.synth()
    cfn.deploy(assembly)
    # WHEN the producer alone is destroyed
    destroyed = cfn.destroy(assembly, ["Producer"], exclusively=True)
    # THEN it goes (an export in use would have refused), the consumer stays
    assert destroyed == ["Producer"]
    assert cfn.stack("Consumer") is not None
