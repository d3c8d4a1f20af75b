"""Intrinsic functions, conditions and dependency analysis, without any server."""

from __future__ import annotations

from typing import Any

import pytest

from codeartifact_generic.testing._local_deploy.intrinsics import (
    NO_VALUE,
    PseudoParameters,
    ResolutionError,
    Resolver,
    references,
    resource_dependencies,
    topological_order,
)


class FakeSource:
    """Resources ``Bucket`` and ``Custom``, export ``Shared``, SSM parameter ``/p``, output
    ``Revision`` of stack ``Producer``."""

    def __init__(self) -> None:
        self.imported: list[str] = []
        self.outputs_read: list[tuple[str, str]] = []

    def ref(self, logical_id: str) -> Any:
        refs = {"Bucket": "my-bucket", "Custom": "phys-1"}
        if logical_id not in refs:
            raise ResolutionError(f"Unresolved resource dependencies [{logical_id}]")
        return refs[logical_id]

    def get_att(self, logical_id: str, attribute: str) -> Any:
        attributes = {
            ("Bucket", "Arn"): "arn:aws:s3:::my-bucket",
            ("Custom", "Revision"): "7",
            ("Custom", "Endpoint.Address"): "host.local",
        }
        if (logical_id, attribute) not in attributes:
            raise ResolutionError(f"no attribute {logical_id}.{attribute}")
        return attributes[(logical_id, attribute)]

    def import_value(self, export_name: str) -> Any:
        if export_name != "Shared":
            raise ResolutionError(f"No export named {export_name} found.")
        self.imported.append(export_name)
        return "shared-value"

    def stack_output(self, stack_name: str, output_name: str) -> Any:
        if stack_name != "Producer":
            raise ResolutionError(f"Stack with id {stack_name} does not exist")
        if output_name != "Revision":
            raise ResolutionError(f"Output {output_name} does not exist in stack {stack_name}")
        self.outputs_read.append((stack_name, output_name))
        return "rev-9"

    def dynamic_reference(self, service: str, key: str) -> str:
        assert service == "ssm"
        return {"/p": "from-ssm"}[key]


@pytest.fixture
def source() -> FakeSource:
    return FakeSource()


@pytest.fixture
def resolver(source: FakeSource) -> Resolver:
    return Resolver(
        pseudo=PseudoParameters(
            account_id="123456789012",
            region="eu-west-1",
            stack_name="Demo",
            stack_id="arn:aws:cloudformation:eu-west-1:123456789012:stack/Demo/abc",
        ),
        parameters={"Env": "prod", "Names": ["a", "b", "c"], "Count": "3"},
        source=source,
        conditions={
            "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
            "IsDev": {"Fn::Not": [{"Condition": "IsProd"}]},
            "WeakCondition": {
                "Fn::Equals": [
                    {"Fn::GetStackOutput": {"StackName": "Producer", "OutputName": "Revision"}},
                    "rev-9",
                ]
            },
            "ProdInEu": {
                "Fn::And": [
                    {"Condition": "IsProd"},
                    {"Fn::Or": [{"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]}, False]},
                ]
            },
        },
        mappings={"Sizes": {"prod": {"Memory": 1024}}},
    )


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ({"Ref": "Bucket"}, "my-bucket"),
        ({"Ref": "Env"}, "prod"),
        ({"Ref": "AWS::AccountId"}, "123456789012"),
        ({"Ref": "AWS::Region"}, "eu-west-1"),
        ({"Ref": "AWS::Partition"}, "aws"),
        ({"Ref": "AWS::StackName"}, "Demo"),
        ({"Ref": "AWS::StackId"}, "arn:aws:cloudformation:eu-west-1:123456789012:stack/Demo/abc"),
        ({"Ref": "AWS::URLSuffix"}, "amazonaws.com"),
        ({"Fn::GetAtt": ["Bucket", "Arn"]}, "arn:aws:s3:::my-bucket"),
        ({"Fn::GetAtt": "Custom.Revision"}, "7"),
        ({"Fn::GetAtt": "Custom.Endpoint.Address"}, "host.local"),
        ({"Fn::GetAtt": ["Custom", {"Fn::Join": ["", ["Revi", "sion"]]}]}, "7"),
        ({"Fn::Sub": "${Bucket}/${AWS::Region}/${Custom.Revision}"}, "my-bucket/eu-west-1/7"),
        ({"Fn::Sub": "${!Literal}-${Env}"}, "${Literal}-prod"),
        ({"Fn::Sub": ["${A}-${Bucket}", {"A": {"Ref": "Env"}}]}, "prod-my-bucket"),
        ({"Fn::Join": [":", ["a", {"Ref": "Env"}, 3, True]]}, "a:prod:3:true"),
        ({"Fn::Join": [",", {"Ref": "Names"}]}, "a,b,c"),
        ({"Fn::Select": ["1", {"Ref": "Names"}]}, "b"),
        ({"Fn::Select": [2, {"Fn::Split": ["/", "x/y/z"]}]}, "z"),
        ({"Fn::Split": [",", "a,b"]}, ["a", "b"]),
        ({"Fn::ImportValue": "Shared"}, "shared-value"),
        ({"Fn::ImportValue": {"Fn::Sub": "Sha${!x}"}}, None),
        ({"Fn::If": ["IsProd", "big", "small"]}, "big"),
        ({"Fn::If": ["IsDev", "big", "small"]}, "small"),
        ({"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Memory"]}, 1024),
        ({"Fn::Base64": "hi"}, "aGk="),
        ({"Fn::GetAZs": ""}, ["eu-west-1a", "eu-west-1b", "eu-west-1c"]),
        ({"Fn::Select": [0, {"Fn::GetAZs": {"Ref": "AWS::Region"}}]}, "eu-west-1a"),
        # the shape CDK synthesizes for a weak reference: Region is the consumer's own region
        (
            {
                "Fn::GetStackOutput": {
                    "StackName": "Producer",
                    "Region": {"Ref": "AWS::Region"},
                    "OutputName": "Revision",
                }
            },
            "rev-9",
        ),
        ({"Fn::GetStackOutput": {"StackName": "Producer", "OutputName": "Revision"}}, "rev-9"),
        # … and for another account: a role to assume (accepted; there is no IAM locally)
        (
            {
                "Fn::GetStackOutput": {
                    "StackName": {"Fn::Join": ["", ["Prod", "ucer"]]},
                    "Region": "eu-west-1",
                    "RoleArn": {
                        "Fn::Join": [
                            "",
                            ["arn:", {"Ref": "AWS::Partition"}, ":iam::111111111111:role/Read"],
                        ]
                    },
                    "OutputName": "Revision",
                }
            },
            "rev-9",
        ),
        (
            {
                "Fn::Join": [
                    "@",
                    [
                        "mycli",
                        {"Fn::GetStackOutput": {"StackName": "Producer", "OutputName": "Revision"}},
                    ],
                ]
            },
            "mycli@rev-9",
        ),
    ],
)
def test_resolves_intrinsic_functions(resolver: Resolver, expression: Any, expected: Any) -> None:
    # GIVEN an expression WHEN it is resolved THEN it has CloudFormation's value
    if expected is None:
        with pytest.raises(ResolutionError, match=r"No export named Sha\$\{x\} found"):
            resolver.resolve(expression)
        return
    assert resolver.resolve(expression) == expected


def test_no_value_removes_keys_and_list_items(resolver: Resolver) -> None:
    # GIVEN properties with AWS::NoValue behind conditions
    properties = {
        "Keep": "yes",
        "Drop": {"Fn::If": ["IsDev", "dev-only", {"Ref": "AWS::NoValue"}]},
        "List": ["a", {"Fn::If": ["IsProd", {"Ref": "AWS::NoValue"}, "b"]}, "c"],
    }

    # WHEN resolved
    resolved = resolver.resolve(properties)

    # THEN the NoValue key and list item are gone
    assert resolved == {"Keep": "yes", "List": ["a", "c"]}
    assert resolver.resolve({"Ref": "AWS::NoValue"}) is NO_VALUE


def test_conditions_combine(resolver: Resolver) -> None:
    # GIVEN conditions built from Equals/Not/And/Or/Condition WHEN evaluated THEN consistent
    assert resolver.condition("IsProd") is True
    assert resolver.condition("IsDev") is False
    assert resolver.condition("ProdInEu") is True
    assert resolver.evaluate_condition({"Fn::Contains": [["1", "2"], {"Ref": "Count"}]}) is False
    assert resolver.evaluate_condition(
        {"Fn::Not": [{"Fn::Contains": [["1", "2", "3", "4", "5"], "30"]}]}
    )


def test_dynamic_references_are_replaced_inside_strings(resolver: Resolver) -> None:
    # GIVEN a property with an SSM dynamic reference inside a larger string
    value = {"Fn::Sub": "value={{resolve:ssm:/p}};env=${Env}"}

    # WHEN resolved as resource properties
    resolved = resolver.resolve_properties({"V": value})

    # THEN the reference is replaced by the parameter's value
    assert resolved == {"V": "value=from-ssm;env=prod"}


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ({"Ref": "Missing"}, "Unresolved resource dependencies"),
        ({"Fn::Select": [5, ["a"]]}, "index out of bounds|nonexistent value"),
        ({"Fn::Cidr": ["10.0.0.0/16", 2, 8]}, "unsupported intrinsic function Fn::Cidr"),
        ({"Fn::If": ["Nope", 1, 2]}, "Unresolved condition dependency Nope"),
        ({"Fn::Join": [",", "not-a-list"]}, "Fn::Join expects a list"),
        ({"Fn::Sub": "${Names}"}, "expected a string"),
        (
            {"Fn::GetStackOutput": {"StackName": "Gone", "OutputName": "Revision"}},
            "Stack with id Gone does not exist",
        ),
        (
            {"Fn::GetStackOutput": {"StackName": "Producer", "OutputName": "Nope"}},
            "Output Nope does not exist in stack Producer",
        ),
        (
            {
                "Fn::GetStackOutput": {
                    "StackName": "Producer",
                    "OutputName": "Revision",
                    "Region": "us-west-2",
                }
            },
            r"Producer\.Revision in region us-west-2: only stacks of the local region "
            r"\(eu-west-1\)",
        ),
        ({"Fn::GetStackOutput": {"StackName": "Producer"}}, "OutputName is required"),
        (
            {"Fn::GetStackOutput": {"StackName": "P", "OutputName": "R", "Account": "1"}},
            r"unknown key\(s\) Account",
        ),
        ({"Fn::GetStackOutput": ["Producer", "Revision"]}, "takes a map of StackName"),
        ({"Fn::If": ["WeakCondition", 1, 2]}, "Cannot use Fn::GetStackOutput in Conditions"),
    ],
)
def test_errors_name_the_problem(resolver: Resolver, expression: Any, message: str) -> None:
    # GIVEN an invalid expression WHEN resolved THEN a ResolutionError says what is wrong
    with pytest.raises(ResolutionError, match=message):
        resolver.resolve(expression)


def test_import_value_is_reported_to_the_source(resolver: Resolver, source: FakeSource) -> None:
    # GIVEN/WHEN an import is resolved THEN the source learns which export was used
    resolver.resolve({"Fn::ImportValue": "Shared"})
    assert source.imported == ["Shared"]


def test_stack_output_is_asked_of_the_source_and_records_no_import(
    resolver: Resolver, source: FakeSource
) -> None:
    # GIVEN a weak reference WHEN resolved
    resolver.resolve({"Fn::GetStackOutput": {"StackName": "Producer", "OutputName": "Revision"}})
    # THEN the source was asked for that stack's output, and no export was imported
    assert source.outputs_read == [("Producer", "Revision")]
    assert source.imported == []


def test_stack_output_is_no_resource_dependency() -> None:
    # GIVEN a resource reading another stack's output, as CDK synthesizes a weak reference
    resource = {
        "Properties": {
            "Value": {
                "Fn::GetStackOutput": {
                    "StackName": "Producer",
                    "Region": {"Ref": "AWS::Region"},
                    "RoleArn": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":x"]]},
                    "OutputName": "PublishOutputFnGetAttThingRevisionD1A77571",
                }
            },
            "Other": {
                "Fn::GetStackOutput": {"StackName": {"Ref": "Name"}, "OutputName": "Out"},
            },
        }
    }
    # WHEN its dependencies are extracted
    found = resource_dependencies(resource, parameters={"Name"})
    # THEN it depends on no resource of its own stack (the output name is the producer's)
    assert found == set()
    # AND a resource an argument refers to would still count
    assert references(
        {"Fn::GetStackOutput": {"StackName": {"Fn::GetAtt": ["Nested", "Name"]}, "OutputName": "O"}}
    ) == {"Nested"}


def test_references_find_ref_getatt_sub_but_not_parameters_or_pseudo() -> None:
    # GIVEN properties referring to resources in every way, plus parameters and pseudo params
    properties = {
        "A": {"Ref": "Bucket"},
        "B": {"Fn::GetAtt": ["Role", "Arn"]},
        "C": {"Fn::GetAtt": "Queue.Url"},
        "D": {"Fn::Sub": "${Topic}-${Fn.Arn}-${AWS::Region}-${Env}-${!Skip}-${Var}"},
        "E": {"Fn::Sub": ["${Var}", {"Var": {"Ref": "Table"}}]},
        "F": {"Fn::If": ["Cond", {"Ref": "Left"}, {"Ref": "Right"}]},
        "G": {"Ref": "AWS::NoValue"},
    }

    # WHEN the dependencies are extracted
    found = references(properties, parameters={"Env"})

    # THEN every resource is found, nothing else
    assert found == {"Bucket", "Role", "Queue", "Topic", "Fn", "Var", "Table", "Left", "Right"}
    assert resource_dependencies({"Properties": {"X": {"Ref": "A"}}, "DependsOn": ["B", "C"]}) == {
        "A",
        "B",
        "C",
    }
    assert resource_dependencies({"Properties": {}, "DependsOn": "Only"}) == {"Only"}


def test_topological_order_keeps_template_order_and_detects_cycles() -> None:
    # GIVEN resources with dependencies WHEN ordered THEN dependencies come first, ties stable
    order = topological_order(
        ["Custom", "Fn", "Role", "Param"],
        {"Custom": {"Fn"}, "Fn": {"Role"}, "Param": {"Custom", "Elsewhere"}},
    )
    assert order == ["Role", "Fn", "Custom", "Param"]

    # GIVEN a cycle WHEN ordered THEN CloudFormation's error
    with pytest.raises(ResolutionError, match=r"Circular dependency between resources: \[A, B\]"):
        topological_order(["A", "B"], {"A": {"B"}, "B": {"A"}})
