"""The local CloudFormation API endpoint: DescribeStacks as boto3 and botocore's model expect it."""

from __future__ import annotations

import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.model import StructureShape

from codeartifact_generic.testing._local_deploy.cloudformation_api import (
    XML_NAMESPACE,
    CloudFormationEndpoint,
    StackDirectory,
)
from codeartifact_generic.testing._local_deploy.state import OutputState, StackState

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

STACK_ID = (
    "arn:aws:cloudformation:us-east-1:123456789012:stack/Shop/6a1f2b3c-0000-4000-8000-000000000001"
)
NS = {"cfn": XML_NAMESPACE}


def shop(status: str = "UPDATE_IN_PROGRESS", stack_id: str = STACK_ID) -> StackState:
    """A recorded stack with parameters (one read from SSM), outputs and an export."""
    return StackState(
        stack_name="Shop",
        stack_id=stack_id,
        status=status,
        status_reason="User Initiated",
        template={
            "Description": "A shop <with> & markup",
            "Parameters": {
                "BootstrapVersion": {"Type": "AWS::SSM::Parameter::Value<String>"},
                "Zones": {"Type": "CommaDelimitedList"},
            },
        },
        parameters={"BootstrapVersion": "30", "Zones": ["a", "b"]},
        parameter_inputs={"BootstrapVersion": "/cdk-bootstrap/hnb659fds/version", "Zones": "a,b"},
        outputs={
            "Revision": OutputState("r-1 <&>", export_name="Shop:Revision", description="rev"),
            "Plain": OutputState("p"),
        },
        creation_time="2026-01-02T03:04:05.678Z",
        last_updated_time="2026-01-03T00:00:00.000Z",
    )


@pytest.fixture
def directory() -> StackDirectory:
    return StackDirectory([shop()])


@pytest.fixture
def endpoint(directory: StackDirectory) -> Iterator[CloudFormationEndpoint]:
    with CloudFormationEndpoint(directory) as server:
        yield server


@pytest.fixture
def client(endpoint: CloudFormationEndpoint) -> CloudFormationClient:
    return boto3.client(
        "cloudformation",
        endpoint_url=endpoint.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_describe_stacks_by_name_and_by_id_returns_every_documented_member(
    client: CloudFormationClient,
) -> None:
    # GIVEN a stack recorded while its update runs

    # WHEN boto3 describes it by name and by stack id
    by_name = client.describe_stacks(StackName="Shop")["Stacks"]
    by_id = client.describe_stacks(StackName=STACK_ID)["Stacks"]

    # THEN both answer the same single stack, parsed by botocore into typed members
    assert by_name == by_id
    (stack,) = by_name
    assert stack["StackId"] == STACK_ID
    assert stack["StackName"] == "Shop"
    assert stack["StackStatus"] == "UPDATE_IN_PROGRESS"
    assert stack["StackStatusReason"] == "User Initiated"
    assert stack.get("Description") == "A shop <with> & markup"
    assert stack["CreationTime"] == datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert stack.get("LastUpdatedTime") == datetime(2026, 1, 3, tzinfo=UTC)
    assert "DeletionTime" not in stack
    assert stack.get("Outputs") == [
        {
            "OutputKey": "Revision",
            "OutputValue": "r-1 <&>",
            "Description": "rev",
            "ExportName": "Shop:Revision",
        },
        {"OutputKey": "Plain", "OutputValue": "p"},
    ]
    # an SSM-typed parameter shows the parameter name and the value it resolved to
    assert stack.get("Parameters") == [
        {
            "ParameterKey": "BootstrapVersion",
            "ParameterValue": "/cdk-bootstrap/hnb659fds/version",
            "ResolvedValue": "30",
        },
        {"ParameterKey": "Zones", "ParameterValue": "a,b"},
    ]


def test_status_changes_are_visible_at_once(
    client: CloudFormationClient, directory: StackDirectory
) -> None:
    # GIVEN the endpoint answered UPDATE_IN_PROGRESS
    assert client.describe_stacks(StackName=STACK_ID)["Stacks"][0]["StackStatus"] == (
        "UPDATE_IN_PROGRESS"
    )

    # WHEN the engine records the next phase
    directory.publish(shop("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"))

    # THEN the next call sees it
    assert client.describe_stacks(StackName=STACK_ID)["Stacks"][0]["StackStatus"] == (
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"
    )


def test_unknown_stack_is_a_validation_error(client: CloudFormationClient) -> None:
    # GIVEN no stack named Nope

    # WHEN it is described
    with pytest.raises(ClientError) as raised:
        client.describe_stacks(StackName="Nope")

    # THEN CloudFormation's error comes back: a Sender ValidationError, HTTP 400
    error = raised.value.response
    assert error["Error"] == {
        "Type": "Sender",
        "Code": "ValidationError",
        "Message": "Stack with id Nope does not exist",
    }
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["ResponseMetadata"]["RequestId"]


def test_deleted_stack_is_gone_by_name_but_delete_complete_by_id(
    client: CloudFormationClient, directory: StackDirectory
) -> None:
    # GIVEN the stack was deleted
    directory.remove("Shop")

    # WHEN it is described by name THEN it does not exist
    with pytest.raises(ClientError, match="Stack with id Shop does not exist"):
        client.describe_stacks(StackName="Shop")

    # WHEN it is described by its stack id THEN it is DELETE_COMPLETE, with a DeletionTime
    (stack,) = client.describe_stacks(StackName=STACK_ID)["Stacks"]
    assert stack["StackStatus"] == "DELETE_COMPLETE"
    assert "DeletionTime" in stack
    # AND listing all stacks leaves it out
    assert client.describe_stacks()["Stacks"] == []

    # WHEN a new stack of the same name is created THEN the name finds the new one and the
    # old id still finds the deleted one
    new_id = STACK_ID.replace("000000000001", "000000000002")
    directory.publish(shop("CREATE_IN_PROGRESS", stack_id=new_id))
    assert client.describe_stacks(StackName="Shop")["Stacks"][0]["StackId"] == new_id
    assert client.describe_stacks(StackName=STACK_ID)["Stacks"][0]["StackStatus"] == (
        "DELETE_COMPLETE"
    )


def test_other_actions_are_refused_clearly(client: CloudFormationClient) -> None:
    # GIVEN an action the local endpoint does not implement

    # WHEN boto3 calls it
    with pytest.raises(ClientError) as raised:
        client.list_stacks()

    # THEN the error names the action and what is supported
    error = raised.value.response["Error"]
    assert error["Code"] == "InvalidAction"
    assert "ListStacks" in error["Message"]
    assert "DescribeStacks, DescribeStackEvents, DescribeStackResource" in error["Message"]
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def _post(url: str, body: str) -> tuple[int, ET.Element]:
    request = urllib.request.Request(
        url,
        data=body.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, ET.fromstring(response.read())
    except urllib.error.HTTPError as error:
        return error.code, ET.fromstring(error.read())


def test_raw_xml_follows_the_query_protocol_and_botocores_model(
    endpoint: CloudFormationEndpoint,
) -> None:
    # GIVEN botocore's model of CloudFormation (the contract boto3 parses against)
    model = botocore.session.get_session().get_service_model("cloudformation")
    operation = model.operation_model("DescribeStacks")
    stack_shape = model.shape_for("Stack")
    output_shape = model.shape_for("Output")
    assert isinstance(stack_shape, StructureShape)
    assert isinstance(output_shape, StructureShape)
    assert model.metadata["protocol"] == "query"
    assert model.metadata["xmlNamespace"] == XML_NAMESPACE
    assert operation.http["method"] == "POST"
    assert operation.output_shape is not None
    assert operation.output_shape.serialization["resultWrapper"] == "DescribeStacksResult"

    # WHEN the form-encoded request botocore sends is posted by hand
    status, root = _post(
        endpoint.url, f"Action=DescribeStacks&Version={model.api_version}&StackName=Shop"
    )

    # THEN the document is DescribeStacksResponse/DescribeStacksResult/Stacks/member in the
    # CloudFormation namespace, with a RequestId
    assert status == 200
    assert root.tag == f"{{{XML_NAMESPACE}}}DescribeStacksResponse"
    members = root.findall("cfn:DescribeStacksResult/cfn:Stacks/cfn:member", NS)
    assert len(members) == 1
    assert root.findtext("cfn:ResponseMetadata/cfn:RequestId", namespaces=NS)
    # AND every element of the stack is a member of the model's Stack shape, the required ones
    # are there, and lists use <member> items
    names = [child.tag.split("}", 1)[1] for child in members[0]]
    assert set(names) <= set(stack_shape.members), set(names) - set(stack_shape.members)
    assert set(stack_shape.required_members) <= set(names)
    outputs = members[0].findall("cfn:Outputs/cfn:member", NS)
    assert [o.findtext("cfn:OutputKey", namespaces=NS) for o in outputs] == ["Revision", "Plain"]
    for output in outputs:
        assert {c.tag.split("}", 1)[1] for c in output} <= set(output_shape.members)

    # WHEN a stack that does not exist is asked for
    status, error = _post(endpoint.url, "Action=DescribeStacks&Version=2010-05-15&StackName=X")

    # THEN it is an ErrorResponse with HTTP 400
    assert status == 400
    assert error.tag == f"{{{XML_NAMESPACE}}}ErrorResponse"
    assert error.findtext("cfn:Error/cfn:Type", namespaces=NS) == "Sender"
    assert error.findtext("cfn:Error/cfn:Code", namespaces=NS) == "ValidationError"
    assert error.findtext("cfn:Error/cfn:Message", namespaces=NS) == (
        "Stack with id X does not exist"
    )
    assert error.findtext("cfn:RequestId", namespaces=NS)
