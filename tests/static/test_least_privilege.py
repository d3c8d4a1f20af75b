"""The handler role may do exactly what publishing needs, on exactly this stack's resources.

Read from the synthesized templates (what CloudFormation will create), with the expected ARNs
computed from the stacks' inputs. A domain encrypted with a customer managed KMS key needs no
KMS permission for the publisher: CodeArtifact encrypts with the grant it created on the key
at ``CreateDomain`` (the key policy allows ``kms:CreateGrant``/``kms:DescribeKey`` via
CodeArtifact), so the handler has none on the domain key; a bucket's key (``IBucket``'s
``encryption_key``) does get ``kms:Decrypt``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam

from codeartifact_generic import GenericPackageVersion, PackageAsset
from codeartifact_generic.bundling import HANDLER

from .apps import (
    ACCOUNT,
    ENV,
    FAST_CONTEXT,
    OTHER_ACCOUNT,
    REGION,
    CrossAccountStack,
    Expected,
    ManyVersionsStack,
    cross_account_version,
    domain_arn,
)
from .cfn import as_list, resolve
from .conftest import Synthesized, SynthesizedLibrary

PACKAGE_ACTIONS = {
    "codeartifact:PublishPackageVersion",
    "codeartifact:DescribePackageVersion",
    "codeartifact:ListPackageVersionAssets",
    "codeartifact:UpdatePackageVersionsStatus",
    "codeartifact:DeletePackageVersions",
    "codeartifact:DisposePackageVersions",
}
#: crhelper's polling (a version that may outlast one invocation).
POLLING_RULE_ACTIONS = {
    "events:PutRule",
    "events:PutTargets",
    "events:RemoveTargets",
    "events:DeleteRule",
    "events:ListTargetsByRule",
}
POLLING_PERMISSION_ACTIONS = {"lambda:AddPermission", "lambda:RemovePermission"}
ALLOWED_ACTIONS = (
    PACKAGE_ACTIONS
    | POLLING_RULE_ACTIONS
    | POLLING_PERMISSION_ACTIONS
    | {
        "codeartifact:DescribeRepository",
        "s3:GetObject",
        "s3:GetObjectVersion",
        "kms:Decrypt",
        "cloudformation:DescribeStacks",
        "cloudformation:DescribeStackEvents",
        "cloudformation:DescribeStackResource",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
)
STAGED_OBJECT = re.compile(
    rf"arn:aws:s3:::cdk-hnb659fds-assets-{ACCOUNT}-{REGION}/[0-9a-f]{{64}}\.\w+"
)


@dataclass
class Permissions:
    """The allowed (action -> resources) of one role, from every policy attached to it."""

    role_id: str
    by_action: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    statements: list[dict[str, Any]] = field(default_factory=list)
    #: Logical ids of the AWS::IAM::Policy resources attached to the role.
    policies: list[str] = field(default_factory=list)


def role_permissions(template: dict[str, Any], role_id: str) -> Permissions:
    resources = template["Resources"]
    role = resources[role_id]
    assert role["Type"] == "AWS::IAM::Role"
    # no managed policies (AWSLambdaBasicExecutionRole would allow logs:* on "*")
    assert "ManagedPolicyArns" not in role["Properties"], role["Properties"]
    found = Permissions(role_id)
    documents = [p["PolicyDocument"] for p in role["Properties"].get("Policies", [])]
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in resource[
            "Properties"
        ].get("Roles", []):
            found.policies.append(logical_id)
            documents.append(resource["Properties"]["PolicyDocument"])
    for document in documents:
        for statement in document["Statement"]:
            assert set(statement) <= {"Effect", "Action", "Resource", "Condition", "Sid"}, statement
            assert statement["Effect"] == "Allow"
            found.statements.append(statement)
            for action in as_list(statement["Action"]):
                found.by_action[action] |= {str(resolve(r)) for r in as_list(statement["Resource"])}
    return found


def handler_permissions(template: dict[str, Any]) -> tuple[Permissions, dict[str, Any]]:
    """The handler function's role permissions, and the function resource."""
    functions = [
        resource
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
        and resource["Properties"]["Handler"] == HANDLER
    ]
    assert len(functions) == 1, "one handler function per stack"
    function = functions[0]
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    return role_permissions(template, role_id), function


def _assert_common(template: dict[str, Any]) -> Permissions:
    """What holds for every stack: allowed actions only, no wildcard, own stack and logs."""
    permissions, function = handler_permissions(template)
    actions = set(permissions.by_action)
    assert actions <= ALLOWED_ACTIONS, actions - ALLOWED_ACTIONS
    assert PACKAGE_ACTIONS | {"codeartifact:DescribeRepository"} <= actions
    for action, resources in permissions.by_action.items():
        if action in POLLING_RULE_ACTIONS:
            continue  # below: their one wildcard is crhelper's rule-name suffix
        for resource in resources:
            assert "*" not in resource, f"{action} on {resource}"
    assert all("Condition" not in s for s in permissions.statements)
    _assert_polling(template, permissions, function)
    # its own stack only (status, events: when the resource was created, whether a running
    # Create was cancelled)
    for action in (
        "cloudformation:DescribeStacks",
        "cloudformation:DescribeStackEvents",
        "cloudformation:DescribeStackResource",
    ):
        assert permissions.by_action[action] == {"<StackId>"}
    # its own log group only, which keeps events for a bounded time
    log_group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    assert template["Resources"][log_group]["Type"] == "AWS::Logs::LogGroup"
    assert template["Resources"][log_group]["Properties"]["RetentionInDays"] > 0
    for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
        assert permissions.by_action[action] == {f"<GetAtt:{log_group}.Arn>"}
    return permissions


def _assert_polling(
    template: dict[str, Any], permissions: Permissions, function: dict[str, Any]
) -> None:
    """crhelper's polling: the rules named after the stack's version resources (plus the 8
    characters crhelper appends), the function's own resource policy, and a policy every
    version resource waits for."""
    resources = template["Resources"]
    versions = {
        logical_id
        for logical_id, resource in resources.items()
        if resource["Type"] == "Custom::CodeArtifactGenericPackageVersion"
    }
    rule = re.compile(r"arn:aws:events:[^:]+:[^:]+:rule/(\w+)\*")
    for action in POLLING_RULE_ACTIONS:
        named = {rule.fullmatch(arn) for arn in permissions.by_action[action]}
        assert None not in named, permissions.by_action[action]
        assert {m.group(1) for m in named if m} == versions, action
    function_id = next(k for k, v in resources.items() if v is function)
    for action in POLLING_PERMISSION_ACTIONS:
        assert permissions.by_action[action] == {f"<GetAtt:{function_id}.Arn>"}, action
    for logical_id in versions:
        depends_on = as_list(resources[logical_id].get("DependsOn", []))
        polling_policies = [d for d in depends_on if "PollingPermission" in d]
        assert len(polling_policies) == 1, (logical_id, depends_on)
        assert polling_policies[0] in permissions.policies


def _assert_exact(permissions: Permissions, expected: Expected, staged: set[str]) -> None:
    for action in PACKAGE_ACTIONS:
        assert permissions.by_action[action] == expected.package_arns, action
    assert permissions.by_action["codeartifact:DescribeRepository"] == expected.repository_arns
    # the staged objects (in the bootstrap bucket) and the named S3 objects, nothing else
    assert len(staged) == expected.staged_objects
    assert all(STAGED_OBJECT.fullmatch(arn) for arn in staged), staged
    assert permissions.by_action["s3:GetObject"] == (
        staged | expected.bucket_object_arns | expected.pinned_object_arns
    )
    assert permissions.by_action.get("s3:GetObjectVersion", set()) == expected.pinned_object_arns


def _assert_exact_for(
    library_app: SynthesizedLibrary, stack: ManyVersionsStack | CrossAccountStack
) -> Permissions:
    """The common rules, and exactly the ARNs ``stack`` expects (its staged objects too)."""
    permissions = _assert_common(library_app.template(stack.artifact_id))
    _assert_exact(permissions, stack.expected, _staged_objects(stack))
    return permissions


def _staged_objects(stack: cdk.Stack) -> set[str]:
    """ARNs of the objects of every staged (local) asset of the stack's versions."""
    return {
        str(resolve(stack.resolve(asset.object_arn)))
        for construct in stack.node.find_all()
        if isinstance(construct, GenericPackageVersion)
        for asset in construct.assets
        if asset.size is not None  # staged: its size is known at synth
    }


def test_example_app_handler_role_is_least_privilege(example_app: Synthesized) -> None:
    permissions = _assert_common(example_app.template("Packages"))
    package_arn = re.compile(
        rf"arn:aws:codeartifact:{REGION}:{ACCOUNT}:package/<Import:[^>]+>/<Import:[^>]+>"
        r"/generic/(tools/mycli|ml/model-bundle)"
    )
    for action in PACKAGE_ACTIONS:
        resources = permissions.by_action[action]
        assert len(resources) == 2
        assert all(package_arn.fullmatch(r) for r in resources), resources
    assert permissions.by_action["s3:GetObject"]
    assert all(STAGED_OBJECT.fullmatch(r) for r in permissions.by_action["s3:GetObject"])
    assert "kms:Decrypt" not in permissions.by_action


def test_many_versions_share_one_statement_per_kind_with_exact_arns(
    library_app: SynthesizedLibrary,
) -> None:
    assert library_app.stacks is not None
    permissions = _assert_exact_for(library_app, library_app.stacks.many)
    # 30 versions, 6 packages: the policies grow by ARNs, not by statements (five in the
    # default policy, two in the polling one)
    assert len(permissions.statements) == 7
    assert "kms:Decrypt" not in permissions.by_action


def test_s3_objects_and_kms_buckets(library_app: SynthesizedLibrary) -> None:
    assert library_app.stacks is not None
    stack = library_app.stacks.buckets
    template = library_app.template("BucketAssets")
    permissions = _assert_common(template)
    _assert_exact(permissions, stack.expected, set())
    # decrypt on the keys of the buckets the objects are in, nothing else
    bucket_key = stack.get_logical_id(stack.bucket_key.node.default_child)  # type: ignore[arg-type]
    assert permissions.by_action["kms:Decrypt"] == stack.expected.decrypt_key_arns | {
        f"<GetAtt:{bucket_key}.Arn>"
    }
    # the KMS-encrypted domain needs no KMS permission of the publisher
    domain_key = stack.get_logical_id(stack.domain_key.node.default_child)  # type: ignore[arg-type]
    granted = {r for resources in permissions.by_action.values() for r in resources}
    assert not any(domain_key in r for r in granted)
    kms_actions = {a for a in permissions.by_action if a.startswith("kms:")}
    assert kms_actions == {"kms:Decrypt"}


def test_a_domain_of_another_account_is_addressed_in_that_account(
    library_app: SynthesizedLibrary,
) -> None:
    assert library_app.stacks is not None
    permissions = _assert_exact_for(library_app, library_app.stacks.cross)
    for action in PACKAGE_ACTIONS | {"codeartifact:DescribeRepository"}:
        assert all(f":{OTHER_ACCOUNT}:" in r for r in permissions.by_action[action]), action


#: What downloading a version's assets needs (grant_read's default), on the package ARN.
DOWNLOAD_ACTIONS = {
    "codeartifact:DescribePackageVersion",
    "codeartifact:ListPackageVersionAssets",
    "codeartifact:GetPackageVersionAsset",
}
#: What ``package_manager_access=True`` adds.
PACKAGE_MANAGER_ACTIONS = {
    "codeartifact:ReadFromRepository",
    "codeartifact:GetRepositoryEndpoint",
    "codeartifact:GetAuthorizationToken",
    "sts:GetServiceBearerToken",
}


@dataclass
class Readers:
    """Two versions in another account's domain, granted to four roles."""

    stack: cdk.Stack
    versions: list[GenericPackageVersion]
    roles: dict[str, iam.Role]
    template: dict[str, Any]


@pytest.fixture(scope="module")
def readers(tmp_path_factory: pytest.TempPathFactory) -> Readers:
    app = cdk.App(outdir=str(tmp_path_factory.mktemp("readers") / "cdk.out"), context=FAST_CONTEXT)
    stack = cdk.Stack(app, "Readers", env=ENV)
    versions = [
        cross_account_version(stack, n, PackageAsset.from_data("tool.bin", f"tool {n}"))
        for n in range(2)
    ]
    roles = {
        name: iam.Role(stack, name, assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"))
        for name in ("Downloader", "OtherDownloader", "PackageManager", "OtherPackageManager")
    }
    for version in versions:  # both versions to the same role: one bearer-token policy
        version.grant_read(roles["Downloader"])
        version.grant_read(roles["PackageManager"], package_manager_access=True)
    versions[0].grant_read(roles["OtherDownloader"])
    versions[0].grant_read(roles["OtherPackageManager"], package_manager_access=True)
    template = app.synth().get_stack_by_name("Readers").template
    return Readers(stack, versions, roles, template)


def _reader_permissions(readers: Readers, role: str, versions: int) -> tuple[Permissions, set[str]]:
    """The role's permissions, and the ARNs of the packages granted to it."""
    logical_id = readers.stack.get_logical_id(readers.roles[role].node.default_child)  # type: ignore[arg-type]
    packages = {
        str(resolve(readers.stack.resolve(v.package_arn))) for v in readers.versions[:versions]
    }  # the versions' own ARNs, in the other account
    assert all(
        f":{OTHER_ACCOUNT}:package/shared-domain/releases/generic/tools/" in p for p in packages
    )
    return role_permissions(readers.template, logical_id), packages


@pytest.mark.parametrize(("role", "versions"), [("Downloader", 2), ("OtherDownloader", 1)])
def test_grant_read_is_exactly_the_download_actions_on_the_packages(
    readers: Readers, role: str, versions: int
) -> None:
    permissions, packages = _reader_permissions(readers, role, versions)
    # the three download actions on the granted packages, and nothing else: no repository-wide
    # ReadFromRepository, no authorization or bearer token, no wildcard, no condition
    assert dict(permissions.by_action) == dict.fromkeys(DOWNLOAD_ACTIONS, packages)
    assert all("Condition" not in s for s in permissions.statements)
    assert len(permissions.policies) == 1  # the role's default policy, no bearer-token policy


@pytest.mark.parametrize(("role", "versions"), [("PackageManager", 2), ("OtherPackageManager", 1)])
def test_package_manager_access_adds_the_endpoint_and_isolates_the_bearer_token_wildcard(
    readers: Readers, role: str, versions: int
) -> None:
    permissions, packages = _reader_permissions(readers, role, versions)
    # the download actions on the granted packages
    assert set(permissions.by_action) == DOWNLOAD_ACTIONS | PACKAGE_MANAGER_ACTIONS
    for action in DOWNLOAD_ACTIONS:
        assert permissions.by_action[action] == packages, action
    # the endpoint reads on the repository, the token on the domain (in the other account)
    repository = f"arn:aws:codeartifact:{REGION}:{OTHER_ACCOUNT}:repository/shared-domain/releases"
    for action in ("codeartifact:ReadFromRepository", "codeartifact:GetRepositoryEndpoint"):
        assert permissions.by_action[action] == {repository}, action
    assert permissions.by_action["codeartifact:GetAuthorizationToken"] == {
        domain_arn("shared-domain", OTHER_ACCOUNT)
    }
    # the only '*': sts:GetServiceBearerToken (no resource type), for CodeArtifact only, in a
    # policy of its own, once per role however many versions granted it
    wildcards = {a for a, rs in permissions.by_action.items() if any("*" in r for r in rs)}
    assert wildcards == {"sts:GetServiceBearerToken"}
    resources = readers.template["Resources"]
    bearer = [
        logical_id
        for logical_id in permissions.policies
        if "sts:GetServiceBearerToken" in str(resources[logical_id]["Properties"]["PolicyDocument"])
    ]
    assert len(bearer) == 1
    assert resources[bearer[0]]["Properties"]["PolicyDocument"]["Statement"] == [
        {
            "Action": "sts:GetServiceBearerToken",
            "Condition": {"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}},
            "Effect": "Allow",
            "Resource": "*",
        }
    ]
