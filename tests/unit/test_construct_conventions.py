"""The construct behaves like aws-cdk-lib's: props, L1 inputs, imports, removal policies."""

from __future__ import annotations

import dataclasses
import inspect
import pydoc
import re
import warnings
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_codeartifact as codeartifact
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Match, Template
from codeartifact_generic.handler import contract

from codeartifact_generic import (
    GenericPackageVersion,
    GenericPackageVersionProps,
    IPackageVersion,
    PackageAsset,
    PackageVersionAttributes,
    PackageVersionReference,
    ValidationError,
    VersionStatus,
)

from .versions import declare_version as _version

RESOURCE = contract.RESOURCE_TYPE
README = Path(__file__).resolve().parents[2] / "README.md"
#: The handler's construct id (and logical id) in every release so far.
HANDLER_ID = "CodeArtifactGenericPackageVersion6c4d77856ac6423cb1245976300312f1"


def _resource(stack: cdk.Stack, version: GenericPackageVersion) -> dict[str, Any]:
    logical_id = stack.get_logical_id(version.resource.node.default_child)  # type: ignore[arg-type]
    return Template.from_stack(stack).to_json()["Resources"][logical_id]  # type: ignore[no-any-return]


def _function(stack: cdk.Stack) -> tuple[str, dict[str, Any]]:
    (item,) = Template.from_stack(stack).find_resources("AWS::Lambda::Function").items()
    return item


# ------------------------------------------------------------------------------------ props


def test_the_props_are_spelled_once_and_are_the_keyword_arguments() -> None:
    # GIVEN the props dataclass and the construct's signature
    fields = [f.name for f in dataclasses.fields(GenericPackageVersionProps)]
    parameters = inspect.signature(GenericPackageVersion).parameters
    # THEN the construct takes scope and id, then exactly the props, keyword-only, with the
    # props' defaults
    assert list(parameters)[:2] == ["scope", "id"]
    keywords = {n: p for n, p in parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert list(keywords) == fields
    for field in dataclasses.fields(GenericPackageVersionProps):
        expected = (
            inspect.Parameter.empty if field.default is dataclasses.MISSING else field.default
        )
        assert keywords[field.name].default == expected, field.name


def test_help_shows_the_signature_and_the_props_table() -> None:
    text = pydoc.render_doc(GenericPackageVersion, renderer=pydoc.plaintext)
    # the class line carries the real signature, not the jsii metaclass' (*args, **kwargs)
    assert "GenericPackageVersion(scope: 'Construct', id: 'str', /, *, domain:" in text
    assert "(*args" not in text
    table = text[text.index("Props (keyword-only):") :]
    for field in dataclasses.fields(GenericPackageVersionProps):
        assert f"{field.name}: " in table, field.name
        # the first words of its meaning (lines are wrapped)
        assert " ".join(field.metadata["doc"].split()[:3]) in " ".join(table.split()), field.name


def test_the_construct_keeps_the_props_it_was_given(stack: cdk.Stack) -> None:
    assets = [PackageAsset.from_data("a.txt", "a")]
    version = _version(stack, assets=assets, memory_size=2048)
    assert version.props == GenericPackageVersionProps(
        domain="my-domain",
        repository="my-repo",
        namespace="tools",
        package="mycli",
        version="1.0.0",
        assets=assets,
        memory_size=2048,
    )
    # a variant is a dataclasses.replace away
    variant = dataclasses.replace(version.props, version="1.0.1")
    assert variant.version == "1.0.1"
    assert variant.memory_size == 2048


def test_the_readme_documents_every_prop() -> None:
    # GIVEN the README's construct section
    text = README.read_text()
    section = text[text.index("## The construct") : text.index("### What happens at deploy")]
    rows = {
        name
        for line in section.splitlines()
        if line.startswith("| `")
        for name in re.findall(r"`(\w+)`", line.split("|")[1])
    }
    # THEN every prop has a row
    missing = [f.name for f in dataclasses.fields(GenericPackageVersionProps) if f.name not in rows]
    assert not missing, missing


# ------------------------------------------------------------------ CfnDomain / CfnRepository


def _ordering(resource: dict[str, Any]) -> list[str]:
    """A version resource's DependsOn, less the handler's polling policy every version waits
    for (tests/static/test_least_privilege.py)."""
    return [d for d in resource.get("DependsOn", []) if "PollingPermission" not in d]


def test_cfn_domain_and_repository_are_accepted_and_ordered_by_reference(
    stack: cdk.Stack,
) -> None:
    # GIVEN a domain and a repository declared in the stack
    domain = codeartifact.CfnDomain(stack, "Domain", domain_name="my-domain")
    repo = codeartifact.CfnRepository(
        stack, "Repo", domain_name=domain.attr_name, repository_name="my-repo"
    )
    # WHEN the version is given them
    version = _version(stack, domain=domain, repository=repo)
    # THEN it names them with GetAtt, which orders it after both without a DependsOn
    resource = _resource(stack, version)
    domain_id = stack.get_logical_id(domain)
    repo_id = stack.get_logical_id(repo)
    assert resource["Properties"]["Domain"] == {"Fn::GetAtt": [domain_id, "Name"]}
    assert resource["Properties"]["Repository"] == {"Fn::GetAtt": [repo_id, "Name"]}
    assert _ordering(resource) == []
    # AND the domain is owned by the stack's account
    assert stack.resolve(version.domain_owner) == {"Ref": "AWS::AccountId"}


def test_a_cfn_domain_of_another_stack_is_owned_by_that_stacks_account(tmp_path: Path) -> None:
    app = cdk.App(outdir=str(tmp_path / "out"))
    repo_stack = cdk.Stack(
        app, "Repo", env=cdk.Environment(account="111122223333", region="eu-west-1")
    )
    domain = codeartifact.CfnDomain(repo_stack, "Domain", domain_name="shared")
    stack = cdk.Stack(app, "Use", env=cdk.Environment(account="444455556666", region="eu-west-1"))
    version = GenericPackageVersion.from_package_version_attributes(
        stack, "Shared", domain=domain, repository="r1", namespace="n", package="p", version="1"
    )
    assert version.domain_owner == "111122223333"


@pytest.mark.parametrize("declared_after", [False, True])
def test_literal_names_of_a_domain_and_repository_in_the_stack_add_the_dependency(
    stack: cdk.Stack, declared_after: bool
) -> None:
    # GIVEN a version naming its domain and repository with literals, declared before or after
    # them in the same stack
    def declare_repository() -> tuple[codeartifact.CfnDomain, codeartifact.CfnRepository]:
        domain = codeartifact.CfnDomain(stack, "Domain", domain_name="my-domain")
        repo = codeartifact.CfnRepository(
            stack, "Repo", domain_name=domain.attr_name, repository_name="my-repo"
        )
        return domain, repo

    if declared_after:
        version = _version(stack)
        domain, repo = declare_repository()
    else:
        domain, repo = declare_repository()
        version = _version(stack)
    # THEN CloudFormation creates the version after both (no race with the repository)
    depends_on = _resource(stack, version).get("DependsOn", [])
    assert stack.get_logical_id(domain) in depends_on
    assert stack.get_logical_id(repo) in depends_on


def test_other_names_and_other_accounts_get_no_dependency(stack: cdk.Stack) -> None:
    # GIVEN a domain and repository in the stack
    domain = codeartifact.CfnDomain(stack, "Domain", domain_name="my-domain")
    codeartifact.CfnRepository(
        stack, "Repo", domain_name=domain.attr_name, repository_name="my-repo"
    )
    # WHEN versions name another repository, or the same names in another account's domain
    other_repo = _version(stack, "Other", repository="their-repo")
    other_account = _version(stack, "Elsewhere", domain_owner="111122223333")
    # THEN only the domain (same name, same account) orders the first; nothing the second
    assert _ordering(_resource(stack, other_repo)) == [stack.get_logical_id(domain)]
    assert _ordering(_resource(stack, other_account)) == []


# ------------------------------------------------------------------- versions published elsewhere


def test_a_version_published_elsewhere_can_be_granted_to_a_role(stack: cdk.Stack) -> None:
    # GIVEN a version another pipeline publishes
    version = GenericPackageVersion.from_package_version_attributes(
        stack,
        "Upstream",
        domain="shared-domain",
        repository="releases",
        namespace="tools",
        package="mycli",
        version="2.0.0",
        domain_owner="111122223333",
    )
    role = iam.Role(stack, "Reader", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"))
    # WHEN read access is granted
    version.grant_read(role)
    # THEN the role may download from that package in the owner's account, and nothing is
    # created for the version itself (no custom resource, no handler)
    template = Template.from_stack(stack)
    template.resource_count_is(RESOURCE, 0)
    template.resource_count_is("AWS::Lambda::Function", 0)
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": [
                            "codeartifact:DescribePackageVersion",
                            "codeartifact:ListPackageVersionAssets",
                            "codeartifact:GetPackageVersionAsset",
                        ],
                        "Effect": "Allow",
                        "Resource": {
                            "Fn::Join": [
                                "",
                                Match.array_with(
                                    [
                                        Match.string_like_regexp(
                                            ":111122223333:package/shared-domain/releases/"
                                            "generic/tools/mycli"
                                        )
                                    ]
                                ),
                            ]
                        },
                    }
                ]
            }
        },
    )
    # AND it is an IPackageVersion, as a declared version is
    assert isinstance(version, IPackageVersion)
    assert isinstance(_version(stack), IPackageVersion)
    assert version.package_version_arn.endswith("/mycli/2.0.0")


def test_a_version_published_elsewhere_is_validated(stack: cdk.Stack) -> None:
    with pytest.raises(ValidationError) as caught:
        GenericPackageVersion.from_package_version_attributes(
            stack,
            "Bad",
            domain="Bad_Domain",
            repository="r1",
            namespace="n",
            package="p",
            version="1/2",
        )
    assert "TestStack/Bad" in str(caught.value)
    assert len(caught.value.problems) == 2


def test_attributes_are_the_props_identity() -> None:
    # the identity fields are declared once, for both the props and the attributes
    identity = [f.name for f in dataclasses.fields(PackageVersionAttributes)]
    assert identity == [f.name for f in dataclasses.fields(GenericPackageVersionProps)][:6]
    parameters = inspect.signature(GenericPackageVersion.from_package_version_attributes).parameters
    assert list(parameters) == ["scope", "id", *identity]


# ---------------------------------------------------------------------------- SSM references


def test_from_parameters_takes_an_id_like_every_cdk_from(tmp_path: Path) -> None:
    # GIVEN a consumer that reads two producers' parameters under two ids
    app = cdk.App(outdir=str(tmp_path / "out"))
    consumer = cdk.Stack(app, "Consumer")
    cli = PackageVersionReference.from_parameters(consumer, "Cli", parameter_prefix="/rel/cli")
    lib = PackageVersionReference.from_parameters(consumer, "Lib", parameter_prefix="/rel/lib")
    cdk.CfnOutput(consumer, "A", value=cli.version_revision)
    cdk.CfnOutput(consumer, "B", value=lib.version_revision)
    cdk.CfnOutput(consumer, "C", value=lib.status)
    # THEN each read attribute is an SSM-typed parameter under its reference's construct
    parameters = {
        name: p["Default"]
        for name, p in Template.from_stack(consumer).to_json()["Parameters"].items()
        if name != "BootstrapVersion"
    }
    assert sorted(parameters.values()) == [
        "/rel/cli/revision",
        "/rel/lib/revision",
        "/rel/lib/status",
    ]
    assert consumer.node.try_find_child("Cli") is not None
    assert all(name.startswith(("Cli", "Lib")) for name in parameters)


def test_from_parameters_raises_a_validation_error_for_a_bad_prefix(stack: cdk.Stack) -> None:
    with pytest.raises(ValidationError, match="reference_parameter_prefix 'rel/cli'") as caught:
        PackageVersionReference.from_parameters(stack, "Ref", parameter_prefix="rel/cli")
    assert "TestStack/Ref" in str(caught.value)
    assert isinstance(caught.value, ValueError)  # what 0.1 raised: callers catching it still do


def test_from_parameters_without_an_id_still_works_but_is_deprecated(stack: cdk.Stack) -> None:
    with pytest.warns(DeprecationWarning, match="pass a construct id"):
        reference = PackageVersionReference.from_parameters(stack, parameter_prefix="/rel/cli")
    cdk.CfnOutput(stack, "A", value=reference.version_revision)
    (parameter,) = [
        p
        for name, p in Template.from_stack(stack).to_json()["Parameters"].items()
        if name != "BootstrapVersion"
    ]
    assert parameter["Default"] == "/rel/cli/revision"


# --------------------------------------------------------------------------- removal policies


def _fate(stack: cdk.Stack, version: GenericPackageVersion) -> str:
    resource = _resource(stack, version)
    # whatever the version's fate, CloudFormation must send Delete to the handler
    assert resource["DeletionPolicy"] == "Delete"
    assert resource["UpdateReplacePolicy"] == "Delete"
    return str(resource["Properties"]["RemovalPolicy"])


def test_the_default_retains_the_version(stack: cdk.Stack) -> None:
    assert _fate(stack, _version(stack)) == "Retain"


def test_removal_policies_of_a_scope_decide_the_versions_fate(stack: cdk.Stack) -> None:
    # GIVEN a version with the default policy, and the stack's resources set to destroy
    version = _version(stack)
    cdk.RemovalPolicies.of(stack).destroy()
    # THEN the version is destroyed with the stack, like its neighbours (the log group too)
    assert _fate(stack, version) == "Destroy"
    Template.from_stack(stack).has_resource("AWS::Logs::LogGroup", {"DeletionPolicy": "Delete"})


def test_apply_removal_policy_is_the_same_setting_as_the_prop(stack: cdk.Stack) -> None:
    version = _version(stack)
    version.apply_removal_policy(cdk.RemovalPolicy.DESTROY)
    assert _fate(stack, version) == "Destroy"


def test_removal_policies_win_over_the_prop_as_for_any_cdk_resource(stack: cdk.Stack) -> None:
    version = _version(stack, removal_policy=cdk.RemovalPolicy.DESTROY)
    cdk.RemovalPolicies.of(stack).retain()
    assert _fate(stack, version) == "Retain"


def test_missing_removal_policies_fill_only_an_unset_policy(stack: cdk.Stack) -> None:
    unset = _version(stack, "Unset")
    retained = _version(stack, "Kept", version="2", removal_policy=cdk.RemovalPolicy.RETAIN)
    cdk.MissingRemovalPolicies.of(stack).destroy()
    assert _fate(stack, unset) == "Destroy"
    assert _fate(stack, retained) == "Retain"


# -------------------------------------------------------------------------------- the handler


def test_one_plain_function_per_stack_with_the_logical_id_of_every_release(
    stack: cdk.Stack,
) -> None:
    # GIVEN three versions in a stack
    for index in range(3):
        _version(stack, f"V{index}", version=f"1.0.{index}")
    # THEN there is one function, with the logical id earlier releases deployed (a new one
    # would change every version's ServiceToken, which CloudFormation refuses to update)
    logical_id, _ = _function(stack)
    assert logical_id == stack.get_logical_id(stack.node.find_child(HANDLER_ID).node.default_child)  # type: ignore[arg-type]
    assert logical_id.startswith(HANDLER_ID)
    for resource in Template.from_stack(stack).find_resources(RESOURCE).values():
        assert resource["Properties"]["ServiceToken"] == {"Fn::GetAtt": [logical_id, "Arn"]}


def test_the_function_depends_on_its_role_policy_but_not_redundantly_on_its_role(
    stack: cdk.Stack,
) -> None:
    # GIVEN a version (its handler role is referenced by the function's Role GetAtt)
    _version(stack)
    _, function = _function(stack)
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    # THEN the function waits for the role's policy, and does not name the role again (W3005)
    policies = Template.from_stack(stack).find_resources(
        "AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": role_id}]}}
    )
    polling = [p for p in policies if "PollingPermission" in p]
    assert function["DependsOn"] == sorted(set(policies) - set(polling))
    assert role_id not in function["DependsOn"]
    # AND not for the polling policy, which names the function (that would be a cycle)
    assert len(polling) == 1


def test_log_retention_and_removal_are_configurable(stack: cdk.Stack) -> None:
    _version(
        stack,
        log_retention=logs.RetentionDays.ONE_WEEK,
        log_removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    Template.from_stack(stack).has_resource(
        "AWS::Logs::LogGroup",
        {"Properties": {"RetentionInDays": 7}, "DeletionPolicy": "Delete"},
    )


def test_the_log_group_keeps_a_year_and_survives_the_stack_by_default(stack: cdk.Stack) -> None:
    _version(stack)
    Template.from_stack(stack).has_resource(
        "AWS::Logs::LogGroup",
        {"Properties": {"RetentionInDays": 365}, "DeletionPolicy": "Retain"},
    )


def test_a_given_role_runs_the_handler_and_gets_what_it_needs(stack: cdk.Stack) -> None:
    # GIVEN a role of the user's
    role = iam.Role(stack, "Publisher", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    _version(stack, role=role)
    template = Template.from_stack(stack)
    # THEN the function runs as that role and no other role is created
    _, function = _function(stack)
    role_id = stack.get_logical_id(role.node.default_child)  # type: ignore[arg-type]
    assert function["Properties"]["Role"] == {"Fn::GetAtt": [role_id, "Arn"]}
    template.resource_count_is("AWS::IAM::Role", 1)
    # AND its policy allows publishing and logging, and the function waits for that policy only
    rendered = str(template.find_resources("AWS::IAM::Policy"))
    assert "codeartifact:PublishPackageVersion" in rendered
    assert "logs:PutLogEvents" in rendered
    assert role_id not in function["DependsOn"]


def test_a_handler_in_a_vpc(stack: cdk.Stack) -> None:
    # GIVEN a VPC reached only through endpoints (isolated subnets) and a security group
    vpc = ec2.Vpc.from_vpc_attributes(
        stack,
        "Vpc",
        vpc_id="vpc-1234",
        availability_zones=["us-east-1a", "us-east-1b"],
        isolated_subnet_ids=["subnet-1", "subnet-2"],
    )
    group = ec2.SecurityGroup.from_security_group_id(stack, "Group", "sg-1234")
    _version(
        stack,
        vpc=vpc,
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        security_groups=[group],
    )
    # THEN the function runs there, and its role may manage its network interfaces
    _, function = _function(stack)
    assert function["Properties"]["VpcConfig"] == {
        "SecurityGroupIds": ["sg-1234"],
        "SubnetIds": ["subnet-1", "subnet-2"],
    }
    (role,) = Template.from_stack(stack).find_resources("AWS::IAM::Role").values()
    assert "AWSLambdaVPCAccessExecutionRole" in str(role["Properties"]["ManagedPolicyArns"])


def test_vpc_subnets_and_security_groups_need_a_vpc(stack: cdk.Stack) -> None:
    with pytest.raises(
        ValidationError, match="vpc_subnets and security_groups apply only with vpc="
    ):
        _version(
            stack, vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        )


@pytest.mark.parametrize("vpc_first", [True, False])
def test_two_versions_asking_for_other_handler_settings_fail_synth_naming_the_first(
    stack: cdk.Stack, vpc_first: bool
) -> None:
    # GIVEN a stack whose first version puts the handler in a VPC (or not)
    vpc = ec2.Vpc.from_vpc_attributes(
        stack, "Vpc", vpc_id="vpc-1", availability_zones=["a"], isolated_subnet_ids=["s-1"]
    )
    first = {"vpc": vpc} if vpc_first else {}
    second = {} if vpc_first else {"vpc": vpc}
    _version(stack, "First", **first)
    # WHEN a second version asks for other settings of the one shared handler
    with pytest.raises(ValidationError) as caught:
        _version(stack, "Second", version="2", log_retention=logs.RetentionDays.ONE_DAY, **second)
    # THEN synth fails, naming the settings, the first version and the way out
    (problem,) = caught.value.problems
    assert "TestStack/Second" in str(caught.value)
    assert problem.startswith("vpc, log_retention: ")
    assert "TestStack/First" in problem
    assert "shares one handler function" in problem


def test_versions_giving_the_same_handler_settings_share_the_handler(stack: cdk.Stack) -> None:
    settings = {
        "log_retention": logs.RetentionDays.ONE_MONTH,
        "security_groups": None,
    }
    _version(stack, "A", **settings)
    _version(stack, "B", version="2", **settings)
    Template.from_stack(stack).resource_count_is("AWS::Lambda::Function", 1)


def test_the_old_call_without_warnings_still_synthesizes(stack: cdk.Stack) -> None:
    # the 0.1 keyword API, untouched: no deprecation warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _version(
            stack,
            status=VersionStatus.UNLISTED,
            removal_policy=cdk.RemovalPolicy.DESTROY,
            service_timeout=cdk.Duration.minutes(5),
        )
    Template.from_stack(stack).has_resource_properties(
        RESOURCE, {"Status": "Unlisted", "RemovalPolicy": "Destroy", "ServiceTimeout": "300"}
    )
